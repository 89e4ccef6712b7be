"""The access log's lines of one loop iteration leave in one write, by the iteration's end."""

from __future__ import annotations

import asyncio
import io
import logging

from mediaserve.adapters.server.api.accesslog import CombinedLogger


class CountingStream(io.StringIO):
    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def write(self, text: str) -> int:
        self.writes += 1
        return super().write(text)


def _logger(name: str) -> tuple[logging.Logger, CountingStream]:
    stream = CountingStream()
    logger = logging.getLogger(f"tests.accesslog.{name}")
    logger.handlers.clear()
    logger.propagate = False
    logger.setLevel(logging.INFO)
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger.addHandler(handler)
    return logger, stream


def _line(access: CombinedLogger, n: int) -> None:
    access.write("127.0.0.1", "GET", f"/x{n}?token=secret", "1.1", 206, 2, "-", "agent")


async def test_a_bursts_lines_leave_together_within_the_iteration() -> None:
    logger, stream = _logger("burst")
    access = CombinedLogger(logger, "")
    for n in range(3):
        _line(access, n)
    assert stream.writes == 0  # not yet: the flush runs after this iteration's callbacks
    await asyncio.sleep(0)
    assert stream.writes == 1
    lines = stream.getvalue().splitlines()
    assert [line.split('"')[1] for line in lines] == [
        f"GET /x{n}?token=REDACTED HTTP/1.1" for n in range(3)]
    _line(access, 3)
    await asyncio.sleep(0)
    assert stream.writes == 2 and len(stream.getvalue().splitlines()) == 4


def test_without_a_loop_a_line_leaves_at_once() -> None:
    logger, stream = _logger("noloop")
    access = CombinedLogger(logger, "")
    _line(access, 0)
    assert stream.writes == 1 and stream.getvalue().count("\n") == 1
