"""Hand one request to aiohttp through its public interfaces only.

aiohttp's request handler is an ``asyncio.Protocol``; ``web.Server`` (an ``AppRunner``'s
``server``) makes one per call. For each request the connection does not answer itself, a
:class:`Delegation` makes a fresh handler and connects it to a :class:`ShimTransport`, a
transport of ours that passes everything aiohttp writes to the real one. The connection feeds
the handler exactly the bytes of that one request (it framed them); aiohttp parses and answers
as if it owned a connection that carried one request. Its access logger (our class, the only
hook aiohttp calls once per finished answer) tells the shim the answer is complete; the
handler is then disconnected, and the connection owns its socket again.

Why a handler per request and not one per connection: the connection alone decides what
comes next on its socket (the fast path, another delegation, a timeout), and no aiohttp
internals are touched to keep its timers and queues in step. It costs ~30 µs per delegated
request (pages and the API), nothing per stream request. Measured: ``benchmarks/RESULTS.md``.

aiohttp itself is built on first use (``Delegator``): a server that has only streamed has not
imported it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from mediaserve.adapters.server.net.connection import HttpConnection
from mediaserve.adapters.server.net.refusal import error_bytes

log = logging.getLogger("mediaserve")

#: makes aiohttp's handler protocol for one request (``runner.server``, a ``web.Server``)
HandlerFactory = Callable[[], asyncio.Protocol]


class ShimTransport(asyncio.Transport):
    """The transport aiohttp's handler writes to, for one request: writes go to the real
    transport while the delegation is live and are dropped after it."""

    def __init__(self, conn: HttpConnection, delegation: Delegation) -> None:
        super().__init__()
        self._conn = conn
        self._delegation: Delegation | None = delegation
        self._protocol: asyncio.BaseProtocol | None = None

    # -- what aiohttp calls -------------------------------------------------------------
    def write(self, data: bytes | bytearray | memoryview) -> None:
        real = self._real()
        if real is not None:
            real.write(data)

    def writelines(self, list_of_data: Any) -> None:
        real = self._real()
        if real is not None:
            real.writelines(list_of_data)

    def is_closing(self) -> bool:
        real = self._real()
        return real is None or real.is_closing()

    def close(self) -> None:
        if self._delegation is not None:
            self._delegation = None
            self._conn.delegated_closed(abort=False)

    def abort(self) -> None:
        if self._delegation is not None:
            self._delegation = None
            self._conn.delegated_closed(abort=True)

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        real = self._conn.transport
        return real.get_extra_info(name, default) if real is not None else default

    # aiohttp is handed its whole request at once (the connection collects the body first):
    # it has nothing to pause, and what comes next is the connection's to hold or pause
    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def is_reading(self) -> bool:
        return self._delegation is not None

    def get_write_buffer_size(self) -> int:
        real = self._real()
        return int(real.get_write_buffer_size()) if real is not None else 0

    def get_write_buffer_limits(self) -> tuple[int, int]:
        real = self._real()
        return tuple(real.get_write_buffer_limits()) if real is not None else (0, 0)

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        real = self._real()
        if real is not None:
            real.set_write_buffer_limits(high, low)

    def can_write_eof(self) -> bool:
        return False

    def write_eof(self) -> None:
        raise NotImplementedError("a delegated request cannot half-close the connection")

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._protocol = protocol

    def get_protocol(self) -> asyncio.BaseProtocol:
        assert self._protocol is not None
        return self._protocol

    # -- what our access logger calls ------------------------------------------------------
    def response_done(self, keep_alive: bool) -> None:
        """aiohttp finished writing its answer: give the connection back (in a moment, once
        aiohttp's own step that logged it has returned)."""
        delegation, self._delegation = self._delegation, None
        if delegation is not None:
            asyncio.get_running_loop().call_soon(self._conn.delegated_done, keep_alive)

    def detach(self) -> None:
        self._delegation = None

    def _real(self) -> Any:
        return self._conn.transport if self._delegation is not None else None


class Delegation:
    """One request on its way through aiohttp: bytes in, the answer out through the shim."""

    __slots__ = ("_handler", "_pending", "_shim")

    def __init__(self, conn: HttpConnection, delegator: Delegator) -> None:
        self._shim = ShimTransport(conn, self)
        self._handler: asyncio.Protocol | None = None
        self._pending: list[bytes] | None = None
        factory = delegator.factory
        if factory is not None:
            self._attach(factory)
        else:  # aiohttp is being built: the bytes wait for it
            self._pending = []
            delegator.waiting.append(self)

    def _attach(self, factory: HandlerFactory) -> None:
        handler = self._handler = factory()
        self._shim.set_protocol(handler)
        handler.connection_made(self._shim)

    def ready(self, factory: HandlerFactory | None, error: BaseException | None) -> None:
        """aiohttp is built (or failed to build: the connection is closed)."""
        pending, self._pending = self._pending or [], None
        if factory is None:  # a clear answer, not an empty reply (the log says why)
            self._shim.write(error_bytes(503, "the server could not start its web "
                                              "application; its log says why"))
            self._shim.close()
            return
        self._attach(factory)
        for data in pending:
            self.feed(data)

    def feed(self, data: bytes) -> None:
        if self._pending is not None:
            self._pending.append(bytes(data))
        elif self._handler is not None:
            self._handler.data_received(bytes(data))

    def pause_writing(self) -> None:
        if self._handler is not None:
            self._handler.pause_writing()

    def resume_writing(self) -> None:
        if self._handler is not None:
            self._handler.resume_writing()

    def finish(self, exc: Exception | None = None) -> None:
        """Disconnect aiohttp's handler: its answer is complete, or the client is gone
        (``exc``: a handler still running is told the connection was lost)."""
        self._shim.detach()
        self._pending = None
        handler, self._handler = self._handler, None
        if handler is not None:
            handler.connection_lost(exc)


class Delegator:
    """Builds aiohttp's handler factory on first need (``build``) and starts delegations."""

    def __init__(self, build: Callable[[], Awaitable[HandlerFactory]],
                 factory: HandlerFactory | None = None) -> None:
        self._build = build
        self.factory = factory
        self.waiting: list[Delegation] = []
        self._building: asyncio.Task[None] | None = None

    def begin(self, conn: HttpConnection) -> Delegation:
        if self.factory is None and self._building is None:
            self._building = asyncio.get_running_loop().create_task(self._make())
        return Delegation(conn, self)

    async def _make(self) -> None:
        error: BaseException | None = None
        try:
            self.factory = await self._build()
        except Exception as exc:  # every waiter gets a 503; the next request tries again
            log.exception("could not build the web application (pages and the API answer "
                          "503 until it builds)")
            error = exc
            self._building = None
        waiting, self.waiting = self.waiting, []
        for delegation in waiting:
            delegation.ready(self.factory, error)
