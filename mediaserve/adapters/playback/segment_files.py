"""Cached HLS files, found without an executor hop: what the stream fast path (and the
aiohttp route, first) sends when a segment is already made.

A segment URL names one version of its video (``?v=``, the cache folder of the file's size,
mtime and inode: ``cache.version_key``). To send a cached segment the server must know that
the video is still that version; the route learnt it by opening the video beneath the root
in an executor, reading its analysis and building the variant's job, ~700 µs of a request
whose answer is a file. Here it costs what a stream's does: the video is leased from the
server's open-descriptor table (``site/open_files.py``: a ``stat`` of its path on the loop,
or a fresh ``openat2`` beneath the root when the descriptor is older than its reuse window),
its identity gives the version, and the segment itself is leased from a second table
rooted at the cache folder (``openat2(RESOLVE_BENEATH)`` there: nothing outside the cache;
the parts of its path are checked names: a hex id, a variant's name, ``init.mp4`` or
``seg-N.m4s``, the version computed here).

Anything else is not found here (None), and the caller falls back to the route's full
path: a variant the video cannot have, a stale or missing ``v``, a file not made yet (the
route waits for a producer), a video that cannot be opened (the route says why). A file
in a version's folder was made by that version's job, so its number is in range and its
variant is the video's; the answer is the one the route would give.
"""

from __future__ import annotations

import os
from typing import Any

from mediaserve.adapters.playback.cache import SegmentCache, version_key
from mediaserve.adapters.server.site.catalog import Video
from mediaserve.adapters.server.site.open_files import OpenFiles
from mediaserve.adapters.server.site.safe_open import RootOpener
from mediaserve.core.library.index import MediaFacts
from mediaserve.core.playback.decide import audio_tracks
from mediaserve.core.playback.segments import ladder

SEGMENT_TYPE = "video/iso.segment"
INIT_TYPE = "video/mp4"


def has_variant(facts: MediaFacts, variant: str) -> bool:
    """Whether a video with these recorded facts can have ``variant`` at all."""
    if facts.video_codec is None and not audio_tracks(facts):
        return False
    return variant in ("remux", "audio") or any(
        r.name == variant for r in ladder(facts.width, facts.height))


class SegmentFiles:
    """Leases of cached HLS files of one server process (``ServerState.segments``)."""

    def __init__(self, state: Any, cache: SegmentCache) -> None:
        self.state = state  # the server's ServerState: settings, the video descriptors
        self.cache = cache
        self.root = str(cache.root)
        self._files: OpenFiles | None = None
        self.found = 0  # files leased (tests, benchmarks)

    def _table(self) -> OpenFiles | None:
        if self._files is None:
            try:
                self._files = OpenFiles(RootOpener(self.root))
            except OSError:  # no cache folder yet: nothing is cached
                return None
        return self._files

    def lease(self, video: Video, variant: str, name: str, version: str
              ) -> tuple[int, os.stat_result, str] | None:
        """The cached ``name`` of ``variant`` of ``video`` at ``version``, open, with its
        ``stat`` and content type; None when it is not there to send as it is."""
        entry = video.entry
        if not self.state.settings.transcode or not has_variant(entry.facts, variant):
            return None
        files = self.state.files
        try:
            fd, info = files.lease(entry.path)  # beneath the root, as a stream opens it
        except (OSError, ValueError):
            return None
        files.release(fd)
        if version != version_key(info.st_size, info.st_mtime_ns, info.st_ino):
            return None  # a playlist of an older file (or no such version): the route's 404
        table = self._table()
        if table is None:
            return None
        relative = f"{entry.id}/{version}/{variant}/{name}"
        try:
            fd, info = table.lease(relative)
        except (OSError, ValueError):
            return None  # not made yet, or evicted: the route makes it
        self.found += 1
        self.cache.used(f"{self.root}/{relative}", hit=True)
        return fd, info, INIT_TYPE if name == "init.mp4" else SEGMENT_TYPE

    def release(self, fd: int) -> None:
        if self._files is not None:
            self._files.release(fd)

    def close(self) -> None:
        if self._files is not None:
            self._files.close_all()
            self._files.opener.close()
            self._files = None

