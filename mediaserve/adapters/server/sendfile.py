"""Write file spans to an aiohttp transport: zero-copy ``sendfile`` with a chunked fallback.

The fast path calls ``os.sendfile`` directly when the transport's buffer is empty: on a
keep-alive connection with room in the socket buffer a 64 KiB seek read leaves in one syscall
and no await, where ``loop.sendfile`` always pays for a waiter future and a loop iteration.
When the socket is full we hand the rest to ``loop.sendfile``, which waits for writability
without copying. The fallback (TLS, or ``sendfile = false``) reads bounded 256 KiB chunks with
``os.pread`` in the default executor and writes them with back-pressure, so memory per stream
stays constant either way.
"""

from __future__ import annotations

import asyncio
import os
from typing import IO, Any, cast

CHUNK = 256 * 1024


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


class _FdFile:
    """The minimum of a file object ``loop.sendfile`` needs, over a borrowed fd."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self.mode = "rb"

    def fileno(self) -> int:
        return self._fd

    def seek(self, offset: int, whence: int = 0) -> int:
        return os.lseek(self._fd, offset, whence)

    def tell(self) -> int:
        return os.lseek(self._fd, 0, os.SEEK_CUR)


async def send_span(loop: asyncio.AbstractEventLoop, transport: asyncio.WriteTransport,
                    fd: int, offset: int, count: int, meter: Meter | None = None) -> int:
    """Send ``count`` bytes of ``fd`` from ``offset`` with sendfile; returns bytes sent.

    Raises OSError when the connection is gone (ShortFile when the file ended early)."""
    meter = meter or Meter()
    sent_total = 0
    if transport.get_write_buffer_size() == 0:
        sock: Any = transport.get_extra_info("socket")
        try:
            sent = os.sendfile(sock.fileno(), fd, offset, count)
        except (BlockingIOError, InterruptedError):
            sent = 0
        sent_total = sent  # 0 means EAGAIN (socket full) or EOF: loop.sendfile tells which
        meter.sent += sent
        offset += sent
        count -= sent
    if count:
        if transport.is_closing():
            raise ConnectionResetError("connection lost")
        file = _FdFile(fd)
        file.seek(offset)  # loop.sendfile leaves the position after what it sent, error or not
        try:
            more = await loop.sendfile(transport, cast("IO[bytes]", file), offset, count,
                                      fallback=False)
        except asyncio.SendfileNotAvailableError as exc:
            # asyncio reports *any* failure of its first os.sendfile call this way, a peer
            # that reset the connection while we waited for room included; the fd is a
            # regular file, so it is the connection that failed.
            raise ConnectionResetError(f"sendfile failed: {exc}") from exc
        except OSError:
            meter.sent += file.tell() - offset
            raise
        meter.sent += more
        sent_total += more
        if more < count:
            raise ShortFile(f"file ended {count - more} bytes early")
    return sent_total


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
