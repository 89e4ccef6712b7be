"""The cookie that says which profile a browser chose (without ``--auth-users``).

``1.PROFILE_ID.MAC``: the MAC is HMAC-SHA256 under a secret kept in the state store, over
the profile id and the profile's PIN hash. So a client cannot name another profile (it would
need the secret), and setting, changing or removing a PIN makes the cookies issued before
it useless: whoever chose the profile must give the new PIN. The cookie grants nothing the
server's own authentication does not: it only picks whose history a request reads and
writes.
"""

from __future__ import annotations

import hashlib
import hmac
import re

COOKIE_NAME = "mediaserve_profile"
#: how long a browser keeps it (Chromium caps cookies at 400 days)
MAX_AGE_S = 400 * 24 * 3600
PROFILE_ID_RE = re.compile(r"[0-9a-f]{16}")
_CONTEXT = b"mediaserve profile cookie v1\0"
_VERSION = "1"


def _mac(secret: bytes, profile_id: str, pin_hash: str | None) -> str:
    message = _CONTEXT + profile_id.encode("ascii") + b"\0" + (pin_hash or "").encode("ascii")
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def sign(secret: bytes, profile_id: str, pin_hash: str | None) -> str:
    """The cookie value naming ``profile_id``."""
    if not PROFILE_ID_RE.fullmatch(profile_id):
        raise ValueError("not a profile id")
    return f"{_VERSION}.{profile_id}.{_mac(secret, profile_id, pin_hash)}"


def claimed_profile(value: str | None) -> str | None:
    """The profile id a cookie value names, if it has the right form (not yet verified:
    the caller looks the profile up, then checks with :func:`verify`)."""
    if not value:
        return None
    parts = value.split(".")
    if len(parts) != 3 or parts[0] != _VERSION or not PROFILE_ID_RE.fullmatch(parts[1]):
        return None
    return parts[1]


def verify(secret: bytes, value: str, profile_id: str, pin_hash: str | None) -> bool:
    """Whether ``value`` is the cookie :func:`sign` gives for this profile and PIN hash
    (constant time)."""
    if claimed_profile(value) != profile_id:
        return False
    return hmac.compare_digest(value.encode("ascii", "replace"),
                               sign(secret, profile_id, pin_hash).encode("ascii"))
