"""The stream endpoint's fast path: a plain ``GET``/``HEAD`` of a stream URL, answered by the
connection itself, without aiohttp.

Why it exists: a seek is one small request, and a profile of the aiohttp path
(benchmarks/RESULTS.md) put two thirds of its CPU in aiohttp's request and response objects,
its middleware chain and its per-request task, not in our code or the kernel. The connection
(``net/connection.py``) has already framed the head (``plain``: a bodiless GET/HEAD over
HTTP/1.1, nothing it reads sent twice); :meth:`FastStreams.serve` runs the aiohttp route's
checks in the same order (Host, credentials, the id, the file beneath the root), builds the
same :class:`~.job.StreamJob` and writes the same header section (the tests compare the two
byte for byte), then the body: a short span with the head in one write, a longer one with
``sendfile`` straight from the call; only a span that fills the socket goes on in a task,
through the job's one writer.

Cached HLS files (``/api/videos/ID/hls/VARIANT/{init.mp4,seg-N.m4s}?v=VERSION``) are files
too: when the playback wing has registered its cache (``ServerState.segments``) and the file
of that version of the video is already made, it is answered here the same way (the same
checks, a :class:`~.job.StreamJob` of a ``ProducedFile``); a segment not made yet, a stale or
missing version, a variant the video cannot have: declined, and the route decides.

One rule keeps the two ways in from drifting apart: the fast path serves only what it can
serve completely. A refusal (421, 401), an unknown id, a file it cannot open: it declines
before any side effect, and aiohttp answers. Every error answer therefore has one source.
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any, Protocol

from mediaserve.adapters.server.site.access_log import AccessLog
from mediaserve.adapters.server.site.catalog import Presence, Video
from mediaserve.adapters.server.site.state import SERVER_NAME, ServerState
from mediaserve.adapters.server.stream.job import ProducedFile, Refused, StreamJob, open_file
from mediaserve.adapters.server.stream.sendfile import SENDFILE_CHUNK, ShortFile
from mediaserve.core.http import auth, ranges
from mediaserve.core.http.dates import format_http_date
from mediaserve.core.http.headers import cors_headers
from mediaserve.core.http.request_head import (
    CONDITIONAL,
    RequestHead,
    cookie_value,
    query_value,
    segment_target,
    stream_target,
)
from mediaserve.core.http.response import response_head, stream_fields, stream_head
from mediaserve.core.profiles.cookie import COOKIE_NAME as PROFILE_COOKIE


class Credentials(Protocol):
    """The access policy's checks the fast path makes (``access.Access``)."""

    @property
    def required(self) -> bool: ...

    @property
    def users(self) -> dict[str, str]: ...

    def host_allowed(self, host: str) -> bool: ...

    def cookie_user(self, value: str | None) -> str | None: ...

    def secret_ok(self, bearer: str | None, query_token: str | None,
                  cookie: str | None) -> bool: ...


class FastConnection(Protocol):
    """What the fast path needs of the connection it answers on."""

    sock_fd: int
    remote: str | None
    transport: Any

    def fast_tail(self, task: asyncio.Task[None]) -> None: ...

    def fast_done(self, keep_alive: bool) -> None: ...


_date_second = -1
_date_lines = ""
PRESENT = Presence.PRESENT


def _date_and_server() -> str:
    """The Date and Server lines, formatted once per second (aiohttp caches Date too)."""
    global _date_second, _date_lines
    now = int(time.time())
    if now != _date_second:
        _date_second = now
        _date_lines = f"Date: {format_http_date(now)}\r\nServer: {SERVER_NAME}\r\n"
    return _date_lines


class FastStreams:
    """The fast path of one server: its state, access policy and access log."""

    __slots__ = ("access", "log", "served", "state")

    def __init__(self, state: ServerState, access: Credentials,
                 access_log: AccessLog | None) -> None:
        self.state = state
        self.access = access
        self.log = access_log
        self.served = 0  # requests answered here (the rest went to aiohttp)

    def serve(self, conn: FastConnection, head: RequestHead) -> bool:
        """Answer ``head`` on ``conn``; False when declined, in which case nothing was
        written and nothing counted."""
        if conn.sock_fd < 0:
            return False
        target = stream_target(head.target)
        segment = None
        if target is None:
            segment = segment_target(head.target)
            if segment is None or self.state.segments is None:
                return False
            query = segment[3]
        else:
            query = target[1]
        fields = head.fields
        access = self.access
        if not access.host_allowed(fields["host"]):  # a plain head always has a Host
            return False
        if access.required and not self._authorized(fields, query):
            return False
        get = fields.get
        conditionals: ranges.Conditionals | str | None = (  # a seek's: its Range alone
            get("range") if CONDITIONAL.isdisjoint(fields)
            else ranges.Conditionals(get("range"), get("if-range"), get("if-match"),
                                     get("if-none-match"), get("if-modified-since"),
                                     get("if-unmodified-since")))
        job = (self._stream_job(target[0], head.method, conditionals) if target is not None
               else self._segment_job(segment, head.method, conditionals))
        if job is None:
            return False
        try:
            small = job.small_body()
        except (ShortFile, OSError):  # the reference path answers, and logs
            job.close()
            return False
        self.served += 1
        limits = self.state.limits  # its truth (LimitTable.__bool__) without a call:
        if limits.by_profile or limits.by_user:  # a profile's limit: its streams are paced
            job.rate = self._rate(fields)
        video = job.video
        if isinstance(video, Video) and video.presence is not PRESENT:
            self.state.catalog.mark_present(video)
        head_bytes = self._head(job, fields, head.keep_alive)
        plan = job.plan
        if small is not None or not plan.send_body or not plan.parts:
            # the whole answer in one write: the usual seek read or probe, and HEAD, 304,
            # 412, 416 (no task, no answer object)
            conn.transport.write(head_bytes + small if small else head_bytes)
            if small:
                job.meter.sent = len(small)
            self.finish(conn, head, job, head.keep_alive)
        else:
            _Answer(self, conn, head, job).start(head_bytes)
        return True

    def _stream_job(self, video_id: str, method: str,
                    conditionals: ranges.Conditionals | str | None) -> StreamJob | None:
        """The job of a stream request, or None (declined: aiohttp answers)."""
        state = self.state
        video = state.catalog.get(video_id)
        if video is None:
            return None
        started = state.stats.now()
        try:
            fd, info = open_file(state, video)
        except Refused:
            return None  # the aiohttp route opens again, marks the catalog and answers
        release = state.files.release
        try:
            return StreamJob.plan_for(state, video, fd, info, method, conditionals, started,
                                      release)
        except (OSError, ValueError):  # the reference path answers, and logs
            release(fd)
            return None

    def _segment_job(self, segment: tuple[str, str, str, str] | None, method: str,
                     conditionals: ranges.Conditionals | str | None) -> StreamJob | None:
        """The job of an HLS file already in the segment cache, of the version its URL
        names (``?v=``); None for anything else (the route checks, waits or refuses)."""
        state = self.state
        cached = state.segments
        assert segment is not None and cached is not None
        video_id, variant, name, query = segment
        version = query_value(query, "v") if query else None
        video = state.catalog.get(video_id) if version else None
        if video is None or version is None:
            return None
        started = state.stats.now()
        found = cached.lease(video, variant, name, version)
        if found is None:
            return None
        fd, info, content_type = found
        try:
            return StreamJob.plan_for(state, ProducedFile(content_type), fd, info, method,
                                      conditionals, started, cached.release)
        except (OSError, ValueError):
            cached.release(fd)
            return None

    def finish(self, conn: FastConnection, head: RequestHead, job: StreamJob,
               keep_alive: bool) -> None:
        """The answer is over (whole, or abandoned): count it, log it, free the connection."""
        job.ended()
        log = self.log
        if log is not None:
            fields = head.fields
            log.write(conn.remote, head.method, head.target, "1.1", job.plan.status,
                      job.meter.sent, fields.get("referer", "-"), fields.get("user-agent", "-"))
        conn.fast_done(keep_alive)

    def _rate(self, fields: dict[str, str]) -> int:
        """The bandwidth limit of the request's profile (its user's, or its cookie's)."""
        cookie = fields.get("cookie")
        if not cookie:
            return 0
        access = self.access
        user = (access.cookie_user(cookie_value(cookie, auth.COOKIE_NAME))
                if access.users else None)
        return self.state.limits.rate_for(user, cookie_value(cookie, PROFILE_COOKIE))

    def _authorized(self, fields: dict[str, str], query: str) -> bool:
        """The checks of ``Access.authenticated`` but Basic (scrypt): every refusal, and a
        Basic login, is the aiohttp path's, so a 401 has one source."""
        parsed = auth.split_authorization(fields.get("authorization"))
        cookie = fields.get("cookie")
        return self.access.secret_ok(
            parsed[1] if parsed is not None and parsed[0] == "bearer" else None,
            query_value(query, "token") if query else None,
            cookie_value(cookie, auth.COOKIE_NAME) if cookie else None)

    def _head(self, job: StreamJob, fields: dict[str, str], keep_alive: bool) -> bytes:
        """The header section the aiohttp route writes for the job: the same fields
        (``stream_fields``), then Date and Server, then Connection, as aiohttp orders them."""
        settings = self.state.settings
        video = job.video
        more = _date_and_server() if keep_alive else _date_and_server() + "Connection: close\r\n"
        if not settings.cors_origins:
            return stream_head(job.plan, video.content_type, video.disposition,
                               settings.cache_control, more)
        cors = cors_headers(fields.get("origin"), settings.cors_origins)
        return response_head(job.plan.status, stream_fields(
            job.plan, video.content_type, video.disposition, settings.cache_control, cors),
            more)


class _Answer:
    """One answer the fast path is giving: written in the call when it can be, else in a
    task that the connection and shutdown know about."""

    __slots__ = ("conn", "fast", "head", "job", "ran", "transport")

    def __init__(self, fast: FastStreams, conn: FastConnection, head: RequestHead,
                 job: StreamJob) -> None:
        self.fast = fast
        self.conn = conn
        self.head = head
        self.job = job
        self.transport = conn.transport
        self.ran = False

    def start(self, head_bytes: bytes) -> None:
        """A body longer than SMALL_BODY: the header section, then one ``sendfile`` chunk
        at most in this call; what is left goes on in a task."""
        job = self.job
        plan = job.plan
        parts = plan.parts
        transport = self.transport
        transport.write(head_bytes)
        job.head_sent = job.state.stats.now()
        sent = 0
        if len(parts) == 1 and not parts[0].preamble and not transport.get_write_buffer_size():
            first, last = parts[0].span  # its bounds, not two calls of Span.length
            length = last - first + 1
            step = length if length < SENDFILE_CHUNK else SENDFILE_CHUNK
            if job.rate:  # at most the first burst of a paced body (the loop's clock)
                now = asyncio.get_running_loop().time()
                pacer = job.pacer(now)
                assert pacer is not None
                step = min(step, pacer.allowance(0, now))
            try:  # one chunk at most here: a long body goes on in a task, between others
                sent = os.sendfile(self.conn.sock_fd, job.fd, first, step)
                if sent == 0:
                    raise ShortFile(f"file ended {length} bytes early")
            except (BlockingIOError, InterruptedError):
                sent = 0  # the socket is full: the rest waits for it in a task
            except OSError as exc:  # the client left, or the file shrank
                self.abandon(exc)
                return
            job.meter.sent = sent
            if sent == length and not plan.epilogue:
                self.fast.finish(self.conn, self.head, job, self.head.keep_alive)
                return
        job.statistics()
        task = asyncio.get_running_loop().create_task(self.tail(sent))
        inflight = job.state.inflight
        inflight.add(task)  # shutdown waits for it, then cancels it
        task.add_done_callback(inflight.discard)
        task.add_done_callback(self._never_ran)
        self.conn.fast_tail(task)

    def _never_ran(self, task: asyncio.Task[None]) -> None:
        """Cancelled before its first step (the client left at once): the coroutine never
        ran, so its cleanup is done here."""
        if not self.ran:
            self.abandon(asyncio.CancelledError())

    async def tail(self, offset: int) -> None:
        """The rest of the body, by the job's writer, under the send timeout."""
        self.ran = True
        try:
            await self.job.send(self.transport, offset=offset)
        except BaseException as exc:
            self.abandon(exc)
            if not isinstance(exc, Exception):
                raise  # a cancellation: the connection is already cut
        else:
            self.done()

    def abandon(self, exc: BaseException) -> None:
        """A body that cannot be finished: the job's policy, then the books."""
        job = self.job
        job.statistics()
        job.abandon(self.transport, self.head.target.split("?", 1)[0], exc)
        self.finish(False)

    def done(self) -> None:
        self.finish(self.head.keep_alive)

    def finish(self, keep_alive: bool) -> None:
        self.fast.finish(self.conn, self.head, self.job, keep_alive)
