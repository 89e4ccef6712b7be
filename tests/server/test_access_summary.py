"""The access log keeps a terminal readable: on a terminal (``access_log = auto``, the
default) a summary line per window of traffic instead of a line per request, so the start-up
line with the URL stays on screen; in a pipe or a file, every request as before.

Real ``mediaserve serve`` processes: one whose stderr is a pseudo-terminal, one whose
stderr is a pipe. The window's timer is checked in-process with a short window."""

from __future__ import annotations

import asyncio
import io
import os
import pty
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

from mediaserve.adapters.library.store import INDEX_NAME, save_index
from mediaserve.adapters.server.site.access_summary import (
    SummaryLog,
    open_access_log,
    resolve_target,
)
from mediaserve.core.config.settings import Settings
from mediaserve.core.stats.access_summary import AccessWindow, size_text
from tests.server.conftest import REPO, STARTED, Lib, ServeProcess, blob

REQUESTS = 25


def _requests(base: str, vid: str) -> int:
    """REQUESTS answers: pages, the listing, ranges of a stream, and two 404s; their bytes."""
    sent = 0
    for number in range(REQUESTS):
        if number < 2:
            url = f"{base}api/videos/ffffffffffff"
        elif number % 2:
            url = f"{base}api/videos"
        else:
            url = f"{base}api/videos/{vid}/stream"
        request = urllib.request.Request(url, headers={"Range": "bytes=0-999"})
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                sent += len(answer.read())
        except urllib.error.HTTPError as error:
            sent += len(error.read())
    return sent


class _TerminalServe:
    """``mediaserve serve`` with its stderr (and stdout) on a pseudo-terminal."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        master, slave = pty.openpty()
        inherited = {k: v for k, v in os.environ.items() if not k.startswith("MEDIASERVE_")}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "mediaserve", "serve", *args], cwd=REPO,
            env={**inherited, "PYTHONPATH": str(REPO), "MEDIASERVE_WATCH": "false", **env},
            stdin=subprocess.DEVNULL, stdout=slave, stderr=slave, close_fds=True)
        os.close(slave)
        self.master = master
        self.output = ""
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                data = os.read(self.master, 65536)
            except OSError:  # EIO: the terminal's other end is closed
                return
            if not data:
                return
            self.output += data.decode("utf-8", "replace").replace("\r\n", "\n")

    def wait_started(self) -> str:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if match := STARTED.search(self.output):
                return match[4]
            assert self.proc.poll() is None, self.output
            time.sleep(0.02)
        raise AssertionError(f"no start-up line:\n{self.output}")

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        assert self.proc.wait(30) == 0, self.output
        self._reader.join(5)
        os.close(self.master)


def test_a_terminal_gets_a_summary_and_keeps_the_start_up_line(
        tmp_path: Path, library_maker: Callable[[Path, dict], Lib]) -> None:
    lib = library_maker(tmp_path / "lib", {"clip.mp4": blob(50_000, seed=3)})
    save_index(lib.root / INDEX_NAME, lib.index)
    serve = _TerminalServe([str(lib.root), "--port", "0"],
                           {"MEDIASERVE_DATA_DIR": str(tmp_path / "data")})
    try:
        base = serve.wait_started()
        sent = _requests(base, lib.ids["clip.mp4"])
    finally:
        serve.stop()
    lines = serve.output.strip().split("\n")
    assert STARTED.search(lines[0]), lines
    assert "access log: a summary line every 30 s" in lines[1]
    assert f"mediaserve stats {base}" in lines[1]
    assert not [line for line in lines if '" 200 ' in line or '" 206 ' in line]  # no per-request
    summary = [line for line in lines if re.search(r"\d+ requests?, ", line)]
    assert len(summary) == 1, serve.output
    assert f"{REQUESTS} requests, {size_text(sent)} sent in " in summary[0], summary
    assert "(2 × 404)" in summary[0]
    assert summary[0].endswith(f" · {base}")
    assert len(lines) <= 6, serve.output  # start-up, notice, summary, shutdown, stopped


def test_a_pipe_gets_a_line_per_request(spawn: Callable[..., ServeProcess], tmp_path: Path,
                                        library_maker: Callable[[Path, dict], Lib]) -> None:
    lib = library_maker(tmp_path / "lib", {"clip.mp4": blob(50_000, seed=3)})
    save_index(lib.root / INDEX_NAME, lib.index)
    child = spawn(str(lib.root), "--port", "0",
                  env={"MEDIASERVE_DATA_DIR": str(tmp_path / "data")}).wait_started()
    _requests(child.url, lib.ids["clip.mp4"])
    child.proc.send_signal(signal.SIGTERM)
    assert child.wait(30) == 0
    logged = [line for line in child.lines if '"GET /api/' in line]
    assert len(logged) == REQUESTS, child.stderr
    assert "access log: a summary" not in child.stderr


def test_auto_follows_the_terminal_and_explicit_targets_win() -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert resolve_target("auto", Terminal()) == "summary"
    assert resolve_target("auto", io.StringIO()) == "-"
    for target in ("-", "off", "summary", "/var/log/x.log"):
        assert resolve_target(target, Terminal()) == target
    assert isinstance(open_access_log(Settings(), Terminal()), SummaryLog)
    assert open_access_log(Settings(access_log="off"), Terminal()) is None
    assert not isinstance(open_access_log(Settings(access_log="-"), Terminal()), SummaryLog)


async def test_each_window_of_traffic_is_one_line_and_an_idle_server_says_nothing() -> None:
    out = io.StringIO()
    log = SummaryLog(out, seconds=0.2)
    log.started("http://127.0.0.1:9/")
    for status in (200, 206, 206, 404, 500):
        log.write("127.0.0.1", "GET", "/x", "1.1", status, 1000, "-", "-")
    assert out.getvalue() == ""  # nothing per request
    for _ in range(200):  # the window ends on the loop's timer
        if out.getvalue():
            break
        await asyncio.sleep(0.02)
    first = out.getvalue()
    assert first.count("\n") == 1 and "5 requests, 4.9 KiB sent" in first
    assert "(1 × 404, 1 × 500)" in first and first.endswith("· http://127.0.0.1:9/\n")
    await asyncio.sleep(0.5)
    assert out.getvalue() == first  # idle: no line
    log.write("127.0.0.1", "GET", "/x", "1.1", 200, 10, "-", "-")
    log.close()  # shutdown: the last window's line at once
    assert out.getvalue().count("\n") == 2 and "1 request, 10 B sent" in out.getvalue()


def test_a_window_names_the_most_common_errors() -> None:
    window = AccessWindow()
    for status, count in ((404, 5), (500, 1), (403, 2), (416, 2), (401, 1), (200, 9)):
        for _ in range(count):
            window.add(status, 0)
    line = window.line(30.0, "12:00:00", who="worker 42: ")
    assert line == ("12:00:00 worker 42: 20 requests, 0 B sent in 30 s (5 × 404, 2 × 403, "
                    "2 × 416, 1 × 401, 1 other errors)")
    assert AccessWindow().line(30.0, "12:00:00") is None
