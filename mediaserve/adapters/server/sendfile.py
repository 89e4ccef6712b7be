"""Write file spans to an aiohttp transport: zero-copy ``sendfile`` with a chunked fallback.

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
from typing import Any

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
    a send fails part-way, so an abandoned stream is logged with what really left."""

    __slots__ = ("sent",)

    def __init__(self) -> None:
        self.sent = 0


def sendfile_capable(transport: asyncio.BaseTransport | None) -> bool:
    """True for a plain TCP transport (TLS transports have no socket to sendfile into)."""
    if transport is None or transport.get_extra_info("sslcontext") is not None:
        return False
    return transport.get_extra_info("socket") is not None


#: how often a stream parked on a full socket checks that its connection still exists:
#: the transport may close (shutdown, an aborted peer) without the socket turning writable
_PARK_CHECK = 1.0


async def _writable(loop: asyncio.AbstractEventLoop, transport: asyncio.WriteTransport,
                    sock_fd: int) -> None:
    """Return once the socket can take more bytes; ConnectionResetError if it is gone.

    Our own wait rather than ``loop.sendfile``: uvloop has no native ``loop.sendfile``, and
    asyncio's costs a waiter and a loop iteration even when the socket has room. The
    transport owns the socket's fd in the loop's selector, so we watch a duplicate of it
    (same socket, another descriptor number), only while parked, and drop it at once.
    """
    watched = os.dup(sock_fd)
    try:
        while True:
            waiter = loop.create_future()
            loop.add_writer(watched, _wake, waiter)
            try:
                await asyncio.wait_for(waiter, _PARK_CHECK)
                return
            except TimeoutError:
                if transport.is_closing():
                    raise ConnectionResetError("connection lost while waiting to send") from None
            finally:
                loop.remove_writer(watched)
    finally:
        os.close(watched)


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


async def send_span(loop: asyncio.AbstractEventLoop, transport: asyncio.WriteTransport,
                    fd: int, offset: int, count: int, meter: Meter | None = None) -> int:
    """Send ``count`` bytes of ``fd`` from ``offset`` with sendfile; returns bytes sent.

    The fast path is one ``os.sendfile`` with no await: a seek read on a socket with room
    leaves in one syscall. Anything the transport still buffers (headers, a multipart
    preamble) must leave first, so we wait for its buffer to drain before the first call.
    Raises OSError when the connection is gone (ShortFile when the file ended early)."""
    meter = meter or Meter()
    sock: Any = transport.get_extra_info("socket")
    sock_fd = sock.fileno()
    sent_total = 0
    if transport.get_write_buffer_size():
        await _drained(loop, transport, sock_fd)
    while count:
        if transport.is_closing():
            raise ConnectionResetError("connection lost")
        try:
            sent = os.sendfile(sock_fd, fd, offset, min(count, SENDFILE_CHUNK))
        except (BlockingIOError, InterruptedError):
            await _writable(loop, transport, sock_fd)
            continue
        if sent == 0:
            raise ShortFile(f"file ended {count} bytes early")
        meter.sent += sent
        sent_total += sent
        offset += sent
        count -= sent
        if sent == SENDFILE_CHUNK and count:
            await asyncio.sleep(0)  # a whole chunk left: let the other connections run
    return sent_total


async def _drained(loop: asyncio.AbstractEventLoop, transport: asyncio.WriteTransport,
                   sock_fd: int) -> None:
    """Wait until the transport has flushed what it buffered (a multipart preamble written
    while the previous part still filled the socket): bytes must leave in order."""
    while transport.get_write_buffer_size():
        if transport.is_closing():
            raise ConnectionResetError("connection lost")
        await _writable(loop, transport, sock_fd)
        await asyncio.sleep(0)  # let the transport's own writer callback flush first


async def write_span_chunked(loop: asyncio.AbstractEventLoop, writer: Any, fd: int,
                             offset: int, count: int, meter: Meter | None = None) -> int:
    """Fallback: bounded chunks read off the event loop, written with back-pressure."""
    meter = meter or Meter()
    sent = 0
    while count:
        chunk = await loop.run_in_executor(None, os.pread, fd, min(CHUNK, count), offset)
        if not chunk:
            raise ShortFile(f"file ended {count} bytes early")
        meter.sent += len(chunk)  # handed to the transport: counted even if the drain fails
        await writer.write(chunk)
        sent += len(chunk)
        offset += len(chunk)
        count -= len(chunk)
    return sent
