"""``GET|HEAD /api/videos/{id}/stream``: the bytes, by the plan the pure evaluator makes.

Per request: one ``openat2`` beneath the root, one ``fstat`` (both on the loop: they are
microseconds against the page cache, cheaper than the ~100 µs an executor hop costs, see
benchmarks/), one call to :func:`mediaserve.core.http.ranges.evaluate`, then the headers and the
spans through ``sendfile``. The descriptor is closed on every path, client abort included.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import stat

from aiohttp import web

from mediaserve.adapters.server.accesslog import SENT_KEY
from mediaserve.adapters.server.catalog import Video
from mediaserve.adapters.server.safe_open import OutsideRoot
from mediaserve.adapters.server.sendfile import (
    Meter,
    ShortFile,
    send_span,
    sendfile_capable,
    write_span_chunked,
)
from mediaserve.adapters.server.sendtimeout import SendTimeout, reset_on_close
from mediaserve.adapters.server.state import STATE, ServerState, json_error
from mediaserve.core.http import ranges
from mediaserve.core.http.headers import cors_headers
from mediaserve.core.http.response import stream_fields
from mediaserve.core.stats import Hit

#: what resolving a path that is not (or no longer) a file beneath the root fails with: the
#: client's answer is 404, whatever the race (EINVAL: a symlink swapped mid-resolution)
#: a single span up to this size is read with one ``pread`` and leaves *with the headers* in
#: one ``writev``: one syscall and one TCP segment fewer than headers + ``sendfile``, which
#: for a probe (``bytes=0-1``) or a seek's first read is most of the kernel's work. Larger
#: spans go through ``sendfile`` (no copy). See benchmarks/RESULTS.md for the measurement.
SMALL_BODY = 16 * 1024


class _Answer(web.StreamResponse):
    """A stream response whose headers wait for the first body bytes (aiohttp then writes
    both with one ``writelines``) instead of leaving on their own at ``prepare``."""

    _send_headers_immediately = False


_PATH_GONE = frozenset((errno.ENOENT, errno.ENOTDIR, errno.ELOOP, errno.EISDIR, errno.EINVAL,
                        errno.ENAMETOOLONG, errno.EXDEV))


def _open(state: ServerState, video: Video) -> int | web.Response:
    """The fd, or the JSON error response that explains why there is none."""
    try:
        return state.opener.open(video.entry.path)
    except OutsideRoot:
        return json_error(404, "video not found")
    except FileNotFoundError:
        state.catalog.mark_missing(video)
        return json_error(404, "the video file is missing from disk", missing=True)
    except PermissionError:
        state.catalog.mark_unreadable(video)
        return json_error(403, "the video file is not readable by the server")
    except OSError as exc:
        if exc.errno in _PATH_GONE:
            state.catalog.mark_missing(video)
            return json_error(404, "the video file is missing from disk", missing=True)
        # the server's own trouble (out of descriptors or memory, I/O errors): worth a retry
        response = json_error(503, f"cannot open the video file: {exc.strerror}")
        response.headers["Retry-After"] = "1"
        return response


async def stream(request: web.Request) -> web.StreamResponse:
    state: ServerState = request.app[STATE]
    video = state.catalog.get(request.match_info["id"])
    if video is None:
        state.stats.unknown_video(404)
        return json_error(404, "unknown video id")
    hit = state.stats.begin(video.entry.id)  # statistics: ended in the finally, whatever happens
    status = None
    try:
        response = await _stream(request, state, video, hit)
        status = response.status
        return response
    finally:
        state.stats.end(hit, status)


async def _stream(request: web.Request, state: ServerState, video: Video,
                  hit: Hit) -> web.StreamResponse:
    opened = _open(state, video)
    if isinstance(opened, web.Response):
        return opened
    fd = opened
    task = asyncio.current_task()
    if task is not None:
        state.inflight.add(task)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            state.catalog.mark_missing(video)
            return json_error(404, "the video file is missing from disk", missing=True)
        state.catalog.mark_present(video)
        validators = video.validators(info.st_size, info.st_mtime_ns, info.st_ino,
                                      info.st_ctime_ns)
        settings = state.settings
        plan = ranges.evaluate(
            request.method, ranges.Conditionals.from_headers(request.headers), validators,
            video.content_type, max_ranges=settings.max_ranges,
            open_ended_cap=settings.open_ended_cap or None)
        state.stats.planned(hit, plan.status, info.st_size, plan.parts,
                            plan.content_length if plan.send_body else 0)
        response = _Answer(status=plan.status)
        headers = response.headers
        cors = (cors_headers(request.headers.get("Origin"), settings.cors_origins)
                if settings.cors_origins else ())
        for name, value in stream_fields(plan, video.content_type, video.disposition,
                                         settings.cache_control, cors):
            headers[name] = value
        if plan.status != 304:
            response.content_length = plan.content_length
        request[SENT_KEY] = 0
        try:
            await response.prepare(request)
        except ConnectionError:  # reset before the headers could leave: the client is gone
            response.force_close()
            return response
        state.stats.first_byte(hit)
        if plan.send_body:
            hit.meter = meter = Meter()  # statistics read the bytes sent as they flow
            parts = plan.parts
            if (state.use_sendfile and len(parts) == 1 and not parts[0].preamble
                    and not plan.epilogue and parts[0].span.length <= SMALL_BODY):
                await _write_small(request, response, fd, parts[0].span, meter)
            else:
                try:
                    _send_headers(response)
                except ConnectionError:  # reset before the headers could leave
                    response.force_close()
                    return response
                await _write_body(request, response, plan, fd, state.use_sendfile, meter)
        with contextlib.suppress(ConnectionError):  # client left after the last byte
            await response.write_eof()
        return response
    finally:
        os.close(fd)
        if task is not None:
            state.inflight.discard(task)


async def _write_body(request: web.Request, response: web.StreamResponse, plan: ranges.Plan,
                      fd: int, use_sendfile: bool, meter: Meter) -> int:
    """Write the plan's parts and return the bytes sent.

    On a client abort or a file that shrank, drop the connection: a short body under a
    promised Content-Length must never look complete to the client.
    """
    loop = asyncio.get_running_loop()
    transport = request.transport
    zero_copy = use_sendfile and sendfile_capable(transport)
    # ``meter`` counts as it goes, so an abort (or a cancel) still logs what left
    try:
        async with SendTimeout(transport, meter, request.app[STATE].settings.send_timeout):
            await _write_parts(response, transport, plan, fd, zero_copy, meter, loop)
    except ShortFile as exc:
        request.app[STATE].logger.warning("%s: %s; connection dropped", request.path, exc)
        _drop(request, response)
    except TimeoutError:  # before OSError, which it is: the client stopped reading
        request.app[STATE].logger.info("%s: no write progress for %g s (send timeout); "
                                       "connection reset", request.path,
                                       request.app[STATE].settings.send_timeout)
        reset_on_close(request.transport)
        _drop(request, response)
    except OSError:  # ConnectionResetError, BrokenPipeError: the client went away
        _drop(request, response)
    except Exception:
        # A bug after the headers left: a JSON 500 from the middleware would be written into
        # the body of a kept-alive connection. Log it and cut the connection instead.
        request.app[STATE].logger.exception("%s: unexpected error mid-body; connection "
                                            "dropped", request.path)
        _drop(request, response)
    finally:
        request[SENT_KEY] = meter.sent
    return meter.sent


def _send_headers(response: web.StreamResponse) -> None:
    """Flush the buffered headers: the body that follows bypasses aiohttp's writer."""
    writer = response._payload_writer
    send = getattr(writer, "send_headers", None)
    if send is not None:
        send()


async def _write_small(request: web.Request, response: web.StreamResponse, fd: int,
                       span: ranges.Span, meter: Meter) -> None:
    """One short span: ``pread`` it and let it leave with the headers in one write (at most
    SMALL_BODY bytes, handed to the transport at once: nothing for a send timeout to watch)."""
    try:
        data = os.pread(fd, span.length, span.first)
        if len(data) < span.length:
            raise ShortFile(f"file ended {span.length - len(data)} bytes early")
        meter.sent = len(data)  # handed to the transport in one piece
        request[SENT_KEY] = len(data)
        await response.write(data)
    except ShortFile as exc:
        request.app[STATE].logger.warning("%s: %s; connection dropped", request.path, exc)
        with contextlib.suppress(ConnectionError):
            _send_headers(response)
        _drop(request, response)
    except OSError:
        _drop(request, response)


async def _write_parts(response: web.StreamResponse, transport: asyncio.Transport | None,
                       plan: ranges.Plan, fd: int, zero_copy: bool, meter: Meter,
                       loop: asyncio.AbstractEventLoop) -> None:
    """The body itself: each part's preamble and span, then the multipart epilogue."""
    if zero_copy:
        assert transport is not None
        for part in plan.parts:
            if part.preamble:
                transport.write(part.preamble)
                meter.sent += len(part.preamble)
            await send_span(loop, transport, fd, part.span.first, part.span.length, meter)
        if plan.epilogue:
            transport.write(plan.epilogue)
            meter.sent += len(plan.epilogue)
    else:
        for part in plan.parts:
            if part.preamble:
                meter.sent += len(part.preamble)
                await response.write(part.preamble)
            await write_span_chunked(loop, response, fd, part.span.first,
                                     part.span.length, meter)
        if plan.epilogue:
            meter.sent += len(plan.epilogue)
            await response.write(plan.epilogue)


def _drop(request: web.Request, response: web.StreamResponse) -> None:
    response.force_close()
    if request.transport is not None:
        request.transport.abort()
