"""The login form's decisions: where a login may send the browser next, and whether a posted
form came from our own login page.

``next`` is attacker-controlled (a link to ``/login?next=...``, or a hostile page posting the
form). Browsers do not navigate to the string they are given but to what the WHATWG URL
parser makes of it: it strips leading and trailing C0 controls and spaces, deletes every tab,
CR and LF anywhere, and reads a backslash as a slash. So ``/<TAB>/evil.example`` is
``//evil.example``, another host. A target is therefore accepted only when it is plain
printable ASCII that the parser leaves as it is, and that is a path on this server: one
leading ``/``, never ``//``. Control characters answer 400 (they cannot be a real link and
would break a ``Location`` header); anything else that is not such a path means ``/``.

A forged login (a hostile page posting the form, to log the victim into the attacker's
account or to bounce them through ``next``) is refused three ways: ``Sec-Fetch-Site:
cross-site``, an ``Origin`` naming another host, and a CSRF token - a hidden field that must
be the HMAC, under a secret of the server, of a random value the form put in a
``SameSite=Strict`` cookie. A client that sends no ``Origin`` (curl, scripts) must still show
the token, so it has to read the form first.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from urllib.parse import urlsplit

from mediaserve.core.http.auth import redact

LOGIN_PATH = "/login"
#: longer is no link anyone clicked; it is not worth a header
MAX_TARGET = 2048
CSRF_COOKIE = "mediaserve_csrf"
CSRF_FIELD = "csrf"
_CSRF_CONTEXT = b"mediaserve login form v1\0"
#: what ``secrets.token_urlsafe`` gives, at a sensible length
_NONCE_RE = re.compile(r"[A-Za-z0-9_-]{22,86}")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
#: printable ASCII but the backslash (the space is not printable here: browsers encode it)
_PLAIN_RE = re.compile(r"[!-\[\]-~]*")


class BadTarget(ValueError):
    """``next`` carries control characters: a 400, never a redirect."""


def login_target(value: str | None) -> str:
    """Where to send the browser after a login: ``value`` when it is a path on this server
    that a browser would follow unchanged, else ``/``. :class:`BadTarget` for control
    characters (tab, CR, LF and the rest of C0, DEL)."""
    if not value:
        return "/"
    if _CONTROL_RE.search(value):
        raise BadTarget("'next' must be a path on this server, without control characters")
    if (len(value) > MAX_TARGET or not value.startswith("/") or value.startswith("//")
            or not _PLAIN_RE.fullmatch(value)):
        return "/"
    path = value.partition("?")[0].partition("#")[0]
    if path == LOGIN_PATH:  # back to the form after logging in would look like a failure
        return "/"
    return redact(value)  # a ?token= in the page the user wanted stays out of the form


# --------------------------------------------------------------------------- forged posts


def _authority(text: str) -> tuple[str, int | None] | None:
    """(host name, port or None) of ``host[:port]``; None when it is not one."""
    if not text or any(c in text for c in "@/\\?#") or _CONTROL_RE.search(text):
        return None
    try:
        parts = urlsplit("//" + text)
        port = parts.port
    except ValueError:
        return None
    if not parts.hostname:
        return None
    return parts.hostname.rstrip("."), port


def _origin(origin: str) -> tuple[str, int] | None:
    """(host name, port) of a serialised origin ``scheme://host[:port]``."""
    scheme, sep, rest = origin.partition("://")
    scheme = scheme.lower()
    found = _authority(rest) if sep and scheme in ("http", "https") else None
    if found is None:
        return None
    host, port = found
    return host, port if port is not None else (443 if scheme == "https" else 80)


def forged_post(origin: str | None, fetch_site: str | None, host: str | None) -> str | None:
    """Why a ``POST /login`` is refused as sent from another site; None if it may be ours.

    ``Origin`` is compared with ``Host`` by host name, and by port when ``Host`` has one: a
    TLS proxy in front (``https`` outside, ``http`` here) or one that passes ``Host``
    without its port must not lock everyone out. No ``Origin`` at all is allowed (curl,
    scripts): the CSRF token still has to be right."""
    if fetch_site is not None and fetch_site.strip().lower() == "cross-site":
        return "the login form was posted from another site"
    if origin is None:
        return None
    theirs = _origin(origin.strip())
    ours = _authority((host or "").strip().lower())
    if theirs is None or ours is None or theirs[0] != ours[0]:
        return "the login form was posted from another site (Origin is not this server)"
    if ours[1] is not None and theirs[1] != ours[1]:
        return "the login form was posted from another site (Origin is not this server)"
    return None


def csrf_nonce_ok(nonce: str | None) -> bool:
    """Whether a CSRF cookie's value is one we could have set (else a new one is made)."""
    return nonce is not None and _NONCE_RE.fullmatch(nonce) is not None


def csrf_token(secret: bytes, nonce: str) -> str:
    """The hidden field that goes with the cookie ``nonce``: only the server can make it."""
    return hmac.new(secret, _CSRF_CONTEXT + nonce.encode("ascii"), hashlib.sha256).hexdigest()


def csrf_ok(secret: bytes, nonce: str | None, token: str | None) -> bool:
    """The form's field matches its cookie (constant time)."""
    if not csrf_nonce_ok(nonce) or not token:
        return False
    assert nonce is not None
    return hmac.compare_digest(token.encode("utf-8", "surrogatepass"),
                               csrf_token(secret, nonce).encode("ascii"))
