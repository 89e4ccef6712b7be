"""The floor: the least work a Python server on uvloop can do to answer the stream benchmark's
requests, measured next to nginx and mediaserve in the same run (``stream_bench --floor``).

Why it exists: issue 18 asked for ratios to nginx (W1 >= 0.65x at <= 1.7x nginx's CPU per
request, ...) that no amount of tidying in mediaserve reaches if CPython itself cannot. This
server is the speed of light for the design card's language: one ``uvloop`` protocol per
connection, ``data_received`` finds the end of the head and the ``Range`` field with
``bytes.find``, one ``os.stat`` per request (validators must be fresh), a header section from
one f-string, then ``pread`` + one write for a short span or one write + ``os.sendfile`` for a
longer one. It reads no other field, checks no ``Host``, keeps no statistics, logs nothing,
handles no pipelining, no conditionals, no multipart, no errors worth the name: it is **not a
server anyone should run**, only a measure of what is left once every feature is gone.

``python -m benchmarks.floor_server ROOT PORT``: serves ``/NAME`` for the files directly in
ROOT (the same URLs as the benchmark's nginx).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import resource
import sys
import time
from email.utils import formatdate

import uvloop

SMALL = 16 * 1024  # pread and one write below this (mediaserve's SMALL_BODY)
CHUNK = 1 << 20


class FloorProtocol(asyncio.Protocol):
    """One connection: one request at a time, answered in the ``data_received`` call."""

    def __init__(self, root_fd: int) -> None:
        self.root_fd = root_fd
        self.transport: asyncio.Transport | None = None
        self.fd = -1
        self.files: dict[str, int] = {}
        self.buffer = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.fd = transport.get_extra_info("socket").fileno()

    def connection_lost(self, exc: Exception | None) -> None:
        for fd in self.files.values():
            os.close(fd)

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer + data if self.buffer else data
        end = buffer.find(b"\r\n\r\n")
        if end < 0:
            self.buffer = buffer
            return
        self.buffer = b""
        name = buffer[5:buffer.find(b" ", 5)].decode()
        info = os.stat(name, dir_fd=self.root_fd)
        size = info.st_size
        at = buffer.find(b"\r\nRange: bytes=", 0, end)
        if at < 0:
            first, last = 0, size - 1
        else:
            line_end = buffer.find(b"\r\n", at + 2)
            first_s, _, last_s = buffer[at + 15:line_end].partition(b"-")
            first = int(first_s)
            last = min(int(last_s), size - 1) if last_s else size - 1
        length = last - first + 1
        close = b"\r\nConnection: close" in buffer[:end]
        status = "200 OK" if at < 0 else "206 Partial Content"
        head = (f"HTTP/1.1 {status}\r\nAccept-Ranges: bytes\r\n"
                f"ETag: \"{info.st_mtime_ns:x}-{size:x}\"\r\n"
                f"Content-Range: bytes {first}-{last}/{size}\r\n"
                f"Content-Length: {length}\r\nContent-Type: video/mp4\r\n"
                f"Date: {_date()}\r\n{'Connection: close' if close else 'Server: floor'}\r\n\r\n"
                ).encode()
        fd = self.files.get(name)
        if fd is None:
            fd = self.files[name] = os.open(name, os.O_RDONLY, dir_fd=self.root_fd)
        transport = self.transport
        assert transport is not None
        if length <= SMALL:
            transport.write(head + os.pread(fd, length, first))
        else:
            transport.write(head)
            try:  # the first chunk in this call, like mediaserve's fast path
                sent = os.sendfile(self.fd, fd, first, min(CHUNK, length))
            except BlockingIOError:
                sent = 0
            if sent < length:
                asyncio.get_running_loop().create_task(
                    self._body(fd, first + sent, length - sent, close))
                return
        if close:
            transport.close()

    async def _body(self, fd: int, offset: int, length: int, close: bool) -> None:
        """The rest of a long span: ``sendfile`` whenever the socket has room. uvloop's
        transport owns the socket's descriptor in the poller, so a duplicate is watched
        (as mediaserve's ``stream/sendfile.py`` does)."""
        loop = asyncio.get_running_loop()
        transport = self.transport
        assert transport is not None
        watched = os.dup(self.fd)
        try:
            while length:
                try:
                    n = os.sendfile(self.fd, fd, offset, min(CHUNK, length))
                except BlockingIOError:
                    waiter = loop.create_future()
                    loop.add_writer(watched, waiter.set_result, None)
                    try:
                        await waiter
                    finally:
                        loop.remove_writer(watched)
                    continue
                except OSError:
                    transport.abort()
                    return
                if n == 0:
                    transport.abort()
                    return
                offset += n
                length -= n
        finally:
            os.close(watched)
        if close:
            transport.close()


_DATE: list[object] = [0, ""]


def _date() -> str:
    now = int(time.time())
    if now != _DATE[0]:
        _DATE[0], _DATE[1] = now, formatdate(now, usegmt=True)
    return str(_DATE[1])


async def _serve(root: str, port: int) -> None:
    root_fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    # the descriptor table grown once, now, as mediaserve does at start-up: this process has
    # threads too (libuv's), so each later growth would stall the loop for an RCU grace
    # period (net/listener.presize_descriptor_table) and W5 would measure that, not CPython
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    with contextlib.suppress(OSError):
        os.close(fcntl.fcntl(root_fd, fcntl.F_DUPFD_CLOEXEC, min(soft, 16384) - 1))
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: FloorProtocol(root_fd), "127.0.0.1", port,
                                      backlog=4096)
    async with server:
        await server.serve_forever()


def main() -> None:
    uvloop.install()
    asyncio.run(_serve(sys.argv[1], int(sys.argv[2])))


if __name__ == "__main__":
    main()
