"""A new connection starts lean: the stream fast path alone, aiohttp only when needed.

aiohttp's connection protocol costs a new connection a parser, a handler task and its first
step, a keep-alive timer, two ``setsockopt`` calls and registrations, and its close costs
the task's cancellation: ~60 us of CPU, most of a seek that opens its own connection (W4,
W6 in benchmarks/). A :class:`LeanConnection` holds only what the fast path needs (the
guard's bookkeeping, a header timer, an idle timer) and serves stream requests itself. The
first request the fast path declines (a page, the API, an error to give, a partial head)
hands the connection, with that request's bytes, to a
:class:`~mediaserve.adapters.server.connections.GuardedHandler` for good; that handler still
serves later stream requests on its own fast path.
"""

from __future__ import annotations

import asyncio
from typing import Any

from mediaserve.adapters.server.connections import (
    HELD_LIMIT,
    ConnectionGuard,
    GuardedHandler,
    log,
    peer_address,
)


class LeanConnection(asyncio.Protocol):
    """One client connection while the fast path can serve it alone."""

    __slots__ = (
        "_answered",
        "_close_after",
        "_deadline",
        "_fast",
        "_guard",
        "_held",
        "_loop",
        "_remote",
        "_tail",
        "_timer",
        "_writing_paused",
        "sock_fd",
        "transport",
    )

    def __init__(self, guard: ConnectionGuard) -> None:
        self._guard = guard
        fast = guard.fast
        assert fast is not None
        self._fast = fast
        self._loop = asyncio.get_running_loop()
        self.transport: Any = None
        self.sock_fd = -1
        self._remote: str | None = None
        self._tail: asyncio.Task[None] | None = None
        self._held = b""
        self._close_after = False
        self._answered = False  # a request answered: the timer's expiry is an idle one
        self._writing_paused = False
        # one timer for both limits: a head due (header_timeout) or an idle keep-alive
        # (keepalive_timeout); moving the deadline is an attribute store, and the timer
        # re-arms itself when it fires early (as aiohttp's keep-alive timer does)
        self._deadline = 0.0
        self._timer: asyncio.TimerHandle | None = None

    # --- lifecycle --------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        sock = transport.get_extra_info("socket")
        self.sock_fd = sock.fileno() if sock is not None else -1
        guard = self._guard
        guard.opened(self)  # the guard counts both kinds
        guard.idle[self] = None
        self._wait(guard.header_timeout)  # nginx: the first head is due within the timeout

    def connection_lost(self, exc: BaseException | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._tail is not None:
            self._tail.cancel()  # its handler closes the file and counts the abort
        self.transport = None
        self._guard.closed(self)

    def data_received(self, data: bytes) -> None:
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        self._guard.idle.pop(self, None)
        if self._tail is not None:  # a fast response is still going out: bytes wait
            self._held += data
            if len(self._held) > HELD_LIMIT:
                transport.pause_reading()
            return
        if (data.endswith(b"\r\n\r\n") and self.sock_fd >= 0
                and self._fast.serve(self, transport, data)):
            return
        self._hand_over(data)

    def eof_received(self) -> bool:
        return False  # the client is done sending: close (aiohttp does the same)

    def pause_writing(self) -> None:
        self._writing_paused = True  # told to aiohttp's protocol if it takes over now

    def resume_writing(self) -> None:
        self._writing_paused = False

    # --- the fast path's side (see fastpath.FastConnection) ---------------------------
    @property
    def remote(self) -> str | None:
        """The client's address, for the access log (looked up once, when first asked)."""
        remote = self._remote
        if remote is None:
            remote = self._remote = peer_address(self.transport)
        return remote or None

    def fast_tail(self, task: asyncio.Task[None]) -> None:
        self._tail = task
        self._deadline = float("inf")  # a body going out is not idle (send timeout's job)

    def fast_done(self, keep_alive: bool) -> None:
        self._tail = None
        self._answered = True
        transport = self.transport
        if not keep_alive or self._close_after or transport is None:
            self.force_close()
            return
        self._wait(self._guard.keepalive_timeout)
        self._guard.idle[self] = None
        held = self._held
        if held:
            self._held = b""
            transport.resume_reading()
            self.data_received(held)

    # --- the guard's side -------------------------------------------------------------
    def force_close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def shutdown_idle(self) -> None:
        """At shutdown: close now unless a response is going out, else after it."""
        if self._tail is not None:
            self._close_after = True
        else:
            self.force_close()

    # --- timers -----------------------------------------------------------------------
    def _wait(self, seconds: float) -> None:
        """Close the connection if no request comes within ``seconds``."""
        self._deadline = self._loop.time() + seconds
        if self._timer is None:
            self._timer = self._loop.call_at(self._deadline, self._expired)

    def _expired(self) -> None:
        self._timer = None
        deadline = self._deadline
        if deadline == float("inf"):
            return  # a response is going out; fast_done sets the next deadline
        if self._loop.time() < deadline:
            self._timer = self._loop.call_at(deadline, self._expired)
            return
        if not self._answered:  # the first head never came: nginx's client_header_timeout
            self._guard.header_timeouts += 1
            log.info("client sent no complete request head within %g s; connection closed",
                     self._guard.header_timeout)
        self.force_close()

    # --- hand-over --------------------------------------------------------------------
    def _hand_over(self, data: bytes) -> None:
        """Give the connection and ``data`` to aiohttp's protocol, for good."""
        transport = self.transport
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        guard = self._guard
        guard.handlers.discard(self)
        guard.idle.pop(self, None)
        self.transport = None  # connection_lost now belongs to the handler
        handler = guard.handler()
        transport.set_protocol(handler)
        handler.connection_made(transport)
        if not self._answered:  # the first head is still due by the original deadline
            handler.continue_header_deadline(self._deadline - self._loop.time())
        if self._writing_paused:
            handler.pause_writing()
        if data:
            handler.data_received(data)


__all__ = ["GuardedHandler", "LeanConnection"]
