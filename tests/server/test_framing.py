"""How the connection frames requests: bodies, pipelining, and what it refuses.

The connection frames every request itself (``core/http/request_head.read_head`` and
``core/http/chunked.ChunkedEnd``) and hands aiohttp the exact bytes of one request at a time.
So a request body must never be read as a request (smuggling), a pipelined request behind a
body must be answered in order, and anything it cannot frame without doubt (a length beside
a transfer coding, two lengths, an unknown coding, a folded line, a bare LF) is answered with
a 4xx and the connection closed, as nginx does. Every serve mode runs these.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from tests.server.conftest import Lib, Served
from tests.server.rawhttp import RawResponse, build_request, read_body, read_head

LIMIT = 10.0
#: what seek analytics answer a well-formed report about a file of random bytes
_UNKNOWN = b"duration is unknown"


async def _answers(server: Served, raw: bytes, count: int) -> tuple[list[RawResponse], bool]:
    """Send ``raw`` on a fresh connection; read ``count`` answers, then whether the server
    closed the connection (True) or kept it open."""
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        writer.write(raw)
        answers = []
        async with asyncio.timeout(LIMIT):
            for _ in range(count):
                response = await read_head(reader)
                await read_body(reader, response, "GET")
                answers.append(response)
        try:
            closed = await asyncio.wait_for(reader.read(1), 0.3) == b""
        except TimeoutError:
            closed = False
        return answers, closed
    finally:
        writer.close()


def _post(target: str, body: bytes, **headers: str) -> bytes:
    return build_request("POST", target, {"Content-Type": "application/json",
                                          "Content-Length": str(len(body)), **headers}) + body


@pytest.fixture
async def server(serve: Any, byte_lib: Lib) -> Served:
    return await serve(byte_lib)


def _seeks(lib: Lib) -> str:
    return f"/api/videos/{lib.ids['blob.mp4']}/seek-analytics"


async def test_a_body_is_never_read_as_a_request(server: Served, byte_lib: Lib) -> None:
    """The body of the first request looks like a request: it must stay a body."""
    smuggled = build_request("GET", "/api/videos")
    raw = _post(_seeks(byte_lib), smuggled) + build_request("GET", "/api/videos/0123456789ab")
    answers, _ = await _answers(server, raw, 2)
    assert [a.status for a in answers] == [400, 404]  # the JSON was not JSON; then the 404
    assert b"not valid JSON" in answers[0].body


async def test_requests_behind_bodies_are_answered_in_order(server: Served,
                                                            byte_lib: Lib) -> None:
    stream = byte_lib.stream("blob.mp4")
    rest = b'itions": [1.5]}'
    chunked_body = (b'5;ext=1\r\n{"pos\r\n' + f"{len(rest):x}\r\n".encode() + rest
                    + b"\r\n0\r\nX-T: y\r\n\r\n")
    raw = (_post(_seeks(byte_lib), b'{"positions": [1.0]}')
           + build_request("GET", stream, {"Range": "bytes=0-3"})
           + build_request("POST", _seeks(byte_lib), {"Content-Type": "application/json",
                                                      "Transfer-Encoding": "chunked"})
           + chunked_body
           + build_request("GET", stream, {"Range": "bytes=4-7"}))
    answers, closed = await _answers(server, raw, 4)
    assert [a.status for a in answers] == [400, 206, 400, 206]
    # both bodies were read whole as JSON (the chunked one reassembled): what is refused is
    # the video (random bytes have no duration to place a seek on), not the body
    assert all(_UNKNOWN in answers[n].body for n in (0, 2))
    data = byte_lib.data["blob.mp4"]
    assert (answers[1].body, answers[3].body) == (data[0:4], data[4:8])
    assert not closed


async def test_a_body_that_arrives_in_pieces(server: Served, byte_lib: Lib) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        body = b'{"positions": [2.0, 3.0]}'
        raw = _post(_seeks(byte_lib), body)
        for at in range(0, len(raw), 7):  # head and body split anywhere
            writer.write(raw[at:at + 7])
            await writer.drain()
            await asyncio.sleep(0.005)
        async with asyncio.timeout(LIMIT):
            response = await read_head(reader)
            await read_body(reader, response, "POST")
        assert response.status == 400 and _UNKNOWN in response.body  # the JSON was read
    finally:
        writer.close()


@pytest.mark.parametrize(("raw", "status"), [
    (b"POST /api/videos HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 3\r\n"
     b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),  # CL.TE: the classic smuggling
    (b"POST /api/videos HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 3\r\n"
     b"Content-Length: 4\r\n\r\nabcd", 400),
    (b"POST /api/videos HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: gzip, chunked\r\n"
     b"\r\n0\r\n\r\n", 501),
    (b"POST /api/videos HTTP/1.0\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n"
     b"0\r\n\r\n", 400),
    (b"POST /api/videos HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n"
     b"zz\r\n", 400),  # not a chunk size
    (b"POST /api/videos HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 2000000\r\n\r\n", 413),
    (b"GET /api/videos HTTP/1.1\r\nHost: 127.0.0.1\r\nX-A: a\r\n folded\r\n\r\n", 400),
    (b"GET /api/videos HTTP/1.1\nHost: 127.0.0.1\n\n", 400),  # bare LF: at once
    (b"GET /api/videos HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
    (b"GET /api/videos HTTP/1.1\r\n\r\n", 400),  # HTTP/1.1 without Host
    (b"GET /api/videos HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: -1\r\n\r\n", 400),
    # review of issue 18: a trailer that would frame or route the request again (F1), two
    # equal lengths (llhttp refuses those), targets no router can place (F3), a body over
    # what the routes read, an expectation other than 100-continue
    (b"POST /api/videos HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n"
     b"0\r\nContent-Length: 50\r\n\r\n", 400),
    (b"POST /api/videos HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n"
     b"0\r\nAuthorization: Bearer x\r\n\r\n", 400),
    (b"POST /api/videos HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 4\r\n"
     b"Content-Length: 4\r\n\r\nabcd", 400),
    (b"GET api/videos HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", 400),
    (b"GET 127.0.0.1:80 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", 400),
    (b"GET * HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", 400),
    (b"GET ftp://127.0.0.1/api/videos HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", 400),
    (b"POST /api/videos HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 70000\r\n\r\n", 413),
    (b"POST /api/videos HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n"
     + b"8000\r\n" + b"x" * 0x8000 + b"\r\n8000\r\n" + b"x" * 0x8000 + b"\r\n", 413),
    (b"POST /api/videos HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 2\r\n"
     b"Expect: 200-ok\r\n\r\nab", 417),
])
async def test_what_cannot_be_framed_is_refused_and_closed(server: Served, raw: bytes,
                                                           status: int) -> None:
    answers, closed = await _answers(server, raw + build_request("GET", "/api/videos"), 1)
    assert answers[0].status == status, answers[0].body
    assert answers[0].headers["Connection"] == "close" and closed
    assert json.loads(answers[0].body)["error"]


async def test_blank_lines_between_requests_are_ignored(server: Served) -> None:
    raw = b"\r\n\r\n" + build_request("GET", "/api/videos") + b"\r\n" + build_request(
        "GET", "/api/videos", {"Connection": "close"})
    answers, closed = await _answers(server, raw, 2)
    assert [a.status for a in answers] == [200, 200] and closed


async def test_expect_100_continue(server: Served, byte_lib: Lib) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        body = b'{"positions": [1.0]}'
        writer.write(build_request("POST", _seeks(byte_lib), {
            "Content-Type": "application/json", "Content-Length": str(len(body)),
            "Expect": "100-continue"}))
        async with asyncio.timeout(LIMIT):
            interim = await reader.readuntil(b"\r\n\r\n")
            assert interim.startswith(b"HTTP/1.1 100 ")
            writer.write(body)
            response = await read_head(reader)
            await read_body(reader, response, "POST")
        assert response.status == 400 and _UNKNOWN in response.body  # the body was read
    finally:
        writer.close()


async def test_nothing_after_a_close_is_read(server: Served, byte_lib: Lib) -> None:
    raw = (build_request("GET", "/api/videos", {"Connection": "keep-alive, close"})
           + _post(_seeks(byte_lib), b'{"positions": [1.0]}'))
    answers, closed = await _answers(server, raw, 1)
    assert answers[0].status == 200 and closed


async def test_a_malformed_chunk_is_refused_before_aiohttp_answers_anything(
        server: Served, byte_lib: Lib) -> None:
    """Review F2: a bad chunk line arriving while aiohttp already streamed its answer got a
    second, injected 400 on the same request. The body is now whole before aiohttp sees the
    request: one answer, the 400, nothing of the route's."""
    raw = (build_request("POST", _seeks(byte_lib), {"Content-Type": "application/json",
                                                    "Transfer-Encoding": "chunked"})
           + b'5\r\n{"pos\r\nzz\r\n')
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        writer.write(raw)
        async with asyncio.timeout(LIMIT):
            everything = await reader.read()
        assert everything.startswith(b"HTTP/1.1 400 ") and everything.count(b"HTTP/1.1") == 1
        assert _UNKNOWN not in everything  # the route never ran
    finally:
        writer.close()


async def test_keep_alive_goes_on_after_a_delegated_body(server: Served, byte_lib: Lib) -> None:
    """Review F4: after a first POST whose body filled aiohttp's buffer, the connection never
    read again. Bodies near the routes' limit, then requests on the same connection."""
    body = b'{"positions": [1.0], "pad": "' + b"x" * 60000 + b'"}'
    raw = (_post(_seeks(byte_lib), body) + build_request("GET", "/api/videos")
           + _post(_seeks(byte_lib), body) + build_request("GET", "/api/videos"))
    answers, closed = await _answers(server, raw, 4)
    # (seek analytics reads at most 8 KiB: its 413 is the route's answer to a body it got whole)
    assert [a.status for a in answers] == [413, 200, 413, 200] and not closed


async def test_a_lone_cr_before_a_request_waits_for_its_lf(server: Served) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        writer.write(b"\r")
        await writer.drain()
        await asyncio.sleep(0.05)
        writer.write(b"\n" + build_request("GET", "/api/videos", {"Connection": "close"}))
        async with asyncio.timeout(LIMIT):
            response = await read_head(reader)
        assert response.status == 200
    finally:
        writer.close()
