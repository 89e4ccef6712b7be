"""Fixtures for the library's life: real clips in real folders, real ``mediaserve``
processes (serve, scan --watch, scan, audit), and bounded polling instead of sleeps."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from benchmarks.peers import free_port, stop_process, wait_for_port
from mediaserve.adapters.media.clips import ClipSpec, encode_clip

#: how long any poll waits for an outcome before the test fails (not a timing assert: a
#: generous bound so a loaded machine passes, a broken feature fails)
DEADLINE = 30.0


def poll(check: Callable[[], Any], deadline: float = DEADLINE, every: float = 0.1) -> Any:
    """Call ``check`` until it returns something truthy; fail after ``deadline`` seconds."""
    end = time.monotonic() + deadline
    last: Any = None
    while time.monotonic() < end:
        last = check()
        if last:
            return last
        time.sleep(every)
    raise AssertionError(f"condition not reached in {deadline} s; last value: {last!r}")


def mediaserve(*args: str, env: dict[str, str] | None = None,
               timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run one ``mediaserve`` command to completion; stdout/stderr captured as text."""
    return subprocess.run([sys.executable, "-m", "mediaserve", *args], capture_output=True,
                          text=True, timeout=timeout,
                          env={**os.environ, "COLUMNS": "200", **(env or {})})


@pytest.fixture(scope="session")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """Bytes of a few real clips (encoded once), by name: three playable, one too short."""
    folder = tmp_path_factory.mktemp("clips")
    specs = {"a.mp4": ClipSpec("a.mp4", seconds=2.0), "b.mp4": ClipSpec("b.mp4", seconds=3.0),
             "c.webm": ClipSpec("c.webm", video_codec="libvpx-vp9", audio_codec=None),
             "short.mp4": ClipSpec("short.mp4", seconds=0.3),
             "big.mp4": ClipSpec("big.mp4", seconds=4.0, width=320, height=240, noise=True,
                                 bit_rate=4_000_000)}
    return {name: encode_clip(folder, spec).read_bytes() for name, spec in specs.items()}


class Server:
    """``mediaserve serve`` as a child process, its stderr in a file the test can read."""

    def __init__(self, folder: Path, *args: str, defaults: bool = False) -> None:
        """``defaults``: serve as a user would, with no flag but the port (the folder is
        followed); else with ``--access-log off --no-watch`` before ``args``."""
        self.port = free_port()
        self.errors = tempfile.TemporaryFile()  # noqa: SIM115 - closed by the fixture
        quiet = () if defaults else ("--access-log", "off", "--no-watch")
        env = {k: v for k, v in os.environ.items() if k != "MEDIASERVE_WATCH"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "mediaserve", "serve", str(folder), "--port", str(self.port),
             *quiet, *args], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=self.errors, env=env)
        wait_for_port(self.port, self.proc, 60, stderr=self.errors)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def stderr(self) -> str:
        self.errors.seek(0)
        return self.errors.read().decode(errors="replace")

    def videos(self) -> dict[str, dict[str, Any]]:
        """``GET /api/videos`` by path."""
        with urllib.request.urlopen(f"{self.base}/api/videos", timeout=10) as resp:
            listing = json.load(resp)
        return {v["path"]: v for v in listing["videos"]}

    def stop(self) -> int:
        code = stop_process(self.proc, 20)
        return code


@pytest.fixture
def server() -> Iterator[Callable[..., Server]]:
    started: list[Server] = []

    def start(folder: Path, *args: str, defaults: bool = False) -> Server:
        started.append(Server(folder, *args, defaults=defaults))
        return started[-1]

    yield start
    for child in started:
        stop_process(child.proc, 0)
        child.errors.close()
