"""The one protocol that owns each client socket, from ``accept`` to close.

Every connection, plain or TLS, fast path on or off, is an :class:`HttpConnection` for its
whole life. It frames every request itself (:func:`~mediaserve.core.http.request_head.read_head`
for the head, the length or :class:`~mediaserve.core.http.chunked.ChunkedEnd` for the body),
owns the timeouts between and during heads, the held bytes of pipelined requests, and its
place under the connection cap (``guard.py``). Each request then goes one of two ways:

* a plain stream request to the fast path (``stream/fast.py``), which answers in place;
* anything else to aiohttp (``delegate.py``): the head and its whole body (collected first,
  ``body.py``), exactly as framed, to a fresh aiohttp request handler on a shim transport,
  through public interfaces only. aiohttp never waits on the socket.

The states, in the spirit of h11's explicit ones::

    IDLE --first byte--> HEAD --head complete--> (fast path) STREAMING --done--> IDLE
                                              \\-> (aiohttp)  DELEGATED --done--> IDLE
                                              \\-> BODY --body complete--> DELEGATED
    any state --error, close, shutdown, timeout--> CLOSED

IDLE waits for a head with no byte of it received (the header timeout for a connection's
first request, the keep-alive timeout after that), HEAD collects one (the header timeout,
from its first byte), BODY collects the body of a request for aiohttp (the same header
timeout, from the head's first byte: a body is no way around it), STREAMING and DELEGATED
hold whatever arrives next until their answer is done (the send timeout guards a stalled
reader), CLOSED ignores everything. HEAD and BODY connections are the "slow" ones the cap may
reclaim.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Protocol

from mediaserve.adapters.server.net.body import RequestBody, without_expect
from mediaserve.adapters.server.net.guard import ConnectionGuard
from mediaserve.adapters.server.net.refusal import error_bytes
from mediaserve.adapters.server.net.sendtimeout import StallWatch
from mediaserve.core.http.request_head import (
    MAX_HEAD,
    MAX_LINE,
    HeadError,
    RequestHead,
    check_request_line,
    read_head,
)

log = logging.getLogger("mediaserve")

IDLE, HEAD, BODY, STREAMING, DELEGATED, CLOSED = (
    "idle", "head", "body", "streaming", "delegated", "closed")
#: bytes a client may send ahead (pipelining) while an answer is written before reading pauses
HELD_LIMIT = 64 * 1024
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
_NEVER = float("inf")  # the deadline while an answer is being made


class Responder(Protocol):
    """The stream fast path, as the connection sees it."""

    def serve(self, conn: HttpConnection, head: RequestHead) -> bool: ...


class Delegation(Protocol):
    """One request being answered by aiohttp (``delegate.Delegation``)."""

    def feed(self, data: bytes) -> None: ...

    def pause_writing(self) -> None: ...

    def resume_writing(self) -> None: ...

    def finish(self, exc: Exception | None = None) -> None: ...


class Delegator(Protocol):
    def begin(self, conn: HttpConnection) -> Delegation: ...


class HttpConnection(asyncio.Protocol):
    """One client connection (see the module's docstring for its states)."""

    __slots__ = ("_answered", "_body", "_buffer", "_close_after", "_deadline", "_delegation",
                 "_delegator", "_fast", "_guard", "_line_checked", "_loop", "_paused",
                 "_processing", "_scanned", "_stall", "_tail", "_timer", "_writing_paused",
                 "address", "head_bytes", "head_since", "remote", "sock_fd", "state",
                 "transport")

    def __init__(self, guard: ConnectionGuard, fast: Responder | None, delegator: Delegator,
                 address: str = "") -> None:
        self._guard = guard
        self._fast = fast
        self._delegator = delegator
        self._loop = asyncio.get_running_loop()
        self.address = address  # the peer's IP (the per-address share, the access log)
        self.remote: str | None = address or None
        self.transport: Any = None
        self.sock_fd = -1  # for sendfile; -1 under TLS
        self.state = IDLE
        #: received, not yet framed: a partial head, or what comes after the current answer
        self._buffer: bytes | bytearray = b""
        self._scanned = 0  # bytes of a partial head already searched for its end
        self._line_checked = False  # the current head's request line has been judged
        self.head_bytes = 0
        self.head_since = 0.0
        self._body: RequestBody | None = None  # the body being collected (BODY)
        self._delegation: Delegation | None = None
        self._tail: asyncio.Task[None] | None = None  # a fast answer's body, going on
        self._close_after = False  # shutdown: close once the current answer is done
        self._answered = False  # a request was answered: an expiry is an idle one
        self._processing = False
        self._paused = False  # reading paused: too much held
        self._writing_paused = False
        self._stall: StallWatch | None = None  # what aiohttp writes, under the send timeout
        # one timer for the header and keep-alive deadlines: moving the deadline is a store,
        # and the timer re-arms itself when it fires early (as aiohttp's keep-alive timer)
        self._deadline = 0.0
        self._timer: asyncio.TimerHandle | None = None

    # ------------------------------------------------------------------ lifecycle
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # asyncio's or uvloop's (which is no asyncio.Transport)
        if not self.address:
            peer = transport.get_extra_info("peername")
            self.address = peer[0] if isinstance(peer, (tuple, list)) else ""
            self.remote = self.address or None
        if transport.get_extra_info("sslcontext") is None:
            sock = transport.get_extra_info("socket")
            self.sock_fd = sock.fileno() if sock is not None else -1
        guard = self._guard
        if not guard.opened(self):
            self.state = CLOSED
            self.transport.abort()
            return
        guard.idle[self] = None
        self._wait(guard.header_timeout)  # nginx: the first head is due within the timeout

    def connection_lost(self, exc: BaseException | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._stop_stall()
        self.state = CLOSED
        if self._tail is not None:
            self._tail.cancel()  # its handler closes the file and counts the abort
        if self._delegation is not None:
            delegation, self._delegation = self._delegation, None
            delegation.finish(exc if isinstance(exc, Exception)
                              else ConnectionResetError("connection lost"))
        self.transport = None
        self._guard.closed(self)

    def eof_received(self) -> bool:
        return False  # the client is done sending: close (aiohttp does the same)

    def force_close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def shutdown_idle(self) -> None:
        """At shutdown: close now unless an answer is going out, else after it."""
        if self.state in (STREAMING, DELEGATED):
            self._close_after = True
        else:
            self.force_close()

    # ------------------------------------------------------------------ reading
    def data_received(self, data: bytes) -> None:
        state = self.state
        if state in (IDLE, HEAD):
            buffer = self._buffer
            if not buffer:
                self._buffer = data
            elif isinstance(buffer, bytearray):
                buffer += data  # a head trickling in: amortised O(1), never quadratic
            else:
                self._buffer = bytearray(buffer) + data
            if not self._processing:
                self._process()
        elif state == BODY:
            self._body_bytes(data)
        elif state != CLOSED:
            self._hold(data)

    def _hold(self, data: bytes) -> None:
        """Bytes of the next request(s), while the current answer is still going out."""
        if not self._buffer:
            self._buffer = data
        else:
            if isinstance(self._buffer, bytes):
                self._buffer = bytearray(self._buffer)
            self._buffer += data
        if len(self._buffer) > HELD_LIMIT and not self._paused and self.transport is not None:
            self._paused = True
            self.transport.pause_reading()

    def _process(self) -> None:
        """Frame and dispatch every complete request in the buffer, in order, until one is
        still being answered (its followers wait) or only part of a head is left."""
        self._processing = True
        try:
            while self._buffer and self.state in (IDLE, HEAD):
                if not self._next_request():
                    break
        finally:
            self._processing = False

    def _next_request(self) -> bool:
        """Dispatch one request from the buffer; False when its head is not complete."""
        buffer = self._buffer
        if self.state == IDLE:
            if buffer.startswith(b"\r\n"):  # blank lines between requests (RFC 9112 §2.2)
                self._buffer = bytes(buffer).lstrip(b"\r\n")
                return True
            if buffer == b"\r":  # the first half of a blank line: its LF is on its way
                return False
            end = buffer.find(b"\r\n\r\n")
            if end < 0:  # only part of a head: a deadline, and a place among the slow
                self._start_head()
                self._partial_head(buffer)
                return False
            self._guard.idle.pop(self, None)  # a whole head at once: the usual case
        else:
            end = buffer.find(b"\r\n\r\n", max(0, self._scanned - 3))
            if end < 0:
                self._partial_head(buffer)
                return False
            self._guard.heads.pop(self, None)
            self.head_bytes = 0
        self._deadline = _NEVER  # an answer is being made: not idle
        if end + 4 == len(buffer):
            raw, self._buffer = bytes(buffer), b""
        else:
            raw, self._buffer = bytes(buffer[:end + 4]), buffer[end + 4:]
        try:
            head = read_head(raw)  # judges the request line too
        except HeadError as exc:
            self._refuse(exc, raw)
            return False
        fast = self._fast
        if fast is not None and head.plain and fast.serve(self, head):
            return True
        self._delegate(head, raw)
        return True

    def _start_head(self) -> None:
        guard = self._guard
        guard.idle.pop(self, None)
        guard.heads[self] = None
        self.state = HEAD
        self.head_since = time.monotonic()
        self._line_checked = False
        self._scanned = 0
        if self._answered:  # the first head keeps the connection's own deadline
            self._wait(guard.header_timeout)

    def _partial_head(self, buffer: bytes | bytearray) -> None:
        self.head_bytes = size = len(buffer)
        try:
            if not self._line_checked:
                line_end = buffer.find(b"\n", self._scanned, MAX_LINE + 2)
                if line_end >= 0:
                    self._judge_line(buffer)
                elif size > MAX_LINE:
                    raise HeadError(414, "the request line is too long")
            self._scanned = size
            if len(buffer) > MAX_HEAD:
                raise HeadError(431, "the request head is too large")
        except HeadError as exc:
            self._refuse(exc, buffer)

    def _judge_line(self, buffer: bytes | bytearray) -> None:
        """An HTTP/0.9 line, an HTTP/2 preface or a bare LF is answered as soon as its line
        is in, not after a head that will never come. Raises HeadError."""
        line_end = buffer.find(b"\n")
        if line_end == 0 or buffer[line_end - 1] != 0x0D:
            raise HeadError(400, "a line ends without CRLF")
        verdict = check_request_line(bytes(buffer[:line_end - 1]))
        if verdict is not None:
            raise verdict
        self._line_checked = True

    def _end_head(self) -> None:
        self._guard.heads.pop(self, None)
        self.head_bytes = 0
        self._deadline = _NEVER  # an answer is being made: not idle

    # ------------------------------------------------------------------ the fast path's side
    def fast_tail(self, task: asyncio.Task[None]) -> None:
        """A fast answer's body continues in ``task``; what arrives meanwhile waits."""
        self._tail = task
        self.state = STREAMING

    def fast_done(self, keep_alive: bool) -> None:
        """A fast answer is complete (or abandoned: ``keep_alive`` False)."""
        self._tail = None
        self._answer_done(keep_alive)

    # ------------------------------------------------------------------ aiohttp's side
    def _delegate(self, head: RequestHead, raw: bytes) -> None:
        if not head.body:
            self._hand_over(raw)
            return
        try:
            body = RequestBody(without_expect(head, raw), head.body)
        except HeadError as exc:
            self._refuse(exc, raw)
            return
        if "expect" in head.fields and head.minor and self.transport is not None:
            self.transport.write(_CONTINUE)  # aiohttp gets the head without its Expect
        if self.state == IDLE:  # the head came whole: its body's time counts from now
            self.head_since = time.monotonic()
        self.state = BODY
        self._body = body
        self._guard.heads[self] = None  # reclaimable at the cap, as a slow head
        self.head_bytes = len(raw)
        self._wait(max(0.0, self._guard.header_timeout
                       - (time.monotonic() - self.head_since)))
        if self._buffer:
            rest, self._buffer = bytes(self._buffer), b""
            self._body_bytes(rest)

    def _body_bytes(self, data: bytes) -> None:
        """Bytes of the body being collected; once it is whole, the request goes to aiohttp
        and what follows it waits for the answer."""
        body = self._body
        assert body is not None
        try:
            rest = body.feed(data)
        except HeadError as exc:
            self._refuse(exc, body.request[:body.head_size])
            return
        self.head_bytes += len(data) - len(rest)
        if body.done:
            self._body = None
            self._end_head()
            self._hand_over(bytes(body.request))
            if rest:
                self._hold(rest)

    def _hand_over(self, raw: bytes) -> None:
        """The whole request (head and body) to a fresh aiohttp handler."""
        self.state = DELEGATED
        self._delegation = delegation = self._delegator.begin(self)
        if self._writing_paused:
            delegation.pause_writing()
        delegation.feed(raw)

    def delegated_done(self, keep_alive: bool) -> None:
        """aiohttp's answer is complete (its access logger said so)."""
        delegation, self._delegation = self._delegation, None
        if delegation is not None:
            delegation.finish()
        self._answer_done(keep_alive)

    def delegated_closed(self, abort: bool) -> None:
        """aiohttp closed its side (an error it answered, or ``Connection: close``)."""
        if self.transport is not None:
            if abort:
                self.transport.abort()
            else:
                self.transport.close()

    # ------------------------------------------------------------------ between answers
    def _answer_done(self, keep_alive: bool) -> None:
        if self._stall is not None:
            self._stop_stall()
        self._answered = True
        if not keep_alive or self._close_after or self.transport is None:
            self.state = CLOSED
            self.force_close()
            return
        self.state = IDLE
        self._guard.idle[self] = None
        self._wait(self._guard.keepalive_timeout)
        if self._paused and self.transport is not None:
            self._paused = False
            self.transport.resume_reading()
        if self._buffer and not self._processing:
            self._process()

    def _refuse(self, exc: HeadError, raw: bytes | bytearray) -> None:
        """Answer a request this connection cannot frame, then close (nginx does too)."""
        shown = repr(bytes(raw[:100]).split(b"\r\n", 1)[0])[2:-1]
        self._guard.client_error(f"{exc.status} for {shown or '-'}: {exc.message}")
        self._end_head()
        self.state = CLOSED
        if self.transport is not None:
            self.transport.write(error_bytes(exc.status, exc.message))
            self.transport.close()  # after the answer leaves

    # ------------------------------------------------------------------ timers
    def _wait(self, seconds: float) -> None:
        """Close the connection if nothing moves it on within ``seconds``."""
        self._deadline = self._loop.time() + seconds
        if self._timer is None:
            self._timer = self._loop.call_at(self._deadline, self._expired)

    def _expired(self) -> None:
        self._timer = None
        deadline = self._deadline
        if deadline == _NEVER or self.state == CLOSED:
            return  # an answer is being made; its end sets the next deadline
        if self._loop.time() < deadline:
            self._timer = self._loop.call_at(deadline, self._expired)
            return
        if self.state != IDLE or not self._answered:  # nginx's client_header_timeout
            self._guard.header_timeouts += 1
            log.info("client sent no complete request within %g s; connection closed",
                     self._guard.header_timeout)
        self.state = CLOSED
        self.force_close()

    # ------------------------------------------------------------------ writing
    def pause_writing(self) -> None:
        """The transport's buffer is full. A fast answer's body goes by ``sendfile`` under
        the job's send timeout; what aiohttp writes is watched here the same way: reset
        when the client acknowledges nothing for ``send_timeout``."""
        self._writing_paused = True
        if self._delegation is not None:
            self._delegation.pause_writing()
            if self._stall is None and self.transport is not None:
                self._stall = StallWatch(self.transport, self._guard.send_timeout,
                                         self._stalled)

    def resume_writing(self) -> None:
        self._writing_paused = False
        self._stop_stall()
        if self._delegation is not None:
            self._delegation.resume_writing()

    def _stop_stall(self) -> None:
        if self._stall is not None:
            self._stall.stop()
            self._stall = None

    def _stalled(self) -> None:
        self._stall = None
        self._guard.send_timeouts += 1
        log.info("no write progress for %g s (send timeout); connection reset",
                 self._guard.send_timeout)
