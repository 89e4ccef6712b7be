"""Slowloris at the connection cap (issue 17, finding 6): half-sent heads are reclaimed, and
one client address cannot hold every connection.

Before: a half-sent head counted as busy and was never evicted, so at ``ulimit -n 256`` 150
of them locked new clients out for the 60 s header timeout (nginx behaves the same). Each
test waits for its outcome within a generous bound; none asserts how long anything took.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mediaserve.adapters.server import create_app
from mediaserve.adapters.server.net.guard import SLOW_AFTER, per_address_share
from mediaserve.adapters.server.runner import Running, start_server
from mediaserve.core.config.settings import Settings
from tests.server.conftest import Lib, blob

BOUND = 15.0  # the header timeout is 60 s: an answer within this came from a reclaim
HALF_HEAD = b"GET /api/videos HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "
REQUEST = b"GET /api/videos HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"


@pytest.fixture
def lib(tmp_path: Path, library_maker: Callable[[Path, dict], Lib]) -> Lib:
    return library_maker(tmp_path / "lib", {"a.mp4": blob(4096, seed=9)})


@pytest.fixture
async def server() -> Any:
    running: list[Running] = []

    async def start(lib: Lib, **values: Any) -> Running:
        settings = Settings(host="127.0.0.1", port=0, access_log="off", **values)
        started = await start_server(create_app(lib.index, lib.root, settings), settings)
        running.append(started)
        return started

    yield start
    for started in running:
        await started.stop()


async def _connect(port: int, source: str = "127.0.0.1"
                   ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    sock = socket.socket()
    sock.bind((source, 0))  # all of 127/8 is this machine: a second client address
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
    return await asyncio.open_connection(sock=sock)


async def _until(predicate: Callable[[], bool]) -> bool:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + BOUND
    while not predicate():
        if loop.time() > deadline:
            return False
        await asyncio.sleep(0.02)
    return True


async def _answered(port: int, source: str = "127.0.0.1") -> bytes:
    reader, writer = await _connect(port, source)
    try:
        writer.write(REQUEST)
        return await asyncio.wait_for(reader.read(), BOUND)
    finally:
        writer.close()


async def test_at_the_cap_the_slowest_half_sent_head_makes_room(server: Any, lib: Lib) -> None:
    running = await server(lib, max_connections=6, max_connections_per_address=6)
    guard = running.guard
    slow = []
    for n in range(6):  # each trickles a different amount: the least sent goes first
        reader, writer = await _connect(running.port)
        writer.write(HALF_HEAD + b"x" * (10 * n))
        slow.append((reader, writer))
    assert await _until(lambda: len(guard.heads) == 6 and guard.active == 6)
    await asyncio.sleep(SLOW_AFTER + 0.2)  # now they are slow, not merely arriving
    answer = await _answered(running.port)
    assert answer.startswith(b"HTTP/1.1 200 "), answer[:60]
    assert guard.reclaimed >= 1
    # the one that had sent the least (the first) was closed; the one that sent most lives
    assert await asyncio.wait_for(slow[0][0].read(), BOUND) == b""
    assert not slow[-1][0].at_eof()
    for _reader, writer in slow:
        writer.close()


async def test_one_address_cannot_hold_every_connection(server: Any, lib: Lib) -> None:
    running = await server(lib, max_connections=6, max_connections_per_address=3)
    guard = running.guard
    hogs = []
    for _ in range(6):  # one host opens the whole cap's worth of half-sent heads
        reader, writer = await _connect(running.port, "127.0.0.2")
        writer.write(HALF_HEAD)
        hogs.append((reader, writer))
    assert await _until(lambda: guard.refused == 3)
    assert guard.by_address.get("127.0.0.2") == 3
    answer = await _answered(running.port, "127.0.0.1")  # another host is served at once
    assert answer.startswith(b"HTTP/1.1 200 "), answer[:60]
    for _reader, writer in hogs:
        writer.close()


async def test_over_its_share_an_address_loses_its_own_idle_connection_first(
        server: Any, lib: Lib) -> None:
    running = await server(lib, max_connections=20, max_connections_per_address=2)
    idle = [await _connect(running.port, "127.0.0.3") for _ in range(2)]
    assert await _until(lambda: running.guard.by_address.get("127.0.0.3") == 2)
    answer = await _answered(running.port, "127.0.0.3")  # its third: the oldest idle goes
    assert answer.startswith(b"HTTP/1.1 200 ")
    assert await asyncio.wait_for(idle[0][0].read(), BOUND) == b""
    assert running.guard.refused == 0 and running.guard.reclaimed == 1
    for _reader, writer in idle:
        writer.close()


def test_the_default_share_is_half_the_cap_but_at_least_sixteen() -> None:
    assert per_address_share(0, 1000) == 500
    assert per_address_share(0, 20) == 16
    assert per_address_share(0, 4) == 4  # never above the cap
    assert per_address_share(7, 1000) == 7
    assert per_address_share(7, 5) == 5


async def test_at_the_cap_an_address_over_its_share_never_evicts_another_address(
        server: Any, lib: Lib) -> None:
    """Review of issue 18, F7: the cap's reclaim ran before the per-address check, so every
    refused newcomer of a greedy address first closed someone else's idle connection."""
    running = await server(lib, max_connections=6, max_connections_per_address=3)
    guard = running.guard
    others = [await _connect(running.port, "127.0.0.4") for _ in range(3)]  # idle, polite
    hogs = []
    for _ in range(3):
        reader, writer = await _connect(running.port, "127.0.0.5")
        writer.write(HALF_HEAD)
        hogs.append((reader, writer))
    assert await _until(lambda: guard.active == 6)
    for _ in range(4):  # the greedy address knocks again and again at the cap
        reader, writer = await _connect(running.port, "127.0.0.5")
        hogs.append((reader, writer))
    assert await _until(lambda: guard.refused >= 4)
    await asyncio.sleep(0.2)
    assert guard.by_address.get("127.0.0.4") == 3  # nobody else paid for it
    assert not any(reader.at_eof() for reader, _ in others)
    for _reader, writer in hogs + others:
        writer.close()


async def test_a_body_that_trickles_is_reclaimed_like_a_slow_head(server: Any, lib: Lib) -> None:
    """Review F5: a request body sent a byte at a time held its connection as busy, and each
    byte re-armed the timeout. A body is collected before aiohttp sees the request, and a
    connection collecting one is as reclaimable as a slow head."""
    running = await server(lib, max_connections=4, max_connections_per_address=4)
    guard = running.guard
    slow = []
    for _ in range(4):
        reader, writer = await _connect(running.port)
        writer.write(b"POST /api/videos HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     b"Content-Length: 1000\r\n\r\n" + b"x")
        slow.append((reader, writer))
    assert await _until(lambda: len(guard.heads) == 4 and guard.active == 4)
    await asyncio.sleep(SLOW_AFTER + 0.2)
    answer = await _answered(running.port)
    assert answer.startswith(b"HTTP/1.1 200 "), answer[:60]
    assert guard.reclaimed >= 1
    for _reader, writer in slow:
        writer.close()


async def test_a_body_must_be_complete_within_the_header_timeout_of_its_head(
        server: Any, lib: Lib) -> None:
    running = await server(lib, header_timeout=1.5)
    guard = running.guard
    _reader, writer = await _connect(running.port)
    writer.write(b"POST /api/videos HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\n")
    sent = 0
    while guard.header_timeouts == 0 and sent < 60:
        # a byte every 0.1 s: each re-armed the timeout before, so this went on for ever
        writer.write(b"x")
        sent += 1
        await asyncio.sleep(0.1)
    # closed while the body still trickled (60 of its 100 bytes take 6 s, 4 timeouts' worth)
    assert guard.header_timeouts == 1 and sent < 60, sent
    assert await _until(lambda: guard.active == 0)
    writer.close()


async def test_when_aiohttp_cannot_be_built_requests_get_a_503_and_the_log_says_why(
        lib: Lib, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """The web application is built on the first request that needs it: a failure there (a
    missing package in a broken install) gave an empty reply and no log line."""
    from mediaserve.adapters.server import runner
    from mediaserve.adapters.server.site.site import Site

    real = runner._aiohttp_server
    calls = []

    async def failing_once(*args: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:
            raise ImportError("No module named 'pebble'")
        return await real(*args)

    monkeypatch.setattr(runner, "_aiohttp_server", failing_once)
    settings = Settings(host="127.0.0.1", port=0, access_log="off")
    running = await start_server(Site(lib.index, lib.root, settings), settings)
    try:
        first = await _answered(running.port)
        assert first.startswith(b"HTTP/1.1 503 ") and b"log says why" in first, first[:200]
        assert "could not build the web application" in caplog.text
        assert "No module named 'pebble'" in caplog.text
        again = await _answered(running.port)  # the next request tries again
        assert again.startswith(b"HTTP/1.1 200 "), again[:60]
    finally:
        await running.stop()
