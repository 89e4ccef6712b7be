"""Which requests may change a profile's state: our own pages and non-browser clients, never
a page of another site.

A hostile page cannot read our answers, but it can *send* requests: a form POST, a
``fetch(..., {mode: "no-cors"})`` with a ``text/plain`` body, a ``sendBeacon``. Browsers send
the cookie (SameSite=Lax still sends it to another port of the same host, which is the same
*site*) and, with ``--auth-users``, cached Basic credentials. So the state-changing routes
look at what every browser adds and a page cannot forge:

1. ``Sec-Fetch-Site`` (Chromium 76, Firefox 90, Safari 16.4): ``same-origin`` is our page,
   ``none`` the user's own action; ``same-site`` and ``cross-site`` are other pages and are
   refused, unless their ``Origin`` is one the operator listed with ``--cors-origin``.
2. Without it (an older browser), the ``Origin`` header: it must be our own origin or a
   listed one; ``Origin: null`` (sandboxed frames, some redirects) is refused.
3. Neither header: not a browser (curl, a script, the CLI): allowed, since no page can make
   a browser send a POST without ``Origin``.

``sendBeacon`` from our own page is ``same-origin`` with our ``Origin``: it passes.
"""

from __future__ import annotations

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_OWN_SITE = frozenset({"same-origin", "none"})


def cross_site_refusal(method: str, sec_fetch_site: str | None, origin: str | None,
                       own_origin: str, trusted: tuple[str, ...] = ()) -> str | None:
    """None when the request may change state, else the reason for a 403.

    ``own_origin`` is ``scheme://host[:port]`` as the request reached us; ``trusted`` the
    ``--cors-origin`` list."""
    if method.upper() in SAFE_METHODS:
        return None
    given = origin.strip().rstrip("/").lower() if origin is not None else None
    listed = given is not None and given in {o.lower() for o in trusted}
    if sec_fetch_site is not None:
        site = sec_fetch_site.strip().lower()
        if site in _OWN_SITE or listed:
            return None
        return (f"refused a {site or 'unlabelled'} request: profile state changes only from "
                "this server's own pages")
    if given is None:
        return None
    if given == own_origin.lower() or listed:
        return None
    return f"refused a request from origin {given[:100]!r}: not this server's own pages"
