"""The access log: combined log format, with the body bytes really sent.

aiohttp's own byte count misses everything ``sendfile`` sends and counts headers for the
rest; the combined format's ``%b`` is body bytes only ("-" for none). These tests read the
lines the server's own logger wrote during real requests.
"""

from __future__ import annotations

import asyncio
import re

from tests.server.conftest import Lib, Served, fds_open_on
from tests.server.rawhttp import read_head

COMBINED = re.compile(
    r'(?P<host>\S+) - - \[(?P<time>\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4})\] '
    r'"(?P<request>(?:[^"\\]|\\.)*)" (?P<status>\d{3}) (?P<bytes>\d+|-) '
    r'"(?P<referer>(?:[^"\\]|\\.)*)" "(?P<agent>(?:[^"\\]|\\.)*)"')


async def _lines(served: Served, count: int) -> list[re.Match[str]]:
    for _ in range(200):
        if len(served.access_lines) >= count:
            break
        await asyncio.sleep(0.01)
    assert len(served.access_lines) == count, served.access_lines
    matches = [COMBINED.fullmatch(line) for line in served.access_lines]
    assert all(matches), served.access_lines
    return matches  # type: ignore[return-value]


async def test_lines_are_combined_format_with_real_body_bytes(serve, byte_lib: Lib) -> None:
    served = await serve(byte_lib)
    path = byte_lib.stream("blob.mp4")
    size = len(byte_lib.data["blob.mp4"])
    conn = await served.connect()
    ua = {"User-Agent": 'Mozilla/5.0 "quoted" \\ agent', "Referer": "http://127.0.0.1/"}
    sent = []
    for method, target, headers in (
            ("GET", path, {"Range": "bytes=0-99", **ua}),
            ("GET", path, {}),
            ("HEAD", path, {}),
            ("GET", path, {"Range": "bytes=0-9,100-109"}),
            ("GET", path, {"Range": f"bytes={size}-"}),
            ("GET", "/api/videos", {}),
            ("GET", "/api/videos/0123456789ab/stream", {}),
            ("GET", "/static/app.js", {})):
        response = await conn.request(method, target, headers)
        sent.append((method, target, response))
    etag = sent[0][2].headers["ETag"]
    not_modified = await conn.request("GET", path, {"If-None-Match": etag})
    sent.append(("GET", path, not_modified))
    matches = await _lines(served, len(sent))

    for match, (method, target, response) in zip(matches, sent, strict=True):
        assert match["host"] == "127.0.0.1"
        assert match["request"] == f"{method} {target} HTTP/1.1"
        assert int(match["status"]) == response.status
        expected = len(response.body)
        assert match["bytes"] == (str(expected) if expected else "-"), (
            method, target, response.status, match["bytes"], expected)
    first = matches[0]
    assert first["agent"] == r'Mozilla/5.0 \"quoted\" \\ agent'
    assert first["referer"] == "http://127.0.0.1/"
    assert matches[1]["bytes"] == str(size)
    assert matches[1]["agent"] == "-"


async def test_the_body_path_is_the_one_configured(serve, serve_mode: str,
                                                   byte_lib: Lib) -> None:
    """The fast path never touches aiohttp's writer; aiohttp's path with sendfile sends only
    the headers through it; the fallback sends everything through it. All log the true
    size."""
    served = await serve(byte_lib)
    size = len(byte_lib.data["blob.mp4"])
    response = await served.fetch("GET", byte_lib.stream("blob.mp4"))
    assert response.complete
    await _lines(served, 1)
    record = served.records[0]
    assert record["sent"] == size
    if serve_mode == "fast":
        assert record["writer_bytes"] is None  # aiohttp never saw the request
    elif serve_mode == "sendfile":
        assert record["writer_bytes"] < 1024
    else:
        assert record["writer_bytes"] > size


async def test_a_request_line_cannot_forge_log_lines(serve, byte_lib: Lib) -> None:
    served = await serve(byte_lib)
    conn = await served.connect()
    await conn.request("GET", '/api/videos?x="%0A127.0.0.1',
                       {"User-Agent": "evil\" 200 1 \"-\" \"x"})
    matches = await _lines(served, 1)
    assert matches[0]["status"] == "200"
    assert len(served.access_lines[0].splitlines()) == 1


async def test_an_aborted_stream_logs_the_bytes_that_left(serve, big_lib: Lib) -> None:
    """A player abandons most streams part-way (every seek does); the log must count the
    bytes that did go out, not "-" because the answer was never finished."""
    served = await serve(big_lib)
    size = len(big_lib.data["big.mp4"])
    conn = await served.connect(rcvbuf=16 * 1024)
    conn.send("GET", big_lib.stream("big.mp4"), {"Range": "bytes=1000-"})
    head = await asyncio.wait_for(read_head(conn.reader), 10)
    assert head.status == 206
    await asyncio.wait_for(conn.reader.readexactly(300_000), 10)
    conn.abort()
    for _ in range(300):
        if served.records and fds_open_on(big_lib.path("big.mp4")) == 0:
            break
        await asyncio.sleep(0.01)
    matches = await _lines(served, 1)
    record = served.records[0]
    assert record["status"] == 206
    assert 300_000 <= record["sent"] < size - 1000, record
    assert matches[0]["bytes"] == str(record["sent"])
