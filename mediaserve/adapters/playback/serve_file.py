"""``serve_cached_file``: the one place that writes a produced file (segment, init segment)
into a response.

It answers like the stream endpoint: the pure RFC 9110 evaluator decides (ranges,
If-Range, If-None-Match, 304/412/416) from the file's validators (a strong ETag from its
size, mtime, inode and ctime: a segment made again is a new file, so it gets a new tag), the
same header fields leave in the same order (``stream_fields``), and the body goes out with
``sendfile`` (the chunked fallback under TLS or ``--no-sendfile``). Kept small and separate
so the stream layer's rewrite (issue 18) can replace it by its unified job.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from pathlib import Path

from aiohttp import web

from mediaserve.adapters.server.sendfile import (
    Meter,
    ShortFile,
    send_span,
    sendfile_capable,
    write_span_chunked,
)
from mediaserve.adapters.server.state import STATE
from mediaserve.core.http import ranges
from mediaserve.core.http.headers import cors_headers
from mediaserve.core.http.response import stream_fields


async def serve_cached_file(request: web.Request, path: Path,
                            content_type: str) -> web.StreamResponse:
    """Answer ``request`` with the file at ``path`` (which must exist: a producer wrote it,
    atomically). A file evicted between the caller's check and the open is a 404."""
    state = request.app[STATE]
    settings = state.settings
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise web.HTTPNotFound(reason="the segment was evicted; ask again") from None
    try:
        info = os.fstat(fd)
        validators = ranges.make_validators(info.st_size, info.st_mtime_ns, info.st_ino,
                                            info.st_ctime_ns)
        plan = ranges.evaluate(request.method, ranges.Conditionals.from_headers(request.headers),
                               validators, content_type, max_ranges=settings.max_ranges)
        response = web.StreamResponse(status=plan.status)
        cors = (cors_headers(request.headers.get("Origin"), settings.cors_origins)
                if settings.cors_origins else ())
        for name, value in stream_fields(plan, content_type, "inline",
                                         settings.cache_control, cors):
            response.headers[name] = value
        if plan.status != 304:
            response.content_length = plan.content_length
        await response.prepare(request)
        if plan.send_body:
            await _body(request, response, plan, fd, state.use_sendfile)
        with contextlib.suppress(ConnectionError):
            await response.write_eof()
        return response
    finally:
        os.close(fd)


async def _body(request: web.Request, response: web.StreamResponse, plan: ranges.Plan,
                fd: int, use_sendfile: bool) -> None:
    loop = asyncio.get_running_loop()
    transport = request.transport
    meter = Meter()
    try:
        if use_sendfile and sendfile_capable(transport):
            assert transport is not None
            writer = response._payload_writer
            send_headers = getattr(writer, "send_headers", None)
            if send_headers is not None:
                send_headers()
            for part in plan.parts:
                if part.preamble:
                    transport.write(part.preamble)
                await send_span(loop, transport, fd, part.span.first, part.span.length, meter)
            if plan.epilogue:
                transport.write(plan.epilogue)
        else:
            for part in plan.parts:
                if part.preamble:
                    await response.write(part.preamble)
                await write_span_chunked(loop, response, fd, part.span.first,
                                         part.span.length, meter)
            if plan.epilogue:
                await response.write(plan.epilogue)
    except (ShortFile, OSError):  # client gone, or the file shrank: never a short body
        response.force_close()
        if transport is not None:
            transport.abort()
