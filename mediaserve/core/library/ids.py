"""Stable video ids that cannot be guessed from paths.

An id is made when a file is first indexed, from its path *relative to the library root*,
keyed with the library's random ``id_secret`` (HMAC-SHA256): it survives a rescan and a move
of the whole library, it never exposes a path in a URL, and, unlike a plain hash of the
path, nobody without the index can compute it, so a web page cannot probe whether
``Movies/x.mp4`` exists by requesting its id. Ids are stored per entry and never recomputed
from the path afterwards. Unicode is NFC-normalised because macOS writes NFD names.

Indexes written before the secret existed used ``sha256(path)[:12]`` (``secret=None``); they
are given a secret and re-keyed once (``core.library.rekey``).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata

ID_LENGTH = 12
ID_SECRET_BYTES = 32
_ID_RE = re.compile(r"^[0-9a-f]{12,64}$")
_SECRET_RE = re.compile(r"^[0-9a-f]{64}$")


def video_id(relpath: str, length: int = ID_LENGTH, *, secret: str | None = None) -> str:
    """The id of the file at ``relpath`` (POSIX separators, relative to the root), keyed
    with ``secret`` (hex, see :func:`is_valid_secret`); ``None`` gives the legacy,
    guessable id that old indexes hold."""
    normal = unicodedata.normalize("NFC", relpath.replace("\\", "/")).encode("utf-8")
    if secret is None:
        return hashlib.sha256(normal).hexdigest()[:length]
    return hmac.new(bytes.fromhex(secret), normal, hashlib.sha256).hexdigest()[:length]


def is_valid_secret(text: object) -> bool:
    """An id secret as the index stores it: 32 bytes as 64 lower-case hex digits."""
    return isinstance(text, str) and bool(_SECRET_RE.fullmatch(text))


def is_valid_id(text: str) -> bool:
    """Cheap syntactic check used before any lookup, so hostile ids never reach a dict."""
    return bool(_ID_RE.fullmatch(text))
