"""Hostile Range / If-* headers against the live server: never a 5xx, never a lie.

Hypothesis generates header values (well-formed, almost well-formed and garbage: huge
numbers, stray commas, obs-text bytes, control characters, repeated headers) and sends them
over a raw keep-alive connection to a server running in a background thread, once with
sendfile and once with the chunked fallback. Every answer must be < 500, carry exactly
Content-Length body bytes, and say truthfully which bytes it holds.
"""

from __future__ import annotations

import asyncio
import re
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from aiohttp import web
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from mediaserve.adapters.server import create_app
from mediaserve.core.config.settings import Settings
from tests.server.conftest import Lib, blob
from tests.server.rawhttp import parse_multipart


class ThreadedServer:
    """The real app on a loopback port, served by its own event loop in a thread, so a
    synchronous Hypothesis test can talk to it with a blocking socket."""

    def __init__(self, app: web.Application) -> None:
        self.app = app
        self.loop = asyncio.new_event_loop()
        self.port = 0
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="mediaserve-test", daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        runner = web.AppRunner(self.app, handle_signals=False, access_log=None)
        self.loop.run_until_complete(runner.setup())
        site = web.TCPSite(runner, "127.0.0.1", 0)
        self.loop.run_until_complete(site.start())
        self.port = runner.addresses[0][1]
        self._ready.set()
        self.loop.run_forever()
        self.loop.run_until_complete(runner.cleanup())
        self.loop.close()

    def __enter__(self) -> ThreadedServer:
        self._thread.start()
        assert self._ready.wait(10), "server did not start"
        return self

    def __exit__(self, *exc: object) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)


class Client:
    """A blocking keep-alive HTTP/1.1 client that reconnects when the server closes."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.sock: socket.socket | None = None
        self.file = None

    def _connect(self) -> None:
        self.close()
        self.sock = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        self.file = self.sock.makefile("rb")

    def close(self) -> None:
        if self.file is not None:
            self.file.close()
        if self.sock is not None:
            self.sock.close()
        self.sock = self.file = None

    def request(self, method: str, target: str,
                headers: list[tuple[str, bytes]]) -> tuple[int, dict[str, str], bytes, bool]:
        if self.sock is None:
            self._connect()
        assert self.sock is not None and self.file is not None
        lines = [f"{method} {target} HTTP/1.1".encode(), b"Host: 127.0.0.1"]
        lines += [name.encode() + b": " + value for name, value in headers]
        self.sock.sendall(b"\r\n".join(lines) + b"\r\n\r\n")
        status_line = self.file.readline()
        # aiohttp answers a request it cannot parse with "HTTP/1.0 400" and closes
        match = re.fullmatch(rb"HTTP/1\.([01]) (\d{3}) .*\r\n", status_line)
        assert match, f"bad status line {status_line!r}"
        status = int(match.group(2))
        response_headers: dict[str, str] = {}
        while (line := self.file.readline()) != b"\r\n":
            assert line.endswith(b"\r\n"), line
            name, _, value = line[:-2].partition(b":")
            key = name.decode("latin-1").lower()
            assert key not in response_headers or key in ("vary",), f"duplicate {key}"
            response_headers[key] = value.strip().decode("latin-1")
        close = (response_headers.get("connection", "").lower() == "close"
                 or match.group(1) == b"0")
        length = response_headers.get("content-length")
        if method == "HEAD" or status == 304:
            body = b""
        elif length is None:
            assert close, "no Content-Length on a kept-alive response"
            body = self.file.read()
        else:
            body = self.file.read(int(length))
        if close:
            self.close()
        return status, response_headers, body, close


class Live(tuple):
    """(client, lib), with a short repr for Hypothesis' failure reports."""

    def __repr__(self) -> str:
        return "<live server>"


@pytest.fixture(scope="module", params=[True, False], ids=["sendfile", "chunked"])
def live(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
         library_maker: Callable[[Path, dict], Lib]) -> Iterator[tuple[Client, Lib]]:
    lib = library_maker(tmp_path_factory.mktemp("hostile") / "lib",
                        {"small.mp4": blob(40_000, seed=7), "empty.mp4": b"",
                         "one.mp4": b"x"})
    app = create_app(lib.index, lib.root, Settings(sendfile=request.param, max_ranges=20))
    with ThreadedServer(app) as server:
        client = Client(server.port)
        yield Live((client, lib))
        client.close()


NUMBER = st.one_of(
    st.integers(0, 45_000).map(str),
    st.integers(0, 45_000).map(str),
    st.integers(0, 45_000).map(str),
    st.integers(0, 10**25).map(str),
    st.integers(1, 5000).map(lambda n: "9" * n),  # longer than int() accepts by default
    st.integers(0, 40).map(lambda n: "0" * n + "1"),
    st.sampled_from(["", "-0", "+5", "0x10", "1e3", "١٢", "5 5", " 7"]),
)
MEMBER = st.one_of(
    st.tuples(NUMBER, NUMBER).map(lambda p: f"{p[0]}-{p[1]}"),
    NUMBER.map(lambda n: f"{n}-"),
    NUMBER.map(lambda n: f"-{n}"),
    st.sampled_from(["", "-", "--", "a-b", "0-1-2", "*", " ", "\t"]),
)
SPACE = st.sampled_from(["", " ", "\t", "  "])
PLAUSIBLE = st.lists(
    st.one_of(st.tuples(st.integers(0, 40_000), st.integers(0, 50_000))
              .map(lambda p: f"{min(p)}-{max(p)}"),
              st.integers(0, 40_000).map(lambda n: f"{n}-"),
              st.integers(0, 50_000).map(lambda n: f"-{n}")),
    min_size=1, max_size=5).map(lambda members: "bytes=" + ",".join(members))
RANGE = st.one_of(
    PLAUSIBLE,
    PLAUSIBLE,
    st.builds(lambda unit, eq, members, sep: f"{unit}{eq}{sep.join(members)}",
              st.sampled_from(["bytes"] * 8 + ["BYTES", "Bytes", " bytes", "bytes ",
                                                "items", "bytez", "", "bytes;q=1"]),
              st.sampled_from(["="] * 6 + [" = ", "==", ""]),
              st.one_of(st.lists(MEMBER, min_size=1, max_size=3),
                        st.lists(MEMBER, min_size=0, max_size=25)),
              st.builds(lambda a, b: f"{a},{b}", SPACE, SPACE)),
    st.text(alphabet="bytes=0123456789-, \t;*\"W/", max_size=60),
)
ETAG = st.one_of(
    st.sampled_from(['*', '""', '"', 'W/', 'W/""', '"a", "b"', ',,,', '"x"y', 'w/"x"',
                     '"0-0"', "*,*"]),
    st.text(alphabet='"W/*, abcdef0123456789-', max_size=40),
)
DATE = st.one_of(
    st.sampled_from([
        "Sun, 06 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT",
        "Sun Nov  6 08:49:37 1994", "Fri, 31 Dec 9999 23:59:59 GMT",
        "Mon, 01 Jan 0000 00:00:00 GMT", "Thu, 30 Feb 2023 10:00:00 GMT",
        "Tue, 15 Nov 1994 25:61:61 GMT", "sun, 06 nov 1994 08:49:37 gmt",
        "Sat, 31 Dec 1969 23:59:59 GMT", "0", "-1", "yesterday"]),
    st.text(alphabet="0123456789 :,-ADFJMNOSTWadefghlnoprtuvy", max_size=40),
)
ANY_TEXT = st.binary(max_size=60).map(
    lambda b: b.replace(b"\r", b"").replace(b"\n", b""))

#: name -> (value strategy, how many times the header appears: drawn from this list).
#: Preconditions that usually fail (If-Match, If-Unmodified-Since) are rarer, so that most
#: examples reach the Range evaluation.
HEADER_VALUES: dict[str, tuple[st.SearchStrategy[str], list[int]]] = {
    "Range": (RANGE, [0, 1, 1, 1, 1, 2]),
    "If-Range": (st.one_of(ETAG, DATE), [0, 0, 0, 1]),
    "If-Match": (ETAG, [0, 0, 0, 0, 0, 0, 1]),
    "If-None-Match": (ETAG, [0, 0, 0, 0, 1]),
    "If-Modified-Since": (DATE, [0, 0, 0, 0, 1]),
    "If-Unmodified-Since": (DATE, [0, 0, 0, 0, 0, 0, 1]),
}


@st.composite
def hostile_headers(draw: st.DrawFn) -> list[tuple[str, bytes]]:
    headers: list[tuple[str, bytes]] = []
    for name, (strategy, counts) in HEADER_VALUES.items():
        count = draw(st.sampled_from(counts))
        for _ in range(count):
            if draw(st.integers(0, 9)) == 0:
                value = draw(ANY_TEXT)  # raw bytes: obs-text, NUL, controls
            else:
                value = draw(strategy).encode("utf-8")
            headers.append((name, value))
    return draw(st.permutations(headers)) if headers else headers


CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+)")


def _check(status: int, headers: dict[str, str], body: bytes, method: str,
           data: bytes) -> None:
    assert status < 500, (status, body[:200])
    size = len(data)
    if method == "GET" and status != 304:
        assert headers.get("content-length") == str(len(body)), "Content-Length != body"
    assert "content-encoding" not in headers
    if status == 200 and "content-range" not in headers and method == "GET" and \
            headers.get("content-type", "").startswith("video/"):
        assert body == data
    elif status == 206 and method == "GET":
        if "content-range" in headers:
            match = CONTENT_RANGE.fullmatch(headers["content-range"])
            assert match, headers["content-range"]
            first, last, total = map(int, match.groups())
            assert total == size and first <= last < size
            assert body == data[first : last + 1]
        else:
            parts = parse_multipart(body, headers["content-type"])
            assert len(parts) >= 2
            for part_headers, part in parts:
                match = CONTENT_RANGE.fullmatch(part_headers["Content-Range"])
                assert match
                first, last, total = map(int, match.groups())
                assert total == size and first <= last < size
                assert part == data[first : last + 1]
    elif status == 416:
        assert headers["content-range"] == f"bytes */{size}"
        assert body == b""
    elif status in (304, 412):
        assert body == b""
    if method == "HEAD" and status in (200, 206):
        assert headers["content-length"] == str(size)


@settings(max_examples=200, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(headers=hostile_headers(), method=st.sampled_from(["GET", "GET", "GET", "HEAD"]),
       name=st.sampled_from(["small.mp4", "small.mp4", "empty.mp4", "one.mp4"]),
       use_etag=st.booleans())
def test_hostile_conditional_and_range_headers_never_5xx(
        live: tuple[Client, Lib], headers: list[tuple[str, bytes]], method: str, name: str,
        use_etag: bool) -> None:
    client, lib = live
    data = lib.data[name]
    target = lib.stream(name)
    if use_etag:  # make the matching branches reachable: mix in the real validators
        _, probe, _, _ = client.request("HEAD", target, [])
        headers = [(n, v.replace(b'"x"', probe["etag"].encode())) for n, v in headers]
        headers.append(("If-Range", probe["etag"].encode()))
    status, response_headers, body, _ = client.request(method, target, headers)
    multipart = "multipart" in response_headers.get("content-type", "")
    event(f"{method} {status}{' multipart' if multipart else ''}")  # --hypothesis-show-statistics
    _check(status, response_headers, body, method, data)
    # the connection is still in sync (or was closed cleanly): a plain request works
    status, response_headers, body, _ = client.request("GET", target, [("Range", b"bytes=0-0")])
    if data:
        assert status == 206
        assert body == data[:1]
    else:
        assert status == 416


@settings(max_examples=60, deadline=None)
@given(target=st.text(alphabet="abcdef0123456789/.%2eEfF5c;?#", min_size=1, max_size=40))
def test_hostile_paths_never_5xx(live: tuple[Client, Lib], target: str) -> None:
    client, _ = live
    status, headers, body, _ = client.request("GET", "/api/videos/" + target, [])
    assert status < 500
    assert status in (200, 400, 404, 405) or headers.get("content-type", "").startswith("video/")
    if "content-length" in headers:
        assert headers["content-length"] == str(len(body))
