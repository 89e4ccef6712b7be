"""Write file spans to a transport: zero-copy ``sendfile`` with a chunked fallback.

The fast path calls ``os.sendfile`` directly when the transport's buffer is empty: on a
keep-alive connection with room in the socket buffer a 64 KiB seek read leaves in one syscall
and no await, where ``loop.sendfile`` always pays for a waiter future and a loop iteration.
When the socket is full we wait for writability ourselves (uvloop has no native
``loop.sendfile``), so one code path serves both event loops without copying. The
fallback (TLS, or ``sendfile = false``) reads bounded 256 KiB chunks with
``os.pread`` in the default executor and writes them with back-pressure, so memory per stream
stays constant either way.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from typing import Any

from mediaserve.core.http.pacing import MIN_CHUNK, Pacer

CHUNK = 256 * 1024
#: the most one ``sendfile`` call may send before the stream yields to the event loop
#: (nginx's ``sendfile_max_chunk``). Without it a new stream's first call fills a loopback
#: socket's autotuned buffer, ~4.5 MB in ~1.5 ms with the loop blocked, and 1,000 streams
#: opened within a second delay each other's first bytes by up to 200 ms (W5's TTFB).
SENDFILE_CHUNK = 1024 * 1024


class ShortFile(ConnectionError):
    """The file shrank under us: the promised Content-Length can no longer be honoured."""


class Meter:
    """Body bytes handed to the socket (or the transport) so far, kept up to date even when
    a send fails part-way, so an abandoned stream is logged with what really left.

    No ``__init__`` and no ``__slots__`` on purpose (as ``core.stats.Hit``): the count
    starts as the class's 0, so making a meter (once per stream answer) is one C call, not
    a Python ``__init__``."""

    sent = 0


def sendfile_capable(transport: asyncio.BaseTransport | None) -> bool:
    """True for a plain TCP transport (TLS transports have no socket to sendfile into)."""
    if transport is None or transport.get_extra_info("sslcontext") is not None:
        return False
    return transport.get_extra_info("socket") is not None


#: how often a stream parked on a full socket checks that its connection still exists:
#: the transport may close (shutdown, an aborted peer) without the socket turning writable
_PARK_CHECK = 1.0


class _Parked:
    """Waiting for a full socket to take more bytes, without ``loop.sendfile``.

    uvloop has no native ``loop.sendfile``, and asyncio's costs a waiter and a loop
    iteration even when the socket has room. The transport owns the socket's descriptor in
    the loop's poller, so we watch a duplicate of it (same socket, another number), made at
    a stream's first full socket and closed when its span ends: one ``dup`` per span, not
    one per wake-up (1,000 slow streams wake ~8,000 times a second)."""

    __slots__ = ("fd", "loop")

    def __init__(self, loop: asyncio.AbstractEventLoop, sock_fd: int) -> None:
        self.loop = loop
        self.fd = os.dup(sock_fd)

    async def writable(self, transport: asyncio.WriteTransport) -> None:
        """Return once the socket is writable, or after ``_PARK_CHECK`` seconds (the caller
        just tries again); ConnectionResetError once the transport is closing."""
        loop = self.loop
        waiter = loop.create_future()
        loop.add_writer(self.fd, _wake, waiter)
        timer = loop.call_later(_PARK_CHECK, _wake, waiter)
        try:
            await waiter
        finally:
            timer.cancel()
            loop.remove_writer(self.fd)
        if transport.is_closing():
            raise ConnectionResetError("connection lost while waiting to send")

    async def pump(self, transport: asyncio.WriteTransport, sock_fd: int, fd: int,
                   offset: int, count: int, meter: Meter) -> None:
        """The rest of an unpaced span, sent by the writer callback itself (:class:`_Pump`).

        Why: parking per wake-up (a future, ``add_writer``, a timer, a task step, then
        ``remove_writer``) cost ~6 ``epoll_ctl`` and an ``ioctl`` per wake-up under uvloop
        (strace of W5: 79,000 ``epoll_ctl`` for 13,000 waits; 5,000 with the pump), and the
        task steps delayed new streams' first bytes. The duplicate stays registered for the
        whole span; level-triggered, the callback runs each loop iteration the socket has
        room (one ``sendfile`` of at most ``SENDFILE_CHUNK``, so other connections get their
        turn), and not at all while it is full."""
        loop = self.loop
        pump = _Pump(loop, transport, sock_fd, fd, offset, count, meter)
        loop.add_writer(self.fd, pump.writable)
        try:
            await pump.done
        finally:
            pump.stop()
            loop.remove_writer(self.fd)
        error, pump.error = pump.error, None
        if error is not None:
            try:
                raise error
            finally:  # no frame of ours keeps the exception that holds this frame
                del error

    def close(self) -> None:
        os.close(self.fd)


class _Pump:
    """One span's sending from the writer callback. A class, not closures: a timer that
    re-arms itself from a nested function is a reference cycle per span, and 1,000
    streams' cycles made the collector's full pass a 35 ms pause (``stop`` drops the
    timer, so nothing here outlives the span)."""

    __slots__ = ("at", "done", "error", "fd", "left", "loop", "meter", "sock_fd", "timer",
                 "transport")

    def __init__(self, loop: asyncio.AbstractEventLoop, transport: asyncio.WriteTransport,
                 sock_fd: int, fd: int, offset: int, count: int, meter: Meter) -> None:
        self.loop = loop
        self.transport = transport
        self.sock_fd = sock_fd
        self.fd = fd
        self.at = offset
        self.left = count
        self.meter = meter
        #: set when the span ends; ``error`` says how, if it failed (an exception kept in
        #: the future would hold the frames its traceback names: a cycle per stream)
        self.done: asyncio.Future[None] = loop.create_future()
        self.error: BaseException | None = None
        # a transport closed under us (shutdown) never makes the duplicate writable
        self.timer: asyncio.TimerHandle | None = loop.call_later(_PARK_CHECK, self.check)

    def writable(self) -> None:
        done = self.done
        if done.done():
            return
        if self.transport.is_closing():
            self.fail(ConnectionResetError("connection lost"))
            return
        left = self.left
        try:
            sent = os.sendfile(self.sock_fd, self.fd, self.at, min(left, SENDFILE_CHUNK))
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self.fail(exc.with_traceback(None))
            return
        if sent == 0:
            self.fail(ShortFile(f"file ended {left} bytes early"))
            return
        self.meter.sent += sent
        self.at += sent
        self.left = left - sent
        if left == sent:
            done.set_result(None)

    def fail(self, error: BaseException) -> None:
        self.error = error
        self.done.set_result(None)

    def check(self) -> None:
        if self.transport.is_closing():
            self.writable()
        elif not self.done.done():
            self.timer = self.loop.call_later(_PARK_CHECK, self.check)

    def stop(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


async def send_span(loop: asyncio.AbstractEventLoop, transport: asyncio.WriteTransport,
                    fd: int, offset: int, count: int, meter: Meter | None = None,
                    pacer: Pacer | None = None) -> int:
    """Send ``count`` bytes of ``fd`` from ``offset`` with sendfile; returns bytes sent.
    ``pacer``: no faster than its rate, after its burst (a profile's bandwidth limit).

    The fast path is one ``os.sendfile`` with no await: a seek read on a socket with room
    leaves in one syscall. Anything the transport still buffers (headers, a multipart
    preamble) must leave first, so we wait for its buffer to drain before the first call.
    Raises OSError when the connection is gone (ShortFile when the file ended early)."""
    meter = meter or Meter()
    sock: Any = transport.get_extra_info("socket")
    sock_fd = sock.fileno()
    sent_total = 0
    parked: _Parked | None = None
    try:
        if transport.get_write_buffer_size():
            parked = _Parked(loop, sock_fd)
            await _drained(transport, parked)
        while count:
            if transport.is_closing():
                raise ConnectionResetError("connection lost")
            step = min(count, SENDFILE_CHUNK)
            if pacer is not None:
                step = await _paced(loop, pacer, meter, step)
            try:
                sent = os.sendfile(sock_fd, fd, offset, step)
            except (BlockingIOError, InterruptedError):
                sent = -1  # waited for below, not in here: an await inside the handler
                # would chain this exception into whatever ends the wait (a cycle per stream)
            if sent < 0:
                if parked is None:
                    parked = _Parked(loop, sock_fd)
                if pacer is None:  # the socket is full: the rest from its writer callback
                    before = meter.sent
                    await parked.pump(transport, sock_fd, fd, offset, count, meter)
                    return sent_total + meter.sent - before
                await parked.writable(transport)
                continue
            if sent == 0:
                raise ShortFile(f"file ended {count} bytes early")
            meter.sent += sent
            sent_total += sent
            offset += sent
            count -= sent
            if sent == SENDFILE_CHUNK and count:
                await asyncio.sleep(0)  # a whole chunk left: let the other connections run
    finally:
        if parked is not None:
            parked.close()
    return sent_total


async def _paced(loop: asyncio.AbstractEventLoop, pacer: Pacer, meter: Meter,
                 step: int) -> int:
    """How much of ``step`` may leave now, after sleeping until at least a useful chunk
    (MIN_CHUNK, or all of a smaller ``step``) is allowed."""
    wanted = min(step, MIN_CHUNK)
    allowed = pacer.allowance(meter.sent, loop.time())
    while allowed < wanted:
        await asyncio.sleep(pacer.wait(meter.sent, loop.time(), wanted))
        allowed = pacer.allowance(meter.sent, loop.time())
    return min(step, allowed)


async def _drained(transport: asyncio.WriteTransport, parked: _Parked) -> None:
    """Wait until the transport has flushed what it buffered (a multipart preamble written
    while the previous part still filled the socket): bytes must leave in order."""
    while transport.get_write_buffer_size():
        if transport.is_closing():
            raise ConnectionResetError("connection lost")
        await parked.writable(transport)
        await asyncio.sleep(0)  # let the transport's own writer callback flush first


async def write_span_chunked(loop: asyncio.AbstractEventLoop,
                             write: Callable[[bytes], Awaitable[None]], fd: int, offset: int,
                             count: int, meter: Meter | None = None,
                             pacer: Pacer | None = None) -> int:
    """Fallback: bounded chunks read off the event loop, each handed to ``write`` (which
    applies back-pressure: aiohttp's ``response.write`` waits for its transport to drain)."""
    meter = meter or Meter()
    sent = 0
    while count:
        step = min(CHUNK, count)
        if pacer is not None:
            step = await _paced(loop, pacer, meter, step)
        chunk = await loop.run_in_executor(None, os.pread, fd, step, offset)
        if not chunk:
            raise ShortFile(f"file ended {count} bytes early")
        meter.sent += len(chunk)  # handed to the transport: counted even if the drain fails
        await write(chunk)
        sent += len(chunk)
        offset += len(chunk)
        count -= len(chunk)
    return sent
