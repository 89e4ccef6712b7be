"""Fixtures for the server tests: libraries on disk and real servers on a loopback port.

``serve`` starts ``create_app`` on a real listening socket on 127.0.0.1 (an ``AppRunner`` set
up as ``runner.run_until_signalled`` sets it up, not an in-memory transport). Every test that
uses it runs twice: once with the ``sendfile`` fast path and once with the chunked fallback
(``Settings(sendfile=False)``). ``spawn`` runs ``mediaserve serve`` itself as a child process
(``test_lifecycle.py``, and ``test_security.py`` for what only a process without root's
permission bypass can show).
"""

from __future__ import annotations

import copy
import functools
import hashlib
import logging
import os
import random
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from benchmarks.peers import stop_process
from mediaserve.adapters.library.scanner import scan
from mediaserve.adapters.server import create_app
from mediaserve.adapters.server.api.accesslog import SENT_KEY, CombinedLogger
from mediaserve.adapters.server.api.keys import STATE
from mediaserve.adapters.server.net.guard import ConnectionGuard
from mediaserve.adapters.server.runner import Running, start_server
from mediaserve.adapters.server.site import open_files
from mediaserve.core.config.settings import Settings
from mediaserve.core.library.index import LibraryIndex
from tests.conftest import without_dac_override
from tests.server.rawhttp import Connection, RawResponse

MIB = 1024 * 1024


@functools.cache
def blob(size: int, seed: int = 1) -> bytes:
    """``size`` deterministic pseudo-random bytes (cached: tests never mutate bytes)."""
    return random.Random(seed).randbytes(size)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class Lib:
    """A library folder, scanned in-process, and the bytes each file held when written."""

    root: Path
    index: LibraryIndex
    data: dict[str, bytes]

    def __repr__(self) -> str:  # keep megabytes of file data out of failure reports
        return f"Lib({str(self.root)!r}, {sorted(self.data)})"

    @property
    def ids(self) -> dict[str, str]:
        return {entry.path: vid for vid, entry in self.index.videos.items()}

    def stream(self, name: str) -> str:
        return f"/api/videos/{self.ids[name]}/stream"

    def path(self, name: str) -> Path:
        return self.root / name


def make_library(root: Path, files: dict[str, bytes]) -> Lib:
    """Write ``files`` (relative name -> bytes) under ``root`` and scan them."""
    root.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    index, _summary = scan(root, None, workers=1)
    return Lib(root, index, dict(files))


_TEMPLATES: dict[tuple[tuple[str, str], ...], Lib] = {}


@pytest.fixture(scope="session")
def library_maker(tmp_path_factory: pytest.TempPathFactory) -> Callable[[Path, dict], Lib]:
    """``make(root, files)``: like :func:`make_library`, but each distinct set of files is
    scanned once per session and copied (with mtimes) afterwards: probing random bytes costs
    ~0.15 s, copying a few MB a few ms. Each test still gets its own folder to change."""

    def make(root: Path, files: dict[str, bytes]) -> Lib:
        key = tuple(sorted((name, sha256(data)) for name, data in files.items()))
        template = _TEMPLATES.get(key)
        if template is None:
            template = make_library(tmp_path_factory.mktemp("template"), files)
            _TEMPLATES[key] = template
        shutil.copytree(template.root, root)
        return Lib(root, copy.deepcopy(template.index), dict(files))

    return make


def fds_open_on(path: Path) -> int:
    """How many descriptors of this process (the in-process server) a stream holds on
    ``path``: those the server keeps open for reuse while no stream uses them
    (``site/open_files.py``) do not count (``kept_open`` counts them)."""
    target = os.path.realpath(path)
    idle = {fd for files in open_files.LIVE for fd in files.idle()}
    return sum(1 for fd in _fds_on(target) if fd not in idle)


def kept_open(path: Path) -> int:
    """Descriptors on ``path`` kept open for reuse, used by no stream."""
    target = os.path.realpath(path)
    idle = {fd for files in open_files.LIVE for fd in files.idle()}
    return sum(1 for fd in _fds_on(target) if fd in idle)


def _fds_on(target: str) -> list[int]:
    found = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{fd}") == target:
                found.append(int(fd))
        except OSError:
            continue
    return found


class RecordingLogger(CombinedLogger):
    """The server's own access logger, also keeping what it logged for the test to read.
    Both paths log through ``write``; the aiohttp path's records also carry what went
    through aiohttp's writer (the fast path has none: ``writer_bytes`` stays None)."""

    def write(self, remote: str | None, method: str, target: str, version: str, status: int,
              sent: int, referer: str, agent: str) -> None:
        super().write(remote, method, target, version, status, sent, referer, agent)
        self.logger.mediaserve_records.append(  # type: ignore[attr-defined]
            {"method": method, "path": target.split("?", 1)[0], "status": status,
             "sent": sent, "writer_bytes": None})

    def log(self, request: Any, response: Any, duration: float) -> None:
        super().log(request, response, duration)
        record = self.logger.mediaserve_records[-1]  # type: ignore[attr-defined]
        record["sent"] = request.get(SENT_KEY)
        record["writer_bytes"] = response.body_length


class _ListHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@dataclass
class Served:
    """A running server plus what it logged."""

    port: int
    lib: Lib
    app: web.Application
    access_lines: list[str]
    records: list[dict[str, Any]]
    connections: list[Connection] = field(default_factory=list)
    guard: ConnectionGuard | None = None
    running: Running | None = None

    @property
    def fast_served(self) -> int:
        """Requests the stream fast path answered (0 when it is off)."""
        fast = self.running.fast if self.running is not None else None
        return fast.served if fast is not None else 0

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    async def connect(self, **kwargs: Any) -> Connection:
        conn = await Connection.open(self.port, **kwargs)
        self.connections.append(conn)
        return conn

    async def fetch(self, method: str, path: str,
                    headers: dict[str, str] | None = None) -> RawResponse:
        """One request on a fresh connection."""
        conn = await self.connect()
        try:
            return await conn.request(method, path, headers)
        finally:
            await conn.close()

    async def get_json(self, path: str) -> tuple[int, Any]:
        import json

        response = await self.fetch("GET", path)
        assert response.headers["Content-Type"].startswith("application/json"), response.headers
        return response.status, json.loads(response.body)


@pytest.fixture(params=["fast", "sendfile", "chunked"])
def serve_mode(request: pytest.FixtureRequest) -> str:
    """How stream bodies are served: the fast path (``serve``'s default), aiohttp's path
    with sendfile (``--no-fast-path``), or aiohttp's chunked fallback (``--no-sendfile``)."""
    return str(request.param)


@pytest.fixture
def sendfile(serve_mode: str) -> bool:
    return serve_mode != "chunked"


@pytest.fixture
async def serve(serve_mode: str) -> Any:
    """``await serve(lib, **settings)``: a real server for ``lib`` on a free loopback port.

    Built by ``runner.start_server``, as ``serve`` builds it (our listener, connection guard
    and, in "fast" mode, the stream fast path), with a recording access logger. Every test
    that uses it runs in each of the three :func:`serve_mode` modes.
    """
    runners: list[Running] = []
    served: list[Served] = []
    loggers: list[logging.Logger] = []

    async def start(lib: Lib, **settings: Any) -> Served:
        settings.setdefault("sendfile", serve_mode != "chunked")
        settings.setdefault("fast_path", serve_mode == "fast")
        settings.setdefault("host", "127.0.0.1")
        settings.setdefault("port", 0)
        settings.setdefault("shutdown_timeout", 1.0)
        app = create_app(lib.index, lib.root, Settings(**settings))
        logger = logging.getLogger(f"tests.server.access.{id(app)}")
        logger.propagate = False
        logger.setLevel(logging.INFO)
        handler = _ListHandler()
        logger.addHandler(handler)
        logger.mediaserve_records = []  # type: ignore[attr-defined]
        loggers.append(logger)
        running = await start_server(app, app[STATE].settings,
                                     access_log=(RecordingLogger, logger))
        runners.append(running)
        result = Served(running.port, lib, app, handler.lines,
                        logger.mediaserve_records,  # type: ignore[attr-defined]
                        guard=running.guard, running=running)
        served.append(result)
        return result

    yield start
    for result in served:
        for conn in result.connections:
            conn.writer.transport.abort()
    for running in runners:
        await running.stop()
    for logger in loggers:
        logger.handlers.clear()


@pytest.fixture
def byte_lib(tmp_path: Path, library_maker: Callable[[Path, dict], Lib]) -> Lib:
    """Random bytes named like videos (indexed with a probe error, still servable)."""
    return library_maker(tmp_path / "lib", {
        "blob.mp4": blob(2 * MIB + 12345, seed=1),
        "small.mp4": blob(64 * 1024, seed=2),
        "empty.mp4": b"",
        "sub dir/nested.webm": blob(300_000, seed=3),
    })


@pytest.fixture
def big_lib(tmp_path: Path, library_maker: Callable[[Path, dict], Lib]) -> Lib:
    """One file larger than loopback socket buffers, so a response is really mid-body."""
    return library_maker(tmp_path / "lib", {"big.mp4": blob(12 * MIB, seed=4)})


# ------------------------------------------------------------------ serve as a process

REPO = Path(__file__).resolve().parents[2]
STARTED = re.compile(r"mediaserve: serving (\d+) videos \(.*?, (.*?)\) from (.*) at "
                     r"(http://127\.0\.0\.1:(\d+)/)  \(index (.*)\)")


class ServeProcess:
    """A ``python -m mediaserve serve ...`` child; stderr is collected line by line."""

    def __init__(self, args: list[str], env: dict[str, str] | None = None,
                 cmd: list[str] | None = None) -> None:
        inherited = {k: v for k, v in os.environ.items() if not k.startswith("MEDIASERVE_")}
        # no folder watcher unless a test asks (MEDIASERVE_WATCH=true or --watch): a child
        # process per server would only load the machine the suite shares
        full_env = {**inherited, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1",
                    "MEDIASERVE_WATCH": "false", **(env or {})}
        self.proc = subprocess.Popen(
            cmd or [sys.executable, "-m", "mediaserve", "serve", *args], cwd=REPO, env=full_env,
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, encoding="utf-8", errors="replace")
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.url = ""
        self.port = 0
        self.match: re.Match[str] | None = None

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line.rstrip("\n"))

    @property
    def stderr(self) -> str:
        return "\n".join(self.lines)

    def wait_started(self, timeout: float = 20) -> ServeProcess:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.lines):
                if match := STARTED.search(line):
                    self.match = match
                    self.url, self.port = match[4], int(match[5])
                    return self
            if self.proc.poll() is not None:
                self._reader.join(2)
                pytest.fail(f"serve exited {self.proc.returncode}:\n{self.stderr}")
            time.sleep(0.02)
        pytest.fail(f"no start-up line within {timeout} s:\n{self.stderr}")

    def wait(self, timeout: float) -> int:
        code = self.proc.wait(timeout)
        self._reader.join(2)
        return code

    def stop(self) -> None:
        stop_process(self.proc, timeout=0)  # kill: the tests that care send SIGTERM themselves


@pytest.fixture
def spawn() -> Iterator[Callable[..., ServeProcess]]:
    """``spawn(*args, env=..., unprivileged=False)``: start ``mediaserve serve ARGS``.

    ``unprivileged=True`` runs it where file permissions apply even to root (see
    ``tests.conftest.without_dac_override``); it skips when that is impossible.
    """
    children: list[ServeProcess] = []

    def start(*args: str, env: dict[str, str] | None = None,
              unprivileged: bool = False) -> ServeProcess:
        cmd = None
        if unprivileged:
            cmd = without_dac_override([sys.executable, "-m", "mediaserve", "serve", *args])
            if cmd is None:
                pytest.skip("root without setpriv: permissions cannot be enforced")
        child = ServeProcess(list(args), env, cmd)
        children.append(child)
        return child

    yield start
    for child in children:
        child.stop()
