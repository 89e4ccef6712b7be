"""A tiny HTTP/1.1 client over ``asyncio`` streams, for checks a real client library hides.

aiohttp's client (like every browser) decompresses, normalises paths, pools connections and
tolerates short bodies. These helpers send exactly the bytes a test writes and parse exactly
what comes back, so a test can see a short body, a reused connection or an injected header.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
import struct
import threading
import time
from dataclasses import dataclass, field

from multidict import CIMultiDict

NO_BODY_STATUSES = (204, 304)
TIMEOUT = 10.0  # seconds any single exchange may take on loopback


@dataclass
class RawResponse:
    status: int
    reason: str
    header_lines: list[bytes]  # raw "Name: value" lines, as received
    headers: CIMultiDict[str]
    body: bytes = b""
    complete: bool = True  # False: the connection closed before Content-Length bytes came
    extra: dict[str, object] = field(default_factory=dict)


def build_request(method: str, target: str, headers: dict[str, str] | None = None,
                  host: str = "127.0.0.1") -> bytes:
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}"]
    for name, value in (headers or {}).items():
        lines.append(f"{name}: {value}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8", "surrogateescape")


async def read_head(reader: asyncio.StreamReader) -> RawResponse:
    """Status line and headers; the body is left in the reader."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head[:-4].split(b"\r\n")
    match = re.fullmatch(rb"HTTP/1\.1 (\d{3}) ?(.*)", lines[0])
    assert match, f"bad status line {lines[0]!r}"
    headers: CIMultiDict[str] = CIMultiDict()
    for line in lines[1:]:
        name, sep, value = line.partition(b":")
        assert sep and name and name == name.strip(), f"bad header line {line!r}"
        headers.add(name.decode("latin-1"), value.strip().decode("latin-1"))
    return RawResponse(int(match.group(1)), match.group(2).decode("latin-1"), lines[1:],
                       headers)


async def read_body(reader: asyncio.StreamReader, response: RawResponse, method: str) -> None:
    """Read the body the headers announce (Content-Length framing only, as the server uses)."""
    if method == "HEAD" or response.status in NO_BODY_STATUSES or 100 <= response.status < 200:
        return
    assert "Transfer-Encoding" not in response.headers, "stream responses are never chunked"
    length = response.headers.get("Content-Length")
    if length is None:
        response.body = await reader.read()
        return
    want = int(length)
    chunks = []
    got = 0
    while got < want:
        chunk = await reader.read(min(1 << 20, want - got))
        if not chunk:
            response.complete = False
            break
        chunks.append(chunk)
        got += len(chunk)
    response.body = b"".join(chunks)


class Connection:
    """One keep-alive TCP connection to the server."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 sock: socket.socket | None = None) -> None:
        self.reader = reader
        self.writer = writer
        self.sock = sock

    @classmethod
    async def open(cls, port: int, *, rcvbuf: int | None = None, host: str = "127.0.0.1",
                   source: str | None = None) -> Connection:
        """Connect; ``rcvbuf`` shrinks the receive buffer so the server blocks mid-body;
        ``source`` is the client's address (any of 127.0.0.0/8 on loopback)."""
        if rcvbuf is None:
            reader, writer = await asyncio.open_connection(
                host, port, limit=1 << 20, local_addr=(source, 0) if source else None)
            return cls(reader, writer)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, (host, port))
        reader, writer = await asyncio.open_connection(sock=sock, limit=1 << 20)
        return cls(reader, writer, sock)

    @property
    def local_port(self) -> int:
        return self.writer.get_extra_info("sockname")[1]

    def send(self, method: str, target: str, headers: dict[str, str] | None = None) -> None:
        self.writer.write(build_request(method, target, headers))

    async def request(self, method: str, target: str, headers: dict[str, str] | None = None,
                      timeout: float = TIMEOUT) -> RawResponse:
        """Send and read one response; a server that under-delivers fails, never hangs."""

        async def exchange() -> RawResponse:
            self.send(method, target, headers)
            await self.writer.drain()
            response = await read_head(self.reader)
            await read_body(self.reader, response, method)
            return response

        try:
            return await asyncio.wait_for(exchange(), timeout)
        except TimeoutError:
            raise AssertionError(f"no complete response to {method} {target} {headers} "
                                 f"within {timeout} s") from None

    def abort(self) -> None:
        """Close with a TCP reset, as a browser does when it abandons a video request."""
        sock = self.writer.get_extra_info("socket")
        if sock is not None:
            linger_zero = struct.pack("ii", 1, 0)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger_zero)
        self.writer.transport.abort()

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await self.writer.wait_closed()

    async def at_eof(self, timeout: float = 2.0) -> bool:
        """True when the server closed the connection (nothing more to read)."""
        try:
            data = await asyncio.wait_for(self.reader.read(1), timeout)
        except TimeoutError:  # before OSError: TimeoutError is one
            return False
        except (ConnectionError, OSError):
            return True
        assert data == b"", f"unexpected bytes after the response: {data!r}"
        return True


_BOUNDARY_PARAM = re.compile(r"multipart/byteranges;\s*boundary=([0-9A-Za-z'+_.-]{1,70})$")


def parse_multipart(body: bytes, content_type: str) -> list[tuple[CIMultiDict[str], bytes]]:
    """Parse a multipart/byteranges body strictly (RFC 9110 §14.6, RFC 2046 framing).

    Returns (part headers, part data) in order; fails on anything outside the framing.
    """
    match = _BOUNDARY_PARAM.match(content_type)
    assert match, f"not multipart/byteranges: {content_type!r}"
    delimiter = b"--" + match.group(1).encode("ascii")
    assert body.startswith(delimiter + b"\r\n"), "body must start with the first delimiter"
    closing = b"\r\n" + delimiter + b"--\r\n"
    assert body.endswith(closing), "body must end with the closing delimiter"
    inner = body[len(delimiter) + 2 : -len(closing)]
    parts = []
    for chunk in inner.split(b"\r\n" + delimiter + b"\r\n"):
        head, sep, data = chunk.partition(b"\r\n\r\n")
        assert sep, "part without a blank line after its headers"
        headers: CIMultiDict[str] = CIMultiDict()
        for line in head.split(b"\r\n"):
            name, colon, value = line.partition(b":")
            assert colon, f"bad part header {line!r}"
            headers.add(name.decode("ascii"), value.strip().decode("ascii"))
        parts.append((headers, data))
    return parts


_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+)")


def content_range(value: str) -> tuple[int, int, int]:
    """(first, last, size) of a satisfied Content-Range."""
    match = _CONTENT_RANGE.fullmatch(value)
    assert match, f"bad Content-Range {value!r}"
    first, last, size = (int(g) for g in match.groups())
    assert first <= last < size, value
    return first, last, size


def get_closing(port: int, target: str, headers: dict[str, str] | None = None,
                timeout: float = 5) -> tuple[int, dict[str, str], bytes]:
    """One blocking ``GET`` with ``Connection: close``, read to EOF: status, headers (lower-case
    names) and body. For tests that talk to a server process from plain threads."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        lines = [f"GET {target} HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        data = b""
        while chunk := sock.recv(1 << 20):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers_out = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers_out[name.strip().lower()] = value.strip()
    return int(status_line.split()[1]), headers_out, body


def slow_read(port: int, target: str, got: dict, release: threading.Event) -> None:
    """GET ``target`` over a small receive buffer, sipping until ``release`` is set, then at
    full speed: the server stays blocked mid-body for as long as a test needs a stream in
    flight. Blocking, for a thread; records into ``got``: ``status``, ``received`` (as it
    grows), then ``body`` and ``length``, or ``error``."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=60)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 * 1024)
    try:
        sock.sendall(f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                     "Connection: close\r\n\r\n".encode())
        data = b""
        while b"\r\n\r\n" not in data:
            data += sock.recv(4096)
        head, _, body = data.partition(b"\r\n\r\n")
        got["status"] = int(head.split()[1])
        match = re.search(rb"Content-Length: (\d+)", head)
        assert match, head
        length = int(match[1])
        chunks, received = [body], len(body)
        while received < length:
            chunk = sock.recv(4096 if not release.is_set() else 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
            received += len(chunk)
            got["received"] = received
            if not release.is_set():
                time.sleep(0.01)
        got["body"], got["length"] = b"".join(chunks), length
    except OSError as exc:
        got["error"] = exc
    finally:
        sock.close()
