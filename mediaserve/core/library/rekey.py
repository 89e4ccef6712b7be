"""The one-time migration of legacy ids (``sha256(path)``) to keyed ids.

Pure: the caller draws the secret and writes the result (atomically, see
``adapters.library.idsecret``). Returning the old -> new mapping lets callers carry anything
keyed by id across (and tests check it).
"""

from __future__ import annotations

import dataclasses

from mediaserve.core.library.ids import is_valid_secret, video_id
from mediaserve.core.library.index import LibraryIndex, VideoEntry


def needs_rekey(index: LibraryIndex) -> bool:
    """True for an index written before ids were keyed."""
    return index.id_secret is None


def rekey(index: LibraryIndex, secret: str) -> tuple[LibraryIndex, dict[str, str]]:
    """``index`` with ``secret`` and every entry's id recomputed from its path under it,
    plus ``{old id: new id}``. Everything else (settings, other tables) is kept."""
    if not is_valid_secret(secret):
        raise ValueError("an id secret is 64 lower-case hex digits")
    if index.id_secret is not None:
        raise ValueError("the index already has an id secret: ids are never recomputed")
    mapping: dict[str, str] = {}
    videos: dict[str, VideoEntry] = {}
    for old_id, entry in index.videos.items():
        new_id = video_id(entry.path, len(old_id), secret=secret)
        if new_id in videos:  # the same path twice (NFC and NFD spellings) or 2^-48 bad luck
            raise ValueError(f"id collision between {videos[new_id].path!r} and "
                             f"{entry.path!r} while re-keying ids")
        mapping[old_id] = new_id
        videos[new_id] = dataclasses.replace(entry, id=new_id)
    return dataclasses.replace(index, videos=videos, id_secret=secret), mapping
