"""The on-disk segment cache: where a variant's files live, and the LRU that caps its size.

Layout: ``ROOT/VIDEO-ID/VERSION/VARIANT/{init.mp4,seg-N.m4s}`` plus ``VERSION/analysis.json``
(the keyframe index and codecs). VERSION hashes the file's identity (size, mtime_ns, inode)
and ``ENGINE_VERSION`` (what producers write), so a replaced file or a newer producer gets
new folders and stale bytes are never served; older versions of a video are removed when a
new one is made. ROOT is ``--cache-dir`` or the data folder's cache, never the library.

The LRU counts segments only (init segments and analyses are tiny and needed by every
request). It is rebuilt at start from the folder (in an executor: a large cache is many
stats), ordered by mtime, so it survives restarts; uses move a segment to the young end in
memory only (no write per hit). Eviction unlinks the oldest segments until the total is
under the cap again; a segment being sent keeps its bytes (an open file outlives unlink).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import shutil
import time
from collections import OrderedDict
from pathlib import Path

from mediaserve.adapters.data_dir import data_dir
from mediaserve.adapters.playback.jobs import ENGINE_VERSION

#: a temporary file older than this is a killed producer's, not one being written
STALE_TMP_S = 600.0

SEGMENT_SUFFIX = ".m4s"
KEEP_NEWEST = 4


def cache_folder(library_root: str, cache_dir: str = "") -> Path:
    """``cache_dir`` (--cache-dir), else this library's folder in the data folder's cache:
    the server and ``mediaserve prepare`` find the same segments."""
    if cache_dir:
        return Path(cache_dir)
    real = os.path.realpath(library_root)
    digest = hashlib.sha256(real.encode("utf-8", "surrogateescape")).hexdigest()[:12]
    return data_dir() / "cache" / digest / "hls"


def version_key(size: int, mtime_ns: int, inode: int) -> str:
    """The folder name of one version of a file's converted bytes."""
    text = f"{size}:{mtime_ns}:{inode}:{ENGINE_VERSION}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class SegmentCache:
    """Segments on disk under ``root``, at most ``cap`` bytes of them (LRU)."""

    def __init__(self, root: Path, cap: int) -> None:
        self.root = root
        self.cap = cap
        self._lru: OrderedDict[str, int] = OrderedDict()
        self.total = 0
        self.hits = 0
        self.misses = 0
        self.evicted = 0
        self._ready = False
        #: the newest segments are never evicted: they were just written for a request
        #: that is about to send them (a cap smaller than a few segments would race it)
        self.keep = KEEP_NEWEST

    # -- start -------------------------------------------------------------------------

    def _scan(self) -> list[tuple[float, str, int]]:
        found = []
        for folder, _dirs, files in os.walk(self.root):
            for name in files:
                if not name.endswith(SEGMENT_SUFFIX):
                    if name.endswith(".tmp"):  # a producer killed mid-write (one that
                        # is writing now, of `prepare` beside us, is minutes younger)
                        with contextlib.suppress(OSError):
                            stale = os.path.join(folder, name)
                            if time.time() - os.stat(stale).st_mtime > STALE_TMP_S:
                                os.unlink(stale)
                    continue
                path = os.path.join(folder, name)
                with contextlib.suppress(OSError):
                    info = os.stat(path)
                    found.append((info.st_mtime, path, info.st_size))
        found.sort()
        return found

    async def start(self) -> None:
        """Rebuild the LRU from the folder, off the event loop."""
        loop = asyncio.get_running_loop()
        for _mtime, path, size in await loop.run_in_executor(None, self._scan):
            if path not in self._lru:
                self._lru[path] = size
                self.total += size
        self._ready = True
        await self.evict()

    # -- folders -----------------------------------------------------------------------

    def version_dir(self, video_id: str, version: str) -> Path:
        return self.root / video_id / version

    def prepare_version(self, video_id: str, version: str) -> tuple[Path, list[str]]:
        """Make the version's folder and remove the video's older versions (blocking I/O:
        run it in an executor); returns the folder and the removed ones, which the caller
        hands to :meth:`forget` on the event loop (the LRU is the loop's)."""
        folder = self.version_dir(video_id, version)
        removed = []
        if not folder.is_dir():
            folder.mkdir(parents=True, exist_ok=True)
            for old in (self.root / video_id).iterdir():
                if old.name != version:
                    removed.append(str(old))
                    shutil.rmtree(old, ignore_errors=True)
        return folder, removed

    def forget(self, prefix: str) -> None:
        prefix = prefix.rstrip("/") + "/"
        for path in [p for p in self._lru if p.startswith(prefix)]:
            self.total -= self._lru.pop(path)

    # -- use ---------------------------------------------------------------------------

    def used(self, path: str, hit: bool) -> None:
        """A request found (``hit``) or waited for a segment: count it, make it young."""
        if hit:
            self.hits += 1
        else:
            self.misses += 1
        if path in self._lru:
            self._lru.move_to_end(path)

    def added(self, path: str, size: int) -> None:
        """A producer wrote a segment."""
        self.total += size - self._lru.pop(path, 0)
        self._lru[path] = size

    def _unlink_oldest(self) -> list[str]:
        gone = []
        while self.total > self.cap and len(self._lru) > self.keep:
            path, size = self._lru.popitem(last=False)
            self.total -= size
            gone.append(path)
        return gone

    async def evict(self) -> None:
        """Unlink the least recently used segments until the total fits the cap."""
        if not self._ready or self.total <= self.cap:
            return
        gone = self._unlink_oldest()
        self.evicted += len(gone)

        def unlink_all() -> None:
            for path in gone:
                with contextlib.suppress(OSError):
                    os.unlink(path)

        await asyncio.get_running_loop().run_in_executor(None, unlink_all)

    def snapshot(self) -> dict[str, int | float | None]:
        asked = self.hits + self.misses
        return {"bytes": self.total, "cap": self.cap, "segments": len(self._lru),
                "hits": self.hits, "misses": self.misses, "evicted": self.evicted,
                "hit_ratio": round(self.hits / asked, 4) if asked else None}
