"""A profile's PIN: kept as a salted hash, and wrong guesses slowed down.

The PIN keeps a child from wandering into a parent's history; it is **not** a security
boundary. Four to eight digits are at most 10^8 values, so no hash makes a stolen store
slow to search, and anyone who can read the store or the server's files can read the
history anyway. The hash is therefore a fast HMAC-SHA256 under a random salt per PIN: it
keeps the PIN itself out of the store, its exports and backups (people reuse PINs), without
costing the server scrypt's 50 ms per try. What stops guessing at the door is the
per-profile lockout below, counted in the store so that every server process shares it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re

from mediaserve.core.profiles.rules import RuleError

_PIN_RE = re.compile(r"[0-9]{4,8}")
_SCHEME = "hs256"
#: wrong PINs allowed before the waits start, the first wait, and the longest
FREE_TRIES = 5
FIRST_WAIT_S = 30.0
MAX_WAIT_S = 900.0


def check_pin(value: object) -> str:
    """A PIN is 4 to 8 ASCII digits, sent as a string (a JSON number loses leading zeros)."""
    if not isinstance(value, str) or not _PIN_RE.fullmatch(value):
        raise RuleError("a PIN is 4 to 8 digits, as a string")
    return value


def hash_pin(pin: str, salt: bytes) -> str:
    """``hs256$SALT$MAC`` (base64 salt, hex HMAC-SHA256 of the PIN under the salt)."""
    mac = hmac.new(salt, pin.encode("ascii"), hashlib.sha256).hexdigest()
    return f"{_SCHEME}${base64.b64encode(salt).decode('ascii')}${mac}"


def valid_pin_hash(stored: str) -> bool:
    """Whether ``stored`` has the form :func:`hash_pin` writes (an import is checked)."""
    parts = stored.split("$")
    if len(parts) != 3 or parts[0] != _SCHEME or not re.fullmatch(r"[0-9a-f]{64}", parts[2]):
        return False
    try:
        return 8 <= len(base64.b64decode(parts[1], validate=True)) <= 64
    except (binascii.Error, ValueError):
        return False


def verify_pin(pin: str, stored: str) -> bool:
    """Constant-time check of ``pin`` against a :func:`hash_pin` value."""
    if not valid_pin_hash(stored):
        return False
    _scheme, salt, mac = stored.split("$")
    expected = hmac.new(base64.b64decode(salt), pin.encode("utf-8", "surrogatepass"),
                        hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, mac)


def wait_after(failures: int) -> float:
    """Seconds the next try must wait after ``failures`` wrong PINs in a row: none for the
    first five (a child mistyping), then 30 s doubling up to 15 minutes. Ten thousand
    four-digit PINs then take months to walk through, and a household member who forgot a
    PIN is never locked out for good (``mediaserve profiles`` can reset it)."""
    if failures < FREE_TRIES:
        return 0.0
    return min(MAX_WAIT_S, FIRST_WAIT_S * 2.0 ** min(failures - FREE_TRIES, 16))
