"""The content key of a video file: its size and a hash of its first and last MiB.

Shared by the audit (duplicates) and the scanner and watcher (a moved file keeps its id):
equal keys mean identical content for all practical purposes, at the cost of at most 2 MiB
read per file, which for MP4s is mostly what probing just read anyway.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

HASH_SPAN = 1 << 20  # bytes hashed at each end of the file


def content_key(path: str | Path, size: int, span: int = HASH_SPAN) -> tuple[int, str]:
    """(size, BLAKE2b of the first and last ``span`` bytes); ``size`` as stat saw it."""
    digest = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as handle:
        if size <= 2 * span:
            digest.update(handle.read())
        else:
            digest.update(handle.read(span))
            handle.seek(size - span)
            digest.update(handle.read(span))
    return size, digest.hexdigest()
