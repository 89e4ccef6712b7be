"""Per-connection limits the way nginx keeps them: header timeout, send timeout for what
aiohttp writes, bad request lines answered at once, one quiet line per client error, and the
bookkeeping behind the connection cap.

aiohttp's ``RequestHandler`` has a single idle timer (``keepalive_timeout``) that also bounds
how long a request head may take, and nothing else: a client may hold a connection for 75 s
with half a request line, ``GET /`` (HTTP/0.9, no version) waits for headers that never come,
an ``HTTP/2.0`` request line is answered as ``HTTP/2.0 200 OK`` in HTTP/1 framing, and every
malformed request is logged at ERROR with the parser's multi-line message.

:class:`GuardedHandler` adds what is missing per connection; :class:`ConnectionGuard` counts
connections, keeps the idle ones in order, and is the protocol factory the listener (see
:mod:`listener`) hands accepted sockets to.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Callable
from typing import Any, Protocol

from aiohttp import web
from aiohttp.web_protocol import RequestHandler

from mediaserve.adapters.server.errorlog import RateLimitedLog
from mediaserve.adapters.server.fastpath import FastStreams
from mediaserve.adapters.server.sendtimeout import bytes_acked, check_interval, reset_on_close
from mediaserve.adapters.server.state import SERVER_NAME
from mediaserve.adapters.web.http import json_error
from mediaserve.core.http.request_head import close_cut

log = logging.getLogger("mediaserve")

#: the fast path drives aiohttp's keep-alive timer through these RequestHandler internals;
#: on an aiohttp without them every request takes aiohttp's own path
FAST_PATH_FITS = all(hasattr(RequestHandler, name) for name in (
    "_keepalive_handle", "_next_keepalive_close_time", "_keepalive_timeout",
    "_process_keepalive", "_waiter", "_messages", "_request_count"))
#: bytes a client may send ahead while a fast response is written before reading pauses
HELD_LIMIT = 64 * 1024


def peer_address(transport: Any) -> str:
    """The client's address for the access log, "" when the transport has none (uvloop asks
    the kernel each time: callers keep the answer for the connection)."""
    peer = transport.get_extra_info("peername") if transport is not None else None
    return peer[0] if isinstance(peer, (tuple, list)) else ""

# the start of a request line: METHOD SP TARGET [SP HTTP/major.minor]
# (a version of more than 9 digits does not match: aiohttp's parser refuses it; int() of
# thousands of digits would raise in data_received, dropping the connection unanswered)
_REQUEST_LINE = re.compile(rb"([!-~]+) +([^ ]+)(?: +HTTP/(\d{1,9})\.(\d{1,9}))? *\r?\n")


def _error_bytes(status: int, reason: str, message: str) -> bytes:
    body = json.dumps({"error": message}).encode()
    head = (f"HTTP/1.1 {status} {reason}\r\nServer: {SERVER_NAME}\r\n"
            f"Content-Type: application/json; charset=utf-8\r\nContent-Length: {len(body)}\r\n"
            "Connection: close\r\n\r\n")
    return head.encode("ascii") + body


class GuardedHandler(RequestHandler):
    """aiohttp's connection protocol plus a header timeout, request-line checks, JSON
    answers and one INFO line for client errors, and bookkeeping for the cap and shutdown."""

    def __init__(self, manager: Any, *, guard: ConnectionGuard, header_timeout: float,
                 **kwargs: Any) -> None:
        super().__init__(manager, **kwargs)
        self._guard = guard
        self._header_timeout = header_timeout
        self._header_timer: asyncio.TimerHandle | None = None
        self._stall_timer: asyncio.TimerHandle | None = None
        self._stall_progress = (-1, 0.0)  # (bytes acknowledged, when they last moved)
        self._line = b""  # the start of the current request head, until its line is checked
        self._line_checked = False
        self._counted = False
        # the stream fast path (fastpath.py): set up per connection in connection_made
        self._fast: FastStreams | None = None
        self.sock_fd = -1
        self._remote: str | None = None  # the peer's address, once the access log asked
        self._fast_task: asyncio.Task[None] | None = None
        self._held = b""  # what arrived while a fast response was still being written
        self._close_after_fast = False
        self._paused_for_fast = False  # reading paused while held bytes wait
        self._closing = False  # a head asked to close: what follows it is not read

    # --- lifecycle ------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._guard.opened(self)
        self._counted = True
        super().connection_made(transport)
        self._arm_header_timer()  # nginx: the first request head is due within the timeout
        self._guard.idle[self] = None
        fast = self._guard.fast  # None under TLS (start_server): nothing to sendfile into
        if fast is not None and FAST_PATH_FITS:
            sock = transport.get_extra_info("socket")
            if sock is not None:
                self._fast = fast
                self.sock_fd = sock.fileno()

    @property
    def remote(self) -> str | None:
        """The client's address, for the access log: looked up when the first line is due
        (uvloop asks the kernel each time), then kept for the connection's other lines."""
        remote = self._remote
        if remote is None:
            remote = self._remote = peer_address(self.transport)
        return remote or None

    def log_access(self, request: Any, response: Any, time: float | None) -> None:
        """Called once per finished response: the connection is idle again (reclaimable at
        the cap) unless another request is already queued behind it."""
        super().log_access(request, response, time)
        if not self._messages and not self._force_close and not self._close:
            self._guard.idle[self] = None

    def connection_lost(self, exc: BaseException | None) -> None:
        self._disarm_header_timer()
        if self._fast_task is not None:
            self._fast_task.cancel()  # its handler closes the file and counts the abort
        if self._stall_timer is not None:
            self._stall_timer.cancel()
            self._stall_timer = None
        if self._counted:
            self._counted = False
            self._guard.closed(self)
        super().connection_lost(exc)

    def shutdown_idle(self) -> None:
        """At shutdown: close now when no request is being handled, else after it."""
        if self._fast_task is not None:
            self._close_after_fast = True
        elif getattr(self, "_current_request", None) is None and not self._messages:
            self.force_close()
        else:
            self.close()

    # --- request heads --------------------------------------------------------------------
    def data_received(self, data: bytes) -> None:
        if self._force_close or self._close or self._closing:
            return
        self._guard.idle.pop(self, None)
        if self._fast_task is not None:  # a fast response is still going out: bytes wait
            self._held += data
            if (len(self._held) > HELD_LIMIT and self.transport is not None
                    and not self._paused_for_fast):
                self._paused_for_fast = True
                self.transport.pause_reading()
            return
        if not self._line_checked and not self._line:  # at a head's start
            cut = close_cut(data)
            if cut is not None:  # a head asks to close, and more follows: what nginx does
                data = data[:cut]  # (answer it, read no further) instead of aiohttp's 400
                self._closing = True
        fast = self._fast
        # aiohttp is idle when its loop waits for a message, or has never had one (on a new
        # connection its task may not have started yet); and we are at a head's start
        if (fast is not None and not self._line_checked and not self._line
                and not self._messages and (self._waiter is not None or not self._request_count)
                and data.endswith(b"\r\n\r\n") and fast.serve(self, self.transport, data)):
            return
        if not self._line_checked and not self._check_request_line(data):
            return
        before = self._request_count
        super().data_received(data)
        if self._request_count != before:  # one or more heads complete
            self._disarm_header_timer()
            # a head that ended with this chunk leaves the next one to be checked from its
            # start (and open to the fast path); a pipelined head begun in the same chunk,
            # even one cut right after its request line, or one behind a request body, is
            # left to aiohttp's parser
            body_follows = bool(self._messages) and not self._messages[-1][1].is_eof()
            self._line = b""
            self._line_checked = body_follows or not data.endswith((b"\r\n\r\n", b"\n\n"))
        elif data and self._header_timer is None:
            self._arm_header_timer()

    # --- the stream fast path (see fastpath.py) ---------------------------------------------
    def fast_tail(self, task: asyncio.Task[None]) -> None:
        """A fast response continues in ``task``: aiohttp's idle timer must not fire
        under it (its handler looks idle to aiohttp), and new bytes wait for it."""
        self._disarm_header_timer()
        self._fast_task = task
        if self._keepalive_handle is not None:
            self._keepalive_handle.cancel()
            self._keepalive_handle = None

    def fast_done(self, keep_alive: bool) -> None:
        """A fast response is complete (or abandoned): idle again, or closed."""
        self._disarm_header_timer()
        self._fast_task = None
        if not keep_alive or self._close_after_fast or self._close or self._force_close:
            self.force_close()
            return
        loop = self._loop
        close_time = loop.time() + self._keepalive_timeout
        self._next_keepalive_close_time = close_time  # aiohttp's timer re-arms itself
        if self._keepalive_handle is None:
            self._keepalive_handle = loop.call_at(close_time, self._process_keepalive)
        self._guard.idle[self] = None
        held = self._held
        if held:
            self._held = b""
            if self._paused_for_fast and self.transport is not None:
                self._paused_for_fast = False
                self.transport.resume_reading()
            self.data_received(held)

    def continue_header_deadline(self, remaining: float) -> None:
        """A lean connection handed over before its first answer: the head it is waiting
        for was due ``remaining`` seconds from now, not a whole header timeout later."""
        self._disarm_header_timer()
        self._header_timer = self._loop.call_later(max(remaining, 0.0), self._header_expired)

    def _check_request_line(self, data: bytes) -> bool:
        """Answer what aiohttp would hold or misframe; False when the connection is done."""
        self._line += data
        end = self._line.find(b"\n")
        if end < 0:
            if len(self._line) > 8190:  # aiohttp's max_line_size rejects it
                self._line, self._line_checked = b"", True
            return True
        self._line_checked = True
        line, self._line = self._line[:end + 1], b""
        match = _REQUEST_LINE.match(line)
        if match is None:
            return True  # aiohttp's parser answers 400 with its reason
        if match[3] is None:
            self._refuse(400, "Bad Request", "HTTP/0.9 request lines are not supported",
                         line)
            return False
        major, minor = int(match[3]), int(match[4])
        if major >= 2:
            self._refuse(505, "HTTP Version Not Supported",
                         f"HTTP/{major}.{minor} is not supported here; use HTTP/1.1", line)
            return False
        if major == 0:
            self._refuse(400, "Bad Request", "HTTP/0.9 request lines are not supported", line)
            return False
        return True

    def _refuse(self, status: int, reason: str, message: str, line: bytes) -> None:
        self._guard.client_error(self, f"{status} for {_shown(line)}: {message}")
        self._disarm_header_timer()
        if self.transport is not None:
            self.transport.write(_error_bytes(status, reason, message))
        self.force_close()  # closes after the answer leaves

    # --- header timeout -------------------------------------------------------------------
    def _arm_header_timer(self) -> None:
        self._disarm_header_timer()
        self._header_timer = self._loop.call_later(self._header_timeout, self._header_expired)

    def _disarm_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _header_expired(self) -> None:
        self._header_timer = None
        if getattr(self, "_current_request", None) is not None or self._messages:
            # bytes that arrived during a request (a body, a pipelined head): aiohttp's
            # keep-alive timer bounds them once the response is done
            return
        self._guard.header_timeouts += 1
        log.info("client sent no complete request head within %g s; connection closed",
                 self._header_timeout)
        self.force_close()

    # --- send timeout for what aiohttp writes (JSON, pages, chunked bodies) ---------------
    def pause_writing(self) -> None:
        """The transport's buffer is full: from now on the client must make progress.
        (Streams through sendfile never fill it; ``sendtimeout.SendTimeout`` covers them.)"""
        super().pause_writing()
        now = self._loop.time()
        self._stall_progress = (bytes_acked(self._socket()), now)
        if self._stall_timer is None:
            self._stall_timer = self._loop.call_later(
                check_interval(self._guard.send_timeout), self._check_stall)

    def resume_writing(self) -> None:
        super().resume_writing()
        if self._stall_timer is not None:
            self._stall_timer.cancel()
            self._stall_timer = None

    def _socket(self) -> Any:
        return self.transport.get_extra_info("socket") if self.transport is not None else None

    def _check_stall(self) -> None:
        self._stall_timer = None
        if not self.writing_paused or self.transport is None:
            return
        now = self._loop.time()
        acked = bytes_acked(self._socket())
        last, since = self._stall_progress
        if acked != last:
            self._stall_progress = (acked, now)
        elif now - since >= self._guard.send_timeout:
            self._guard.send_timeouts += 1
            log.info("no write progress for %g s (send timeout); connection reset",
                     self._guard.send_timeout)
            reset_on_close(self.transport)
            self.transport.abort()  # the handler's drain fails with ConnectionResetError
            return
        self._stall_timer = self._loop.call_later(check_interval(self._guard.send_timeout),
                                                  self._check_stall)

    # --- errors ---------------------------------------------------------------------------
    def handle_error(self, request: Any, status: int = 500, exc: BaseException | None = None,
                     message: str | None = None) -> web.StreamResponse:
        """Client errors: one INFO line (nginx logs them at info too) and a JSON answer.
        Server errors keep aiohttp's handling: logged at ERROR with the traceback."""
        if status >= 500:
            return super().handle_error(request, status, exc, message)
        text = str(getattr(exc, "message", None) or message or exc or "")
        first = " ".join(text.split())[:200] or "bad request"  # the parser's text is multi-line
        self._guard.client_error(self, f"{status} from {request.remote}: {first}")
        if request.writer.output_size > 0:
            raise ConnectionError("response already started; cannot answer the error")
        response = json_error(status, first)
        response.headers["Server"] = SERVER_NAME
        response.force_close()
        return response


def _shown(line: bytes) -> str:
    return repr(line.rstrip(b"\r\n")[:100])[2:-1]


class Connection(Protocol):
    """What the guard needs of a connection: aiohttp's (:class:`GuardedHandler`) or a
    lean one (``lean.LeanConnection``, the fast path alone)."""

    def force_close(self) -> None: ...

    def shutdown_idle(self) -> None: ...


class ConnectionGuard:
    """Counts connections, keeps the idle ones in order for reclaiming, and is the protocol
    factory the listener hands accepted sockets to: a lean connection when the stream fast
    path is on (``lean``, set by ``start_server``), aiohttp's protocol otherwise."""

    def __init__(self, server: web.Server, handler_kwargs: dict[str, Any], cap: int,
                 header_timeout: float, limited: RateLimitedLog,
                 send_timeout: float = 60.0) -> None:
        self.server = server
        self.handler_kwargs = handler_kwargs
        self.cap = cap
        self.header_timeout = header_timeout
        self.send_timeout = send_timeout
        self.send_timeouts = 0
        self.limited = limited
        self.keepalive_timeout = float(handler_kwargs.get("keepalive_timeout", 75.0))
        self.handlers: set[Connection] = set()
        #: connections waiting for a request with no byte of it received, oldest first
        self.idle: dict[Connection, None] = {}
        self.closing: set[Connection] = set()  # reclaimed, not yet gone
        self.pending = 0  # accepted, connection (or TLS handshake) not yet made
        self.reclaimed = 0
        self.header_timeouts = 0
        self.client_errors = 0
        self.on_closed: Any = None  # the listener's "resume accepting"
        self.fast: FastStreams | None = None  # the stream fast path, when it is on
        #: what a new connection starts as when the fast path is on (lean.LeanConnection)
        self.lean: Callable[[ConnectionGuard], asyncio.BaseProtocol] | None = None

    @property
    def active(self) -> int:
        return len(self.handlers)

    def full(self) -> bool:
        return len(self.handlers) - len(self.closing) + self.pending >= self.cap

    def reclaim_idle(self) -> bool:
        """Close the longest-idle connection to make room, as nginx does with idle keep-alive
        connections when it runs out; False when every connection is busy."""
        while self.idle:
            handler = next(iter(self.idle))
            del self.idle[handler]
            if handler in self.handlers and handler not in self.closing:
                self.closing.add(handler)
                self.reclaimed += 1
                self.limited(logging.WARNING, "reclaim", f"{self.cap} connections open "
                             "(--max-connections): closing idle ones to make room")
                handler.force_close()
                return True
        return False

    def __call__(self) -> asyncio.BaseProtocol:
        if self.lean is not None and self.fast is not None:
            return self.lean(self)
        return self.handler()

    def handler(self) -> GuardedHandler:
        """aiohttp's protocol for a connection (a lean one hands itself over to it)."""
        return GuardedHandler(self.server, guard=self, header_timeout=self.header_timeout,
                              loop=asyncio.get_running_loop(), **self.handler_kwargs)

    def opened(self, handler: Connection) -> None:
        self.handlers.add(handler)

    def closed(self, handler: Connection) -> None:
        self.handlers.discard(handler)
        self.idle.pop(handler, None)
        self.closing.discard(handler)
        if self.on_closed is not None:
            self.on_closed()

    def client_error(self, handler: Connection, text: str) -> None:
        self.client_errors += 1
        if log.isEnabledFor(logging.INFO):
            log.info("bad request: %s", text)

    def shutdown_idle(self) -> None:
        """Close idle keep-alive connections now; busy ones close after their response."""
        for handler in list(self.handlers):
            handler.shutdown_idle()


def install_server_headers(app: web.Application, hsts_max_age: int) -> None:
    """``Server: mediaserve`` on every response (aiohttp's default names Python's and its
    own version, a gift to scanners), and HSTS over TLS when configured."""

    async def headers(request: web.Request, response: web.StreamResponse) -> None:
        response.headers["Server"] = SERVER_NAME
        if hsts_max_age and request.secure:
            response.headers["Strict-Transport-Security"] = f"max-age={hsts_max_age}"

    app.on_response_prepare.append(headers)
