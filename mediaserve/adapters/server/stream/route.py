"""``GET|HEAD /api/videos/{id}/stream`` through aiohttp: the same job, aiohttp's header writer.

This route answers what the connection's fast path does not: TLS (no socket to ``sendfile``
into), ``--no-fast-path``, ``--no-sendfile`` (bounded chunks), and every request the fast path
declines (multipart ranges on aiohttp's path, HTTP/1.0, unusual heads, refusals, unknown ids,
files that cannot be opened). It builds the same :class:`~.job.StreamJob` and lets aiohttp
serialise the same header fields through its public ``StreamResponse``; the body goes through
the job's one writer.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import stat
from collections.abc import Callable

from aiohttp import web

from mediaserve.adapters.identity import AUTH_USER
from mediaserve.adapters.server.api.accesslog import SENT_KEY
from mediaserve.adapters.server.api.keys import STATE, ServerState, json_error
from mediaserve.adapters.server.site.catalog import Video
from mediaserve.adapters.server.stream.job import ProducedFile, Refused, StreamJob, open_file
from mediaserve.adapters.server.stream.sendfile import ShortFile, sendfile_capable
from mediaserve.core.http import ranges
from mediaserve.core.http.headers import cors_headers
from mediaserve.core.http.response import stream_fields
from mediaserve.core.profiles.cookie import COOKIE_NAME as PROFILE_COOKIE


def refusal(refused: Refused) -> web.Response:
    """The JSON answer for a request the job could not take (see ``job.Refused``)."""
    response = (json_error(refused.status, refused.message, missing=True) if refused.missing
                else json_error(refused.status, refused.message))
    if refused.retry_after is not None:
        response.headers["Retry-After"] = str(refused.retry_after)
    return response


async def stream(request: web.Request) -> web.StreamResponse:
    state: ServerState = request.app[STATE]
    video = state.catalog.get(request.match_info["id"])
    if video is None:
        state.stats.unknown_video(404)
        return json_error(404, "unknown video id")
    started = state.stats.now()
    try:
        job = _job(request, state, video, started)
    except Refused as refused:
        hit = state.stats.begin(video.entry.id)  # counted with the status it got
        state.stats.end(hit, refused.status)
        return refusal(refused)
    return await _tracked(request, state, job)



async def _tracked(request: web.Request, state: ServerState,
                   job: StreamJob) -> web.StreamResponse:
    """Answer ``job``, counted among the requests a shutdown's drain waits for."""
    task = asyncio.current_task()
    if task is not None:
        state.inflight.add(task)
    try:
        return await answer(request, job)
    finally:
        job.ended()
        if task is not None:
            state.inflight.discard(task)

def _job(request: web.Request, state: ServerState, video: Video,
         started: float) -> StreamJob:
    fd, info = open_file(state, video)
    try:
        job = StreamJob.plan_for(state, video, fd, info, request.method,
                                 ranges.Conditionals.from_headers(request.headers), started,
                                 state.files.release)
    except BaseException:
        state.files.release(fd)
        raise
    state.catalog.mark_present(video)
    return job


async def answer(request: web.Request, job: StreamJob) -> web.StreamResponse:
    """Write ``job``'s answer through aiohttp: the header fields by ``StreamResponse``'s
    public API, the body by the job's writer. Used by the stream route and for the files
    the server makes (``serve_produced``)."""
    state = job.state
    plan = job.plan
    settings = state.settings
    served = job.video
    job.statistics()
    if state.limits:  # a profile's bandwidth limit: its videos and HLS segments are paced
        job.rate = state.limits.rate_for(request.get(AUTH_USER),
                                         request.cookies.get(PROFILE_COOKIE))
    response = web.StreamResponse(status=plan.status)
    cors = (cors_headers(request.headers.get("Origin"), settings.cors_origins)
            if settings.cors_origins else ())
    for name, value in stream_fields(plan, served.content_type, served.disposition,
                                     settings.cache_control, cors):
        response.headers[name] = value
    if plan.status != 304:
        response.content_length = plan.content_length
    request[SENT_KEY] = 0
    try:
        small = job.small_body()
    except ShortFile as exc:
        job.abandon(request.transport, request.path, exc)
        response.force_close()
        return response
    try:
        await response.prepare(request)  # aiohttp writes the header section now
    except ConnectionError:  # reset before the headers could leave: the client is gone
        response.force_close()
        return response
    job.head_sent = state.stats.now()
    if job.hit is not None:
        job.hit.first_byte_at = job.head_sent
    if plan.send_body:
        await _body(request, response, job, small)
    with contextlib.suppress(ConnectionError):  # the client left after the last byte
        await response.write_eof()
    return response


async def serve_produced(request: web.Request, path: str, content_type: str
                         ) -> web.StreamResponse:
    """Answer with a file the server made (an HLS segment in the cache), exactly as a
    stream is answered: the same evaluator, fields and writer. None of the library's
    checks apply (the caller found it by id, in the server's own folder)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
    except FileNotFoundError:
        raise web.HTTPNotFound(reason="the file was evicted; ask again") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise web.HTTPNotFound(reason="not a regular file")
    except BaseException:
        os.close(fd)
        raise
    return await serve_opened(request, fd, info, content_type, os.close)


async def serve_opened(request: web.Request, fd: int, info: os.stat_result,
                       content_type: str, release: Callable[[int], None]
                       ) -> web.StreamResponse:
    """Answer with ``fd``, an open regular file the server made whose ``stat`` is ``info``;
    ``release`` gives the descriptor back (once, whatever happens)."""
    state: ServerState = request.app[STATE]
    try:
        job = StreamJob.plan_for(state, ProducedFile(content_type), fd, info, request.method,
                                 ranges.Conditionals.from_headers(request.headers),
                                 state.stats.now(), release)
    except BaseException:
        release(fd)
        raise
    return await _tracked(request, state, job)


async def _body(request: web.Request, response: web.StreamResponse, job: StreamJob,
                small: bytes | None) -> None:
    """The body by the job's writer: zero copy when the transport has a socket to
    ``sendfile`` into and sendfile is on, else bounded chunks through aiohttp's writer."""
    transport = request.transport
    try:
        if small is not None:
            job.meter.sent = len(small)  # handed to the transport in one piece
            await response.write(small)
        elif request.app[STATE].use_sendfile and sendfile_capable(transport):
            assert transport is not None
            await job.send(transport)
        else:
            assert transport is not None
            await job.send(transport, response.write)
    except Exception as exc:  # the job says why, once, and drops the connection
        job.abandon(transport, request.path, exc)
        response.force_close()
    finally:
        request[SENT_KEY] = job.meter.sent
