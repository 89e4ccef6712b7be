"""Subtitle tracks as served: read and converted once per file version, off the event loop.

A ``.srt`` is converted to WebVTT (``core/web/subtitles.py``, linear in its size) and a
``.vtt`` normalised. The read and the conversion run on one thread of their own: they never
hold the event loop, and a burst of track requests queues there instead of taking every
thread of the default executor (posters, index reloads). One thread also means a second
request for a track being converted finds it in the cache once the first is done.

The result is cached by the file's validators (device, inode, size, nanosecond mtime and
ctime: what the stream's ETag is made of), so a player reloading a page costs an ``fstat``;
the cache is bounded in entries and bytes. Answers carry an ETag (the file's validators and
the converter's version) and Last-Modified, so a browser revalidating gets a 304.
"""

from __future__ import annotations

import asyncio
import errno
import os
import stat
import threading
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from mediaserve.core.http.ranges import Validators, make_validators
from mediaserve.core.web.subtitles import normalise_vtt, srt_to_vtt

#: subtitle files larger than this are refused (a real one is < 1 MB)
MAX_SUBTITLE_BYTES = 8 * 1024 * 1024
#: converted tracks kept: entries and bytes (a film's track is ~100 KB; per worker process)
CACHE_ENTRIES = 128
CACHE_BYTES = 16 * 1024 * 1024
#: part of every ETag: output of an older converter is never revalidated as current
CONVERTER_VERSION = 2


class SubtitleTooLarge(ValueError):
    """The file is over :data:`MAX_SUBTITLE_BYTES`."""


@dataclass(frozen=True, slots=True)
class Track:
    """One converted track: the WebVTT bytes and the validators to answer with."""

    body: bytes
    validators: Validators | None  # None: the file changed while it was read


def decode_subtitle(data: bytes) -> str:
    """UTF-8 (a BOM is dropped), else Windows-1252, which older ``.srt`` files often are."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def convert(name: str, text: str) -> str:
    return srt_to_vtt(text) if name.lower().endswith(".srt") else normalise_vtt(text)


def _key(relpath: str, info: os.stat_result) -> tuple[Any, ...]:
    return (relpath, info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns,
            info.st_ctime_ns)


class SubtitleTracks:
    """Tracks of one library, read beneath its root by ``opener`` (a ``RootOpener``)."""

    def __init__(self, opener: Any) -> None:
        self._opener = opener
        self._pool: ThreadPoolExecutor | None = None  # made on first use: after a fork
        self._cache: OrderedDict[tuple[Any, ...], Track] = OrderedDict()
        self._cached_bytes = 0
        self._lock = threading.Lock()

    async def get(self, relpath: str) -> Track:
        """The track for the subtitle file at ``relpath``. Raises OSError (FileNotFoundError
        when it is gone) or :class:`SubtitleTooLarge`."""
        if self._pool is None:
            self._pool = ThreadPoolExecutor(1, thread_name_prefix="mediaserve-subtitles")
        return await asyncio.get_running_loop().run_in_executor(self._pool, self.load,
                                                                relpath)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    def load(self, relpath: str) -> Track:
        """Read, convert and cache (blocking: runs on the tracks' thread)."""
        fd = self._opener.open(relpath)
        with os.fdopen(fd, "rb") as handle:
            before = os.fstat(fd)
            if not stat.S_ISREG(before.st_mode):  # a FIFO or a device swapped in
                raise OSError(errno.EINVAL, "not a regular file")
            if before.st_size > MAX_SUBTITLE_BYTES:
                raise SubtitleTooLarge("the subtitle file is too large")
            key = _key(relpath, before)
            with self._lock:
                track = self._cache.get(key)
                if track is not None:
                    self._cache.move_to_end(key)
                    return track
            data = handle.read(MAX_SUBTITLE_BYTES + 1)
            after = os.fstat(fd)
        if len(data) > MAX_SUBTITLE_BYTES:
            raise SubtitleTooLarge("the subtitle file is too large")
        body = convert(relpath, decode_subtitle(data)).encode("utf-8")
        if _key(relpath, after) != key:  # written to while being read: which version the
            return Track(body, None)  # bytes are is unknown, so they get no validators
        file = make_validators(after.st_size, after.st_mtime_ns, after.st_ino,
                               after.st_ctime_ns)
        track = Track(body, Validators(len(body), after.st_mtime_ns,
                                       f'"vtt{CONVERTER_VERSION}-{file.etag[1:]}',
                                       file.last_modified, file.last_modified_s))
        self._store(key, track)
        return track

    def _store(self, key: tuple[Any, ...], track: Track) -> None:
        size = len(track.body)
        if size > CACHE_BYTES // 2:
            return
        with self._lock:
            if key in self._cache:
                return
            self._cache[key] = track
            self._cached_bytes += size
            while len(self._cache) > CACHE_ENTRIES or self._cached_bytes > CACHE_BYTES:
                _old_key, old = self._cache.popitem(last=False)
                self._cached_bytes -= len(old.body)

    @property
    def cached(self) -> int:
        """Tracks in the cache (for tests and the curious)."""
        return len(self._cache)
