"""Bytes on the wire for GET/HEAD .../stream, with sendfile and with the chunked fallback.

Every test runs against a real server on a loopback port, once per body path (the ``serve``
fixture is parametrised), and reads responses with the raw client in ``rawhttp`` so a short
body, a wrong Content-Length or a broken keep-alive cannot be hidden by a client library.
"""

from __future__ import annotations

import asyncio
import logging
import re
import socket
import struct
from collections.abc import Awaitable
from typing import TypeVar

import aiohttp
import pytest

from tests.server.conftest import MIB, Lib, fds_open_on, sha256
from tests.server.rawhttp import (
    TIMEOUT,
    build_request,
    content_range,
    parse_multipart,
    read_body,
    read_head,
)

T = TypeVar("T")
STRONG_ETAG = re.compile(r'"[^"\sW/]+"')


def within(awaitable: Awaitable[T]) -> Awaitable[T]:
    """Fail instead of hanging when the server sends less than it promised."""
    return asyncio.wait_for(awaitable, TIMEOUT)


async def test_whole_file_is_byte_exact(serve, byte_lib: Lib) -> None:
    served = await serve(byte_lib)
    data = byte_lib.data["blob.mp4"]
    response = await served.fetch("GET", byte_lib.stream("blob.mp4"))
    assert response.status == 200
    assert response.complete
    assert response.headers["Content-Length"] == str(len(data))
    assert response.headers["Accept-Ranges"] == "bytes"
    assert response.headers["Content-Type"] == "video/mp4"
    assert STRONG_ETAG.fullmatch(response.headers["ETag"])
    assert "Content-Range" not in response.headers
    assert sha256(response.body) == sha256(data)


async def test_a_real_client_library_gets_the_same_bytes(serve, byte_lib: Lib) -> None:
    served = await serve(byte_lib)
    name = "sub dir/nested.webm"
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TIMEOUT)) as session:
        async with session.get(served.url(byte_lib.stream(name))) as response:
            assert response.status == 200
            assert response.headers["Content-Type"] == "video/webm"
            body = await response.read()
        async with session.get(served.url(byte_lib.stream(name)),
                               headers={"Range": "bytes=1000-"}) as response:
            assert response.status == 206
            tail = await response.read()
    assert body == byte_lib.data[name]
    assert tail == byte_lib.data[name][1000:]


SIZE = 2 * MIB + 12345


@pytest.mark.parametrize(("header", "first", "last"), [
    ("bytes=0-0", 0, 0),
    ("bytes=0-99", 0, 99),
    ("bytes=1048576-", 1048576, SIZE - 1),  # a browser seek
    (f"bytes={SIZE - 1}-", SIZE - 1, SIZE - 1),  # the very last byte
    ("bytes=-500", SIZE - 500, SIZE - 1),  # suffix: MP4 moov-at-end probe
    (f"bytes=-{SIZE * 3}", 0, SIZE - 1),  # suffix longer than the file
    (f"bytes=2000000-{SIZE * 10}", 2000000, SIZE - 1),  # last-pos past the end: clamped
    ("bytes=7700480-15892479", None, None),  # past the end entirely: 416, below
    ("bytes=65536-131071", 65536, 131071),  # closed range, as a cached browser asks
])
async def test_single_range_is_exact(serve, byte_lib: Lib, header: str, first: int | None,
                                     last: int | None) -> None:
    served = await serve(byte_lib)
    data = byte_lib.data["blob.mp4"]
    assert len(data) == SIZE
    response = await served.fetch("GET", byte_lib.stream("blob.mp4"), {"Range": header})
    if first is None:
        assert response.status == 416
        assert response.headers["Content-Range"] == f"bytes */{SIZE}"
        assert response.headers["Content-Length"] == "0"
        assert response.body == b""
        return
    assert response.status == 206
    assert content_range(response.headers["Content-Range"]) == (first, last, SIZE)
    assert response.headers["Content-Length"] == str(last - first + 1)
    assert response.headers["Content-Type"] == "video/mp4"
    assert response.complete
    assert response.body == data[first : last + 1]


async def test_multipart_ranges_parse_back_to_the_requested_bytes(serve,
                                                                  byte_lib: Lib) -> None:
    served = await serve(byte_lib)
    data = byte_lib.data["blob.mp4"]
    response = await served.fetch("GET", byte_lib.stream("blob.mp4"),
                                  {"Range": "bytes=1000-1999,0-9, -100"})
    assert response.status == 206
    assert "Content-Range" not in response.headers
    assert response.complete
    assert int(response.headers["Content-Length"]) == len(response.body)
    parts = parse_multipart(response.body, response.headers["Content-Type"])
    spans = [(1000, 1999), (0, 9), (SIZE - 100, SIZE - 1)]  # the order asked for
    assert len(parts) == len(spans)
    for (headers, part), (first, last) in zip(parts, spans, strict=True):
        assert headers["Content-Type"] == "video/mp4"
        assert content_range(headers["Content-Range"]) == (first, last, SIZE)
        assert part == data[first : last + 1]


async def test_overlapping_ranges_are_coalesced_into_truthful_parts(serve,
                                                                    byte_lib: Lib) -> None:
    served = await serve(byte_lib)
    data = byte_lib.data["blob.mp4"]
    response = await served.fetch("GET", byte_lib.stream("blob.mp4"),
                                  {"Range": "bytes=500000-500099,0-99,50-149,150-199"})
    assert response.status == 206
    parts = parse_multipart(response.body, response.headers["Content-Type"])
    got = [content_range(h["Content-Range"])[:2] for h, _ in parts]
    assert got == [(500000, 500099), (0, 199)]
    for (first, last), (_, part) in zip(got, parts, strict=True):
        assert part == data[first : last + 1]


async def test_large_multipart_to_a_slow_reader(serve, big_lib: Lib) -> None:
    """Parts larger than the socket buffers: preambles and file bytes must stay in order
    when the socket is full between them (the sendfile path then waits for writability)."""
    served = await serve(big_lib)
    data = big_lib.data["big.mp4"]
    conn = await served.connect(rcvbuf=32 * 1024)
    spans = [(5 * MIB, 9 * MIB - 1), (0, 4 * MIB - 1), (10 * MIB, 10 * MIB + 99)]
    header = "bytes=" + ",".join(f"{a}-{b}" for a, b in spans)
    response = await conn.request("GET", big_lib.stream("big.mp4"), {"Range": header},
                                  timeout=30)
    assert response.status == 206
    assert response.complete
    parts = parse_multipart(response.body, response.headers["Content-Type"])
    assert [content_range(h["Content-Range"])[:2] for h, _ in parts] == spans
    for (first, last), (_, part) in zip(spans, parts, strict=True):
        assert part == data[first : last + 1]


async def test_multipart_of_a_nested_file_has_its_content_type(serve, byte_lib: Lib) -> None:
    served = await serve(byte_lib)
    name = "sub dir/nested.webm"
    response = await served.fetch("GET", byte_lib.stream(name), {"Range": "bytes=0-0,-1"})
    assert response.status == 206
    parts = parse_multipart(response.body, response.headers["Content-Type"])
    assert [h["Content-Type"] for h, _ in parts] == ["video/webm", "video/webm"]
    assert [p for _, p in parts] == [byte_lib.data[name][:1], byte_lib.data[name][-1:]]


async def test_keep_alive_serves_many_requests_on_one_connection(serve, byte_lib: Lib) -> None:
    served = await serve(byte_lib)
    data = byte_lib.data["blob.mp4"]
    path = byte_lib.stream("blob.mp4")
    conn = await served.connect()
    first = await conn.request("GET", path, {"Range": "bytes=0-65535"})
    assert first.status == 206
    assert first.body == data[:65536]
    etag = first.headers["ETag"]
    steps = [
        ("GET", {"Range": "bytes=1048576-"}, 206, data[1048576:]),
        ("GET", {"Range": "bytes=10-19,30-39"}, 206, None),
        ("HEAD", {"Range": "bytes=0-1"}, 200, b""),
        ("GET", {"If-None-Match": etag}, 304, b""),
        ("GET", {"Range": f"bytes={SIZE}-"}, 416, b""),
        ("GET", {"Range": "bytes=100-199", "If-Range": etag}, 206, data[100:200]),
        ("GET", {}, 200, data),
    ]
    for method, headers, status, body in steps:
        response = await conn.request(method, path, headers)
        assert response.status == status, (method, headers)
        assert response.complete
        assert response.headers.get("Connection", "").lower() != "close"
        if body is not None:
            assert response.body == body, (method, headers)
    missing = await conn.request("GET", "/api/videos/000000000000/stream")
    assert missing.status == 404
    last = await conn.request("GET", byte_lib.stream("small.mp4"), {"Range": "bytes=-1"})
    assert last.body == byte_lib.data["small.mp4"][-1:]
    assert not await conn.at_eof(timeout=0.2)  # the server kept the connection open


async def test_pipelined_requests_come_back_in_order(serve, byte_lib: Lib) -> None:
    """Three requests written at once: bodies must not interleave on the socket."""
    served = await serve(byte_lib)
    data = byte_lib.data["blob.mp4"]
    path = byte_lib.stream("blob.mp4")
    conn = await served.connect()
    asked = [("bytes=0-299999", data[:300000]), ("bytes=-300000", data[-300000:]),
             ("bytes=5-9,20-29", None)]
    for header, _ in asked:
        conn.send("GET", path, {"Range": header})
    await conn.writer.drain()
    for _header, body in asked:
        response = await within(read_head(conn.reader))
        await within(read_body(conn.reader, response, "GET"))
        assert response.status == 206
        if body is not None:
            assert response.body == body
        else:
            parts = parse_multipart(response.body, response.headers["Content-Type"])
            assert [p for _, p in parts] == [data[5:10], data[20:30]]


async def test_head_has_the_get_headers_and_no_body(serve, byte_lib: Lib) -> None:
    served = await serve(byte_lib)
    path = byte_lib.stream("blob.mp4")
    conn = await served.connect()
    head = await conn.request("HEAD", path)
    get = await conn.request("GET", path)  # would misparse if HEAD had left bytes behind
    ranged_head = await conn.request("HEAD", path, {"Range": "bytes=0-9"})
    assert head.status == get.status == 200
    assert ranged_head.status == 200  # §14.2: Range is ignored for HEAD
    for response in (head, ranged_head):
        assert response.body == b""
        assert response.headers["Content-Length"] == str(SIZE)
        for name in ("Content-Type", "ETag", "Last-Modified", "Accept-Ranges",
                     "Content-Disposition", "Cache-Control"):
            assert response.headers[name] == get.headers[name], name
    assert get.body == byte_lib.data["blob.mp4"]


async def test_stream_is_never_compressed(serve, byte_lib: Lib) -> None:
    served = await serve(byte_lib)
    data = byte_lib.data["small.mp4"]
    for headers in ({"Accept-Encoding": "gzip"},
                    {"Accept-Encoding": "gzip, deflate, br, zstd", "Range": "bytes=0-999"}):
        response = await served.fetch("GET", byte_lib.stream("small.mp4"), headers)
        assert "Content-Encoding" not in response.headers
        assert "Transfer-Encoding" not in response.headers
        expected = data if response.status == 200 else data[:1000]
        assert response.body == expected


@pytest.mark.parametrize("configured", [None, "public, max-age=86400"])
async def test_cache_control_is_configurable(serve, byte_lib: Lib,
                                             configured: str | None) -> None:
    settings = {} if configured is None else {"cache_control": configured}
    served = await serve(byte_lib, **settings)
    expected = configured or "no-cache"
    path = byte_lib.stream("small.mp4")
    whole = await served.fetch("GET", path)
    ranged = await served.fetch("GET", path, {"Range": "bytes=0-0"})
    not_modified = await served.fetch("GET", path, {"If-None-Match": whole.headers["ETag"]})
    assert [r.status for r in (whole, ranged, not_modified)] == [200, 206, 304]
    for response in (whole, ranged, not_modified):
        assert response.headers.getall("Cache-Control") == [expected]


async def test_empty_file(serve, byte_lib: Lib) -> None:
    served = await serve(byte_lib)
    path = byte_lib.stream("empty.mp4")
    conn = await served.connect()
    whole = await conn.request("GET", path)
    assert whole.status == 200
    assert whole.headers["Content-Length"] == "0"
    assert whole.body == b""
    for header in ("bytes=0-", "bytes=-1", "bytes=0-0"):
        response = await conn.request("GET", path, {"Range": header})
        assert response.status == 416
        assert response.headers["Content-Range"] == "bytes */0"
    assert (await conn.request("GET", path)).status == 200  # still in sync


async def test_too_many_ranges_get_the_whole_file(serve, byte_lib: Lib) -> None:
    served = await serve(byte_lib, max_ranges=3)
    data = byte_lib.data["blob.mp4"]
    path = byte_lib.stream("blob.mp4")
    allowed = await served.fetch("GET", path, {"Range": "bytes=0-0,10-10,20-20"})
    assert allowed.status == 206
    refused = await served.fetch("GET", path, {"Range": "bytes=0-0,10-10,20-20,30-30"})
    assert refused.status == 200
    assert refused.body == data


async def _wait_for(predicate, timeout: float = 5.0) -> bool:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        if predicate():
            return True
        await asyncio.sleep(0.02)
    return predicate()


@pytest.mark.parametrize("range_header", [None, "bytes=1000-"])
async def test_client_abort_mid_body_then_a_normal_request(serve, big_lib: Lib,
                                                           range_header: str | None) -> None:
    served = await serve(big_lib)
    data = big_lib.data["big.mp4"]
    path = big_lib.stream("big.mp4")
    file = big_lib.path("big.mp4")
    conn = await served.connect(rcvbuf=16 * 1024)
    conn.send("GET", path, {"Range": range_header} if range_header else {})
    head = await within(read_head(conn.reader))
    assert head.status == (206 if range_header else 200)
    start = 1000 if range_header else 0
    got = await within(conn.reader.readexactly(100_000))
    assert got == data[start : start + 100_000]
    assert fds_open_on(file) == 1, "the server should be mid-body, holding the file open"
    conn.abort()
    assert await _wait_for(lambda: fds_open_on(file) == 0), "descriptor leaked after abort"

    again = await served.fetch("GET", path, {"Range": "bytes=-70000"})
    assert again.status == 206
    assert again.body == data[-70000:]
    whole = await served.fetch("GET", path)
    assert sha256(whole.body) == sha256(data)
    assert await _wait_for(lambda: len(served.records) >= 3)
    aborted = served.records[0]
    assert aborted["sent"] < len(data) - start  # logged what was really sent, not promised
    assert fds_open_on(file) == 0


class _Errors(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


async def test_abort_of_a_stream_stalled_on_a_full_socket_is_quiet(serve,
                                                                  big_lib: Lib) -> None:
    """The commonest abort: a player stops reading (seeks elsewhere), the server is parked
    waiting for room in the socket, then the connection is reset. asyncio reports a failure
    of its first ``os.sendfile`` as SendfileNotAvailableError, not as a ConnectionError; it
    is a client leaving all the same: no 500, no traceback, no descriptor left open."""
    served = await serve(big_lib)
    file = big_lib.path("big.mp4")
    errors = _Errors()
    logger = logging.getLogger("mediaserve")
    logger.addHandler(errors)
    try:
        for _ in range(3):
            with socket.socket() as sock:  # a client that never reads a byte
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
                sock.setblocking(False)
                await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1",
                                                                     served.port))
                sock.send(build_request("GET", big_lib.stream("big.mp4")))
                assert await _wait_for(lambda: fds_open_on(file) == 1)
                await asyncio.sleep(0.3)  # headers out, socket full, server parked
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            assert await _wait_for(lambda: fds_open_on(file) == 0), "descriptor leaked"
        assert await _wait_for(lambda: len(served.records) >= 3)
    finally:
        logger.removeHandler(errors)
    assert [r.getMessage() for r in errors.records] == []
    assert [r["status"] for r in served.records] == [200, 200, 200]
    after = await served.fetch("GET", big_lib.stream("big.mp4"), {"Range": "bytes=-1000"})
    assert after.status == 206 and after.body == big_lib.data["big.mp4"][-1000:]


@pytest.mark.parametrize("method", ["GET", "HEAD"])
async def test_a_client_gone_before_the_headers_is_not_a_server_error(serve, byte_lib: Lib,
                                                                      method: str) -> None:
    """A request followed at once by a reset (a player cancelling a fetch): the headers
    cannot be written, which is the client leaving, not a 500 with a traceback."""
    served = await serve(byte_lib)
    file = byte_lib.path("small.mp4")
    errors = _Errors()
    loggers = [logging.getLogger("mediaserve"), logging.getLogger("aiohttp")]
    for logger in loggers:
        logger.addHandler(errors)
    try:
        for _ in range(20):
            with socket.socket() as sock:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                sock.setblocking(False)
                await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1",
                                                                     served.port))
                sock.send(build_request(method, byte_lib.stream("small.mp4")))
        assert await _wait_for(lambda: len(served.records) >= 20)
    finally:
        for logger in loggers:
            logger.removeHandler(errors)
    assert [r.getMessage() for r in errors.records] == []
    assert 500 not in [r["status"] for r in served.records]
    assert await _wait_for(lambda: fds_open_on(file) == 0)
    after = await served.fetch(method, byte_lib.stream("small.mp4"))
    assert after.status == 200


async def test_a_file_that_shrinks_mid_body_drops_the_connection(serve, big_lib: Lib) -> None:
    lib = big_lib
    served = await serve(lib)
    file = lib.path("big.mp4")
    conn = await served.connect(rcvbuf=16 * 1024)
    conn.send("GET", lib.stream("big.mp4"))
    head = await within(read_head(conn.reader))
    assert head.headers["Content-Length"] == str(12 * MIB)
    await within(conn.reader.readexactly(64 * 1024))
    with open(file, "r+b") as handle:  # same inode: the server's fd sees the truncation
        handle.truncate(1 * MIB)
    await within(read_body(conn.reader, head, "GET"))
    assert not head.complete, "a short body must never look complete"
    assert len(head.body) + 64 * 1024 < 12 * MIB
    assert await _wait_for(lambda: fds_open_on(file) == 0)
    after = await served.fetch("GET", lib.stream("big.mp4"))
    assert after.status == 200
    assert after.body == lib.data["big.mp4"][: 1 * MIB]
