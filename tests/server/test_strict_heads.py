"""Three small readings of a request head, on a raw socket, on both paths (the stream fast
path and aiohttp's): a Host with anything but ``:port`` after a bracketed address is refused
(421); ``Connection: keep-alive, close`` closes, even with more requests pipelined behind it
(aiohttp's parser used to answer those with a 400 and nothing else; nginx answers the first
and closes); and a request line with a 5,000-digit version gets a 400, not a dropped
connection and a traceback."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.server.conftest import Lib
from tests.server.rawhttp import RawResponse, read_body, read_head

TIMEOUT = 10


async def _exchange(served: Any, raw: bytes, count: int | None = None) -> list[RawResponse]:
    """Send ``raw`` at once; read ``count`` responses, or (None) every response until the
    server closes the connection (which it must, within the timeout)."""
    conn = await served.connect()
    conn.writer.write(raw)
    await conn.writer.drain()
    responses: list[RawResponse] = []
    while count is None or len(responses) < count:
        try:
            response = await asyncio.wait_for(read_head(conn.reader), TIMEOUT)
        except asyncio.IncompleteReadError as exc:
            assert exc.partial == b"" and count is None, (exc.partial, responses)
            break
        except TimeoutError:
            raise AssertionError(f"the server neither answered nor closed: {responses}"
                                 ) from None
        await asyncio.wait_for(read_body(conn.reader, response, "GET"), TIMEOUT)
        responses.append(response)
    return responses


def _request(target: str, *fields: str, host: str = "127.0.0.1") -> bytes:
    return (f"GET {target} HTTP/1.1\r\nHost: {host}\r\n" + "".join(f"{f}\r\n" for f in fields)
            + "\r\n").encode()


def _fields(response: RawResponse) -> list[bytes]:
    return [line for line in response.header_lines if not line.startswith(b"Date:")]


@pytest.mark.parametrize("host", ["[::1]evil.example", "[::1].evil.example", "[::1]:80x",
                                  "[::1]:80:80", "[::1]@evil.example"])
async def test_nothing_but_a_port_after_a_bracketed_address(serve: Any, byte_lib: Lib,
                                                            host: str) -> None:
    served = await serve(byte_lib)
    for target in (byte_lib.stream("small.mp4"), "/api/videos"):
        (refused,) = await _exchange(served, _request(target, host=host), 1)
        assert refused.status == 421, (target, host)
    assert served.fast_served == 0
    for good in ("[::1]", "[::1]:8080", "[::1]:"):
        (answer,) = await _exchange(
            served, _request(byte_lib.stream("small.mp4"), "Range: bytes=0-1", host=good), 1)
        assert answer.status == 206, good


@pytest.mark.parametrize("value", ["keep-alive, close", "close, keep-alive", "Keep-Alive,Close"])
async def test_keep_alive_close_is_read_as_close(serve: Any, serve_mode: str, byte_lib: Lib,
                                                 value: str) -> None:
    served = await serve(byte_lib)
    stream = _request(byte_lib.stream("small.mp4"), "Range: bytes=0-9", f"Connection: {value}")
    (answer,) = await _exchange(served, stream)  # and the server closes
    assert answer.status == 206 and answer.body == byte_lib.data["small.mp4"][:10]
    assert answer.headers["Connection"] == "close"
    assert served.fast_served == (1 if serve_mode == "fast" else 0)
    (listing,) = await _exchange(served, _request("/api/videos", f"Connection: {value}"))
    assert listing.status == 200
    if serve_mode == "fast":  # the fast path's answer is the aiohttp path's, byte for byte
        reference = await serve(byte_lib, fast_path=False)
        (theirs,) = await _exchange(reference, stream)
        assert reference.fast_served == 0
        assert _fields(answer) == _fields(theirs)


@pytest.mark.parametrize("value", ["close", "keep-alive, close"])
async def test_requests_pipelined_after_close_are_not_read(serve: Any, serve_mode: str,
                                                           byte_lib: Lib, value: str) -> None:
    served = await serve(byte_lib)
    stream = byte_lib.stream("small.mp4")
    first = _request(stream, "Range: bytes=0-9", f"Connection: {value}")
    responses = await _exchange(served, first + _request("/api/videos"))
    assert [r.status for r in responses] == [206]  # then closed
    assert responses[0].body == byte_lib.data["small.mp4"][:10]
    assert served.fast_served == (1 if serve_mode == "fast" else 0)

    chunk = (_request(stream, "Range: bytes=0-1") + _request("/api/videos",
                                                             f"Connection: {value}")
             + _request(stream) + b"GET /partial HT")
    responses = await _exchange(served, chunk)
    assert [r.status for r in responses] == [206, 200]


async def test_a_version_of_thousands_of_digits_gets_400(serve: Any, byte_lib: Lib) -> None:
    served = await serve(byte_lib)
    for digits in (5000, 10):
        conn = await served.connect()
        conn.writer.write(f"GET / HTTP/{'1' * digits}.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        answer = await asyncio.wait_for(conn.reader.read(), TIMEOUT)  # to the close
        assert answer.startswith((b"HTTP/1.0 400 ", b"HTTP/1.1 400 ")), (digits, answer[:60])
