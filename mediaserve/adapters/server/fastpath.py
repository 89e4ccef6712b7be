"""The stream endpoint's fast path: a plain ``GET``/``HEAD`` of a stream URL, without aiohttp.

Why it exists: a seek is one small request, and a profile of the aiohttp path
(benchmarks/RESULTS.md) put two thirds of its CPU in aiohttp's request and response objects,
its middleware chain and its per-request task, not in our code or the kernel. Here the
connection (:class:`~mediaserve.adapters.server.connections.GuardedHandler`) hands a complete
request head to :meth:`FastStreams.serve`, which reads it with the strict
:mod:`mediaserve.core.http.request_head`, runs the aiohttp path's checks in the same order
(Host, credentials, the id, the file beneath the root), asks the same pure evaluator
(:func:`mediaserve.core.http.ranges.evaluate`) for the plan, and writes the same header section
(the tests compare the two paths byte for byte), then the body: a short span with the head in
one write, a longer one with ``sendfile`` straight from the handler; only a span that fills
the socket continues in a task.

One rule keeps the two paths from drifting apart: the fast path serves only what it can
serve completely. A request it does not read plainly, one that is refused (421, 401), an
unknown id, a file it cannot open, a multipart plan: it declines before any side effect, and
aiohttp answers. Every error answer therefore has a single source.
"""

from __future__ import annotations

import asyncio
import logging
import os
import stat
import time
from typing import Any, Protocol

from mediaserve.adapters.server.access import Access
from mediaserve.adapters.server.accesslog import CombinedLogger
from mediaserve.adapters.server.catalog import Video
from mediaserve.adapters.server.sendfile import SENDFILE_CHUNK, Meter, ShortFile, send_span
from mediaserve.adapters.server.sendtimeout import SendTimeout, reset_on_close
from mediaserve.adapters.server.state import SERVER_NAME, ServerState
from mediaserve.core.http import auth, ranges
from mediaserve.core.http.dates import format_http_date
from mediaserve.core.http.headers import cors_headers
from mediaserve.core.http.request_head import (
    RequestHead,
    cookie_value,
    parse_head,
    query_value,
    stream_target,
)
from mediaserve.core.http.response import response_head, stream_fields
from mediaserve.core.stats import Hit

#: a span up to this size leaves with the head in one write (as in ``stream.SMALL_BODY``)
SMALL_BODY = 16384
log = logging.getLogger("mediaserve")


class FastConnection(Protocol):
    """What the fast path needs of the connection it answers on."""

    sock_fd: int

    @property
    def remote(self) -> str | None: ...

    def fast_tail(self, task: asyncio.Task[None]) -> None: ...

    def fast_done(self, keep_alive: bool) -> None: ...


_date: list[Any] = [-1, ""]


def _date_and_server() -> str:
    """The Date and Server lines, formatted once per second (aiohttp caches Date too)."""
    now = int(time.time())
    if now != _date[0]:
        _date[0], _date[1] = now, f"Date: {format_http_date(now)}\r\nServer: {SERVER_NAME}\r\n"
    return str(_date[1])


class FastStreams:
    """The fast path of one application: its state, access policy and access log."""

    __slots__ = ("_hosts", "access", "log", "served", "state")

    def __init__(self, state: ServerState, access: Access,
                 access_log: CombinedLogger | None) -> None:
        self.state = state
        self.access = access
        self.log = access_log
        self.served = 0  # requests answered here (the rest went to aiohttp)
        self._hosts: dict[str, bool] = {}  # Host field -> allowed (the policy is fixed)

    # ------------------------------------------------------------------ deciding
    def serve(self, conn: FastConnection, transport: Any, data: bytes) -> bool:
        """Answer ``data`` (one whole request head) on ``transport``; False when declined,
        in which case nothing was written and nothing counted."""
        started = self.state.stats.now()
        head = parse_head(data)
        if head is None:
            return False
        target = stream_target(head.target)
        if target is None:
            return False
        fields = head.fields
        access = self.access
        host = fields["host"]  # parse_head declines a head without one
        allowed = self._hosts.get(host)
        if allowed is None:
            if len(self._hosts) >= 64:  # a handful of names in practice; bounded anyway
                self._hosts.clear()
            allowed = self._hosts[host] = access.hosts.allows(host)
        if not allowed:
            return False
        if access.required and not self._authorized(fields, target[1]):
            return False
        state = self.state
        video = state.catalog.get(target[0])
        if video is None:
            return False
        try:
            fd = state.opener.open(video.entry.path)
        except OSError:
            return False
        try:
            decided = self._decide(head, video, fd)
        except Exception:  # the reference path answers, and logs, whatever this was
            decided = None
        if decided is None:
            os.close(fd)
            return False
        plan, head_bytes, small, size = decided
        self.served += 1
        state.catalog.mark_present(video)
        answer = _Answer(head, video.entry.id, plan, size, started)
        self._send(conn, transport, answer, fd, head_bytes, small)
        return True

    def _authorized(self, fields: dict[str, str], query: str) -> bool:
        """The checks of ``Access.authenticated`` but Basic (scrypt): every refusal, and a
        Basic login, is the aiohttp path's, so a 401 has one source."""
        parsed = auth.split_authorization(fields.get("authorization"))
        cookie = fields.get("cookie")
        return self.access.secret_ok(
            parsed[1] if parsed is not None and parsed[0] == "bearer" else None,
            query_value(query, "token") if query else None,
            cookie_value(cookie, auth.COOKIE_NAME) if cookie else None)

    def _decide(self, head: RequestHead, video: Video, fd: int
                ) -> tuple[ranges.Plan, bytes, bytes | None, int] | None:
        """The plan, its header section, (for a short span) the body and the file's size;
        None to decline."""
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return None
        settings = self.state.settings
        fields = head.fields
        get = fields.get
        conditionals = ranges.Conditionals(get("range"), get("if-range"), get("if-match"),
                                           get("if-none-match"), get("if-modified-since"),
                                           get("if-unmodified-since"))
        plan = ranges.evaluate(
            head.method, conditionals,
            video.validators(info.st_size, info.st_mtime_ns, info.st_ino, info.st_ctime_ns),
            video.content_type, max_ranges=settings.max_ranges,
            open_ended_cap=settings.open_ended_cap or None)
        if plan.multipart:
            return None
        small = None
        if plan.send_body and plan.parts and plan.parts[0].span.length <= SMALL_BODY:
            span = plan.parts[0].span
            small = os.pread(fd, span.length, span.first)
            if len(small) < span.length:
                return None  # the file shrank since fstat: the reference path copes
        return plan, self._head(plan, video, fields, head.keep_alive), small, info.st_size

    def _head(self, plan: ranges.Plan, video: Video, fields: dict[str, str],
              keep_alive: bool) -> bytes:
        """The header section the aiohttp path writes for ``plan``: the same fields
        (``stream_fields``), then Date and Server, then Connection, as aiohttp orders them."""
        settings = self.state.settings
        cors = (cors_headers(fields.get("origin"), settings.cors_origins)
                if settings.cors_origins else ())
        more = _date_and_server() if keep_alive else _date_and_server() + "Connection: close\r\n"
        return response_head(plan.status, stream_fields(
            plan, video.content_type, video.disposition, settings.cache_control, cors), more)

    # ------------------------------------------------------------------ sending
    def _send(self, conn: FastConnection, transport: Any, answer: _Answer, fd: int,
              head_bytes: bytes, small: bytes | None) -> None:
        plan = answer.plan
        if not plan.send_body or not plan.parts:
            transport.write(head_bytes)
            os.close(fd)
            self._done(conn, answer, 0)
            return
        if small is not None:
            transport.write(head_bytes + small)
            os.close(fd)
            self._done(conn, answer, len(small))
            return
        span = plan.parts[0].span
        offset, count = span.first, span.length
        transport.write(head_bytes)
        answer.head_sent = self.state.stats.now()
        if self.log is not None:  # the peer's address, while the connection has one
            answer.remote = conn.remote
        meter = Meter()
        if not transport.get_write_buffer_size():
            try:  # one chunk at most here: a long body goes on in a task, between others
                sent = os.sendfile(conn.sock_fd, fd, offset, min(count, SENDFILE_CHUNK))
                if sent == 0:
                    raise ShortFile(f"file ended {count} bytes early")
                meter.sent = sent
                offset += sent
                count -= sent
            except (BlockingIOError, InterruptedError):
                pass  # the socket is full: the rest waits for it in a task
            except OSError as exc:  # the client left, or the file shrank
                self._abandon(conn, transport, answer, fd, self._hit(answer, meter), meter,
                              exc)
                return
            if not count:
                os.close(fd)
                self._done(conn, answer, meter.sent)
                return
        hit = self._hit(answer, meter)
        task = asyncio.get_running_loop().create_task(self._tail(
            conn, transport, answer, fd, offset, count, hit, meter))
        inflight = self.state.inflight
        inflight.add(task)  # shutdown waits for it, then cancels it
        task.add_done_callback(inflight.discard)

        def never_ran(done: asyncio.Task[None]) -> None:
            """Cancelled before its first step (the client left at once): the coroutine
            never ran, so its cleanup is done here."""
            if not answer.tail_ran:
                self._abandon(conn, transport, answer, fd, hit, meter,
                              asyncio.CancelledError())

        task.add_done_callback(never_ran)
        conn.fast_tail(task)

    def _hit(self, answer: _Answer, meter: Meter) -> Hit:
        """The statistics token of an answer that goes on (or ends badly) after the call
        that began it: its bytes are counted as they flow."""
        stats = self.state.stats
        plan = answer.plan
        hit = stats.begin(answer.video_id)
        hit.started = answer.started
        stats.planned(hit, plan.status, answer.size, plan.parts, plan.content_length)
        hit.first_byte_at = answer.head_sent  # the head left in the call that began it
        hit.meter = meter
        return hit

    async def _tail(self, conn: FastConnection, transport: Any, answer: _Answer, fd: int,
                    offset: int, count: int, hit: Hit, meter: Meter) -> None:
        """The rest of a span that filled the socket, under the send timeout."""
        answer.tail_ran = True
        state = self.state
        try:
            async with SendTimeout(transport, meter, state.settings.send_timeout):
                await send_span(asyncio.get_running_loop(), transport, fd, offset, count,
                                meter)
        except BaseException as exc:
            self._abandon(conn, transport, answer, fd, hit, meter, exc)
            if not isinstance(exc, Exception):
                raise  # a cancellation: the connection is already cut
        else:
            os.close(fd)
            state.stats.end(hit, answer.plan.status)
            self._log(conn, answer, meter.sent)
            conn.fast_done(answer.head.keep_alive)

    def _abandon(self, conn: FastConnection, transport: Any, answer: _Answer, fd: int,
                 hit: Hit, meter: Meter, exc: BaseException) -> None:
        """A body that cannot be finished: drop the connection (a short body under a
        promised Content-Length must never look complete), close the file, count it."""
        target = answer.head.target.split("?", 1)[0]
        if isinstance(exc, ShortFile):
            log.warning("%s: %s; connection dropped", target, exc)
        elif isinstance(exc, TimeoutError):
            log.info("%s: no write progress for %g s (send timeout); connection reset",
                     target, self.state.settings.send_timeout)
            reset_on_close(transport)
        elif not isinstance(exc, (OSError, asyncio.CancelledError)):
            log.error("%s: unexpected error mid-body; connection dropped", target,
                      exc_info=exc)
        remote = answer.remote or (conn.remote if self.log is not None else None)
        transport.abort()
        os.close(fd)
        self.state.stats.end(hit, answer.plan.status)
        self._log(conn, answer, meter.sent, remote)
        conn.fast_done(False)

    def _done(self, conn: FastConnection, answer: _Answer, sent: int) -> None:
        """An answer written whole within the call that began it."""
        plan = answer.plan
        self.state.stats.served(answer.video_id, plan.status, answer.size, plan.parts, sent,
                                answer.started)
        self._log(conn, answer, sent)
        conn.fast_done(answer.head.keep_alive)

    def _log(self, conn: FastConnection, answer: _Answer, sent: int,
             remote: str | None = None) -> None:
        logger = self.log
        if logger is not None:
            head = answer.head
            fields = head.fields
            logger.write(remote or conn.remote, head.method, head.target, "1.1",
                         answer.plan.status, sent, fields.get("referer", "-"),
                         fields.get("user-agent", "-"))


class _Answer:
    """One answer the fast path is giving: the request, the video and the plan."""

    __slots__ = ("head", "head_sent", "plan", "remote", "size", "started", "tail_ran",
                 "video_id")

    def __init__(self, head: RequestHead, video_id: str, plan: ranges.Plan, size: int,
                 started: float) -> None:
        self.head = head
        self.video_id = video_id
        self.plan = plan
        self.size = size  # the file's, for the statistics' heat map
        self.started = started
        self.head_sent = 0.0  # when the header section left (answers with a long body)
        self.remote: str | None = None  # the peer, for the log of an answer that goes on
        self.tail_ran = False
