"""The catalog's listing, encoded once per version and coding, off the event loop.

A 10,000-video listing is ~5 MB of JSON: building it took 0.1 s of the event loop per
request, so a few clients polling it delayed every stream (seeks waited ~0.4 s, the loop was
held for up to a second). Each catalog version is serialised once, in an executor thread
when the library is large, and each coding (identity, gzip, brotli if the module happens to
be installed) is produced once, on first demand. The work in the thread is cut into small C
calls (one ``json.dumps`` per video, then a join): a single ``json.dumps`` of the whole list
would keep the GIL for its whole 50-100 ms and hold the loop just the same from another
thread. zlib and hashlib release the GIL on big buffers.

The cache belongs to a :class:`~.catalog.Catalog` instance: a reloaded library is a new
catalog, hence a new cache; presence changes bump the catalog's version. The HTTP answer
(ETag, 304, the coding a client accepts) is ``api/listing.py``'s.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import json
from collections.abc import Callable
from typing import Any

try:  # optional: only when someone installed it anyway (no dependency for ~15 % smaller)
    import brotli  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover - depends on the environment
    brotli = None

#: codings we can produce, in our order of preference when the client weighs them equally
CODINGS: tuple[str, ...] = ("br", "gzip") if brotli is not None else ("gzip",)
#: up to this many videos the listing is built on the loop: the executor hop costs more
INLINE_MAX_VIDEOS = 256
_GZIP_LEVEL = 6  # 5 MB of JSON: ~40 ms in the thread, ~12x smaller
_BROTLI_QUALITY = 5  # quality 11 would take seconds on 5 MB


def encode_document(videos: list[dict[str, Any]]) -> bytes:
    """``{"count": N, "videos": [...]}`` as UTF-8, one small ``json.dumps`` per video so a
    thread running this lets the event loop in between (see the module docstring)."""
    items = ", ".join([json.dumps(video, ensure_ascii=False) for video in videos])
    return f'{{"count": {len(videos)}, "videos": [{items}]}}'.encode()


def _compress(data: bytes, coding: str) -> bytes:
    if coding == "gzip":
        return gzip.compress(data, compresslevel=_GZIP_LEVEL, mtime=0)
    if coding == "br" and brotli is not None:
        return bytes(brotli.compress(data, quality=_BROTLI_QUALITY))
    raise ValueError(f"cannot encode {coding}")


class ListingCache:
    """Encoded listing bodies for the current version of one catalog.

    ``produce()`` is ``Catalog.listing`` (the one place the listing's content is decided);
    ``version()`` changes whenever what it returns would change. Concurrent requests for a
    version still being encoded wait for the same job instead of starting their own.
    """

    def __init__(self, produce: Callable[[], list[dict[str, Any]]],
                 version: Callable[[], int], size: Callable[[], int]) -> None:
        self._produce = produce
        self._version = version
        self._size = size
        self._cached_version: int | None = None
        self._jobs: dict[str, asyncio.Future[bytes]] = {}
        self.etag_base = ""
        #: how many times the listing was serialised (tests count it)
        self.serialisations = 0

    def _encode_identity(self) -> bytes:
        self.serialisations += 1
        data = encode_document(self._produce())
        self.etag_base = hashlib.blake2b(data, digest_size=12).hexdigest()
        return data

    async def _run(self, func: Callable[[], bytes]) -> bytes:
        if self._size() <= INLINE_MAX_VIDEOS:
            return func()
        return await asyncio.get_running_loop().run_in_executor(None, func)

    async def _make(self, coding: str) -> bytes:
        if coding == "identity":
            return await self._run(self._encode_identity)
        identity = await self.body("identity")
        return await self._run(lambda: _compress(identity, coding))

    async def body(self, coding: str) -> bytes:
        """The listing in ``coding``, encoded at most once per catalog version."""
        version = self._version()
        if version != self._cached_version:
            self._cached_version, self._jobs = version, {}
        jobs = self._jobs
        job = jobs.get(coding)
        if job is None:
            job = jobs[coding] = asyncio.ensure_future(self._make(coding))
            job.add_done_callback(lambda done: done.cancelled() or done.exception() is None
                                  or jobs.pop(coding, None))  # a failure is not cached
        # shield: a client that goes away must not cancel the job others are waiting for
        return await asyncio.shield(job)

    def etags(self) -> tuple[str, ...]:
        """Every tag of the current version (one per coding), for If-None-Match."""
        return tuple(self.etag(coding) for coding in ("identity", *CODINGS))

    def etag(self, coding: str) -> str:
        suffix = "" if coding == "identity" else f"-{coding}"
        return f'"{self.etag_base}{suffix}"'
