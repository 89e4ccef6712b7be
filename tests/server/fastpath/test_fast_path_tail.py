"""An answer whose body goes on in a task, when the connection is gone before the task has
run a single step (the client reset right after its request): the file is closed, the
abort counted and the line logged with the client's address, all without the coroutine."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mediaserve.adapters.server import create_app
from mediaserve.adapters.server.api.access import ACCESS
from mediaserve.adapters.server.api.keys import STATE
from mediaserve.adapters.server.stream.fast import FastStreams
from mediaserve.core.config.settings import Settings
from mediaserve.core.http.request_head import read_head
from mediaserve.core.stats import StatsCollector
from tests.server.conftest import MIB, Lib, RecordingLogger, blob, fds_open_on


class _FullTransport:
    """A transport whose buffer is never empty, so the body must wait for a task."""

    def __init__(self) -> None:
        self.written = b""
        self.aborted = False

    def write(self, data: bytes) -> None:
        self.written += data

    def get_write_buffer_size(self) -> int:
        return 1

    def abort(self) -> None:
        self.aborted = True

    def is_closing(self) -> bool:
        return self.aborted

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return default


class _VanishingConnection:
    """Cancels a tail task the moment it exists, as ``connection_lost`` does when the client
    resets right after its request."""

    def __init__(self, transport: _FullTransport) -> None:
        self.transport = transport
        self.sock_fd = 1_000_000  # a socket the body must never reach: it waits for a task
        self.remote = "192.0.2.7"
        self.lost = False
        self.done: list[bool] = []

    def fast_tail(self, task: asyncio.Task[None]) -> None:
        self.lost = True
        task.cancel()

    def fast_done(self, keep_alive: bool) -> None:
        self.done.append(keep_alive)


async def test_a_tail_cancelled_before_it_ran_is_cleaned_up(
        tmp_path: Path, library_maker: Callable[[Path, dict], Lib]) -> None:
    lib = library_maker(tmp_path / "lib", {"big.mp4": blob(4 * MIB, seed=4)})
    app = create_app(lib.index, lib.root, Settings(host="127.0.0.1"))
    state = app[STATE]
    state.stats = StatsCollector()
    logger = logging.getLogger("tests.fastpath.tail")
    logger.propagate = False
    lines: list[str] = []
    logger.handlers.clear()
    logger.addHandler(type("H", (logging.Handler,), {
        "emit": lambda self, record: lines.append(record.getMessage())})())
    logger.setLevel(logging.INFO)
    logger.mediaserve_records = []  # type: ignore[attr-defined]
    fast = FastStreams(state, app[ACCESS], RecordingLogger(logger, ""))
    transport = _FullTransport()
    conn = _VanishingConnection(transport)
    head = read_head(f"GET {lib.stream('big.mp4')} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
                     .encode())
    assert fast.serve(conn, head)
    assert transport.written.startswith(b"HTTP/1.1 200 OK\r\n")
    for _ in range(5):
        await asyncio.sleep(0)
    assert fds_open_on(lib.path("big.mp4")) == 0
    assert transport.aborted and conn.done == [False]
    assert lines and lines[0].startswith("192.0.2.7 - - ["), lines
    video = state.stats.snapshot()["videos"][0]
    assert video["requests"] == 1 and video["aborts"] == 1 and video["active_streams"] == 0
    assert not state.inflight
