"""Stable video ids.

An id is derived from the path *relative to the library root* only, so it survives a rescan
and a move of the whole library to another disk or machine, and it never exposes a path in
a URL. Unicode is NFC-normalised because macOS writes NFD names: the same file copied from
a Mac must keep its id.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

ID_LENGTH = 12
_ID_RE = re.compile(r"^[0-9a-f]{12,64}$")


def video_id(relpath: str, length: int = ID_LENGTH) -> str:
    """The id of the file at ``relpath`` (POSIX separators, relative to the root)."""
    normal = unicodedata.normalize("NFC", relpath.replace("\\", "/"))
    return hashlib.sha256(normal.encode("utf-8")).hexdigest()[:length]


def is_valid_id(text: str) -> bool:
    """Cheap syntactic check used before any lookup, so hostile ids never reach a dict."""
    return bool(_ID_RE.fullmatch(text))
