"""One answer of the stream endpoint, whichever way the request reached it.

A stream request is answered by the connection itself (``fast.py``: a plain ``GET``/``HEAD``
on plain TCP) or by aiohttp's route (``route.py``: TLS, ``--no-fast-path``, ``--no-sendfile``
and the requests the fast path declines). Both build a :class:`StreamJob`: one ``openat2``
beneath the root and one ``fstat`` (on the loop: microseconds against the page cache, cheaper
than an executor hop), one plan from the pure evaluator
(:func:`mediaserve.core.http.ranges.evaluate`), one list of header fields
(:func:`mediaserve.core.http.response.stream_fields`), one body writer (:meth:`send`: each
part's preamble and span, by ``sendfile`` or in bounded chunks, under the send timeout) and one
policy for a body that cannot be finished (:meth:`abandon`). Only the header section's
serialisation differs: the fast path writes its own bytes, aiohttp writes the same fields
(the tests compare the two byte for byte).

The descriptor is closed exactly once, on every path (:meth:`close`).
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
from collections.abc import Awaitable, Callable
from typing import Protocol

from mediaserve.adapters.server.net.sendtimeout import SendTimeout, reset_on_close
from mediaserve.adapters.server.site.catalog import Video
from mediaserve.adapters.server.site.open_files import NotAFile
from mediaserve.adapters.server.site.safe_open import OutsideRoot
from mediaserve.adapters.server.site.state import ServerState
from mediaserve.adapters.server.stream.sendfile import (
    Meter,
    ShortFile,
    send_span,
    write_span_chunked,
)
from mediaserve.core.http import ranges
from mediaserve.core.http.pacing import Pacer
from mediaserve.core.stats import Hit

#: a single span up to this size is read with one ``pread`` and leaves *with the headers* in
#: one write: one syscall and one TCP segment fewer than headers + ``sendfile``, which for a
#: probe (``bytes=0-1``) or a seek's first read is most of the kernel's work (RESULTS.md)
SMALL_BODY = 16 * 1024

log = logging.getLogger("mediaserve")

#: what resolving a path that is not (or no longer) a file beneath the root fails with: the
#: client's answer is 404, whatever the race (EINVAL: a symlink swapped mid-resolution)
_PATH_GONE = frozenset((errno.ENOENT, errno.ENOTDIR, errno.ELOOP, errno.EISDIR, errno.EINVAL,
                        errno.ENAMETOOLONG, errno.EXDEV))

#: writes one chunk with back-pressure (aiohttp's ``response.write`` on the chunked path)
ChunkWriter = Callable[[bytes], Awaitable[None]]
#: an instance without its ``__init__`` (see StreamJob)
_bare = object.__new__


class Served(Protocol):
    """What a job needs of the file it answers with: a library video (``catalog.Video``),
    or a file the server made (an HLS segment: ``ProducedFile``)."""

    @property
    def content_type(self) -> str: ...

    @property
    def disposition(self) -> str: ...

    @property
    def stats_id(self) -> str | None: ...  # counted in the streaming statistics under it

    def validators(self, size: int, mtime_ns: int, inode: int = 0,
                   ctime_ns: int = 0) -> ranges.Validators: ...


class ProducedFile:
    """A file the server made (a cached HLS segment): served like a video, not counted in
    the video's streaming statistics (the playback service counts its own)."""

    __slots__ = ("content_type", "disposition")
    stats_id = None

    def __init__(self, content_type: str, disposition: str = "inline") -> None:
        self.content_type = content_type
        self.disposition = disposition

    def validators(self, size: int, mtime_ns: int, inode: int = 0,
                   ctime_ns: int = 0) -> ranges.Validators:
        return ranges.make_validators(size, mtime_ns, inode, ctime_ns)


class Refused(Exception):
    """Why there is no job: the JSON answer the aiohttp route gives (the fast path declines
    instead, so that answer has one source)."""

    def __init__(self, status: int, message: str, missing: bool = False,
                 retry_after: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.missing = missing
        self.retry_after = retry_after


def open_file(state: ServerState, video: Video) -> tuple[int, os.stat_result]:
    """The video's descriptor (opened beneath the root, or kept open from an earlier stream:
    ``site/open_files.py``) and its ``stat``; give it back with ``state.files.release``.
    Raises :class:`Refused` (and marks the catalog: missing, unreadable) when there is none."""
    try:
        return state.files.lease(video.entry.path)
    except NotAFile:
        state.catalog.mark_missing(video)
        raise Refused(404, "the video file is missing from disk", missing=True) from None
    except OutsideRoot:
        raise Refused(404, "video not found") from None
    except FileNotFoundError:
        state.catalog.mark_missing(video)
        raise Refused(404, "the video file is missing from disk", missing=True) from None
    except PermissionError:
        state.catalog.mark_unreadable(video)
        raise Refused(403, "the video file is not readable by the server") from None
    except OSError as exc:
        if exc.errno in _PATH_GONE:
            state.catalog.mark_missing(video)
            raise Refused(404, "the video file is missing from disk", missing=True) from None
        # the server's own trouble (out of descriptors or memory, I/O errors): worth a retry
        raise Refused(503, f"cannot open the video file: {exc.strerror}",
                      retry_after=1) from None


class StreamJob:
    """The file, the plan and the bookkeeping of one stream answer."""

    __slots__ = ("_pacer", "closed", "fd", "head_sent", "hit", "meter", "plan", "rate",
                 "release", "size", "started", "state", "video")

    # made by :meth:`plan_for` alone, which fills every slot on a bare instance: a Python
    # ``__init__`` would cost more than its thirteen stores on the fast path (callgrind)
    state: ServerState
    video: Served
    fd: int
    release: Callable[[int], None]  # gives the descriptor back (files.release, os.close)
    plan: ranges.Plan
    size: int  # the file's, for the statistics' heat map
    started: float
    meter: Meter  # body bytes handed to the socket, kept current as they flow
    hit: Hit | None  # statistics of an answer that outlives one call
    head_sent: float
    closed: bool
    rate: int  # bytes per second the body is paced to (a profile's limit); 0: none
    _pacer: Pacer | None

    def pacer(self, now: float) -> Pacer | None:
        """The body's pacer when it is rate-limited, started at the first byte."""
        if self.rate and self._pacer is None:
            self._pacer = Pacer(self.rate, now)
        return self._pacer

    @classmethod
    def plan_for(cls, state: ServerState, video: Served, fd: int, info: os.stat_result,
                 method: str, conditionals: ranges.Conditionals | str | None,
                 started: float, release: Callable[[int], None]) -> StreamJob:
        """The job for ``fd``, a regular file whose ``stat`` is ``info``. The evaluator's
        plan is already RFC 9110's answer: a 206 or 200 with its spans, or 304, 412, 416.
        ``conditionals`` is a str or None when the request sent none of the conditional
        fields: its Range value alone (``ranges.evaluate_range``, the fast path's seeks)."""
        settings = state.settings
        validators = video.validators(info.st_size, info.st_mtime_ns, info.st_ino,
                                      info.st_ctime_ns)
        if isinstance(conditionals, tuple):
            plan = ranges.evaluate(
                method, conditionals, validators, video.content_type,
                max_ranges=settings.max_ranges, open_ended_cap=settings.open_ended_cap or None)
        else:
            plan = ranges.evaluate_range(method, conditionals, validators, video.content_type,
                                         settings.max_ranges, settings.open_ended_cap or None)
        job = _bare(cls)
        job.state = state
        job.video = video
        job.fd = fd
        job.release = release
        job.plan = plan
        job.size = info.st_size
        job.started = started
        job.meter = Meter()
        job.hit = None
        job.head_sent = 0.0
        job.closed = False
        job.rate = 0
        job._pacer = None
        return job

    # ---------------------------------------------------------------- the body
    def small_body(self) -> bytes | None:
        """The body, read now, when it is one span of at most SMALL_BODY bytes (it then
        leaves with the header section in one write). Raises ShortFile if the file shrank."""
        plan = self.plan
        parts = plan.parts
        if not plan.send_body or len(parts) != 1 or parts[0].preamble or plan.epilogue:
            return None
        first, last = parts[0].span  # its bounds, not three calls of Span.length
        length = last - first + 1
        if length > SMALL_BODY:
            return None
        data = os.pread(self.fd, length, first)
        if len(data) < length:
            raise ShortFile(f"file ended {length - len(data)} bytes early")
        return data

    async def send(self, transport: asyncio.WriteTransport,
                   write_chunk: ChunkWriter | None = None, offset: int = 0) -> None:
        """Write the plan's body (each part's preamble and span, then the multipart
        epilogue) under the send timeout; the first ``offset`` bytes of the first span have
        already left. Without ``write_chunk``: ``sendfile`` into the transport's socket
        (zero copy); with it, bounded chunks read off the loop, handed to ``write_chunk``
        (TLS, ``--no-sendfile``). Raises what ended it early."""
        async with SendTimeout(transport, self.meter, self.state.settings.send_timeout):
            await self._parts(transport, write_chunk, offset)

    async def _parts(self, transport: asyncio.WriteTransport, write_chunk: ChunkWriter | None,
                     offset: int) -> None:
        loop = asyncio.get_running_loop()
        meter = self.meter
        plan = self.plan
        pacer = self.pacer(loop.time())
        for part in plan.parts:
            if part.preamble:
                meter.sent += len(part.preamble)
                await _write(transport, write_chunk, part.preamble)
            first, length = part.span.first + offset, part.span.length - offset
            offset = 0
            if write_chunk is None:
                await send_span(loop, transport, self.fd, first, length, meter, pacer)
            else:
                await write_span_chunked(loop, write_chunk, self.fd, first, length, meter,
                                         pacer)
        if plan.epilogue:
            meter.sent += len(plan.epilogue)
            await _write(transport, write_chunk, plan.epilogue)

    # ---------------------------------------------------------------- the end
    def abandon(self, transport: asyncio.Transport | None, target: str,
                exc: BaseException) -> None:
        """A body that cannot be finished: say why (once, at the right level), and drop the
        connection: a short body under a promised Content-Length must never look complete."""
        if isinstance(exc, ShortFile):
            log.warning("%s: %s; connection dropped", target, exc)
        elif isinstance(exc, TimeoutError):  # before OSError, which it is
            log.info("%s: no write progress for %g s (send timeout); connection reset",
                     target, self.state.settings.send_timeout)
            reset_on_close(transport)
        elif not isinstance(exc, (OSError, asyncio.CancelledError)):
            log.error("%s: unexpected error mid-body; connection dropped", target,
                      exc_info=exc)
        if transport is not None:
            transport.abort()

    def statistics(self) -> Hit | None:
        """The statistics token of an answer that goes on after the call that began it:
        its bytes are counted as they flow, and :meth:`ended` closes it."""
        if self.hit is None and self.video.stats_id is not None:
            stats = self.state.stats
            plan = self.plan
            hit = self.hit = stats.begin(self.video.stats_id)
            hit.started = self.started
            stats.planned(hit, plan.status, self.size, plan.parts,
                          plan.content_length if plan.send_body else 0)
            hit.first_byte_at = self.head_sent
            hit.meter = self.meter
        return self.hit

    def ended(self) -> None:
        """Count the answer (whole or abandoned: the meter says how much left) and close."""
        self.close()
        if self.hit is not None:
            self.state.stats.end(self.hit, self.plan.status)
            return
        stats_id = self.video.stats_id
        if stats_id is not None:
            plan = self.plan
            self.state.stats.served(stats_id, plan.status, self.size, plan.parts,
                                    self.meter.sent, self.started)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.release(self.fd)


async def _write(transport: asyncio.WriteTransport, write_chunk: ChunkWriter | None,
                 data: bytes) -> None:
    """A preamble or epilogue: straight into the transport ahead of ``sendfile`` (which
    waits for the transport's buffer to drain first), else through the chunk writer."""
    if write_chunk is None:
        transport.write(data)
    else:
        await write_chunk(data)
