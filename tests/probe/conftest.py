"""Real servers on loopback ports for the probe tests, and a way to run the probe in-process.

* ``nginx_url``: the Debian nginx binary with its own minimal config in ``tmp_path``.
* ``http_server_url``: ``python -m http.server`` (no range support at all).
* ``misbehaving``: a small threaded server that answers ranges *almost* right, in the way
  a chosen bug would (a flipped byte, 206 from byte 0, a body shorter than its
  Content-Length), so the FAIL paths run against a real socket.
* ``mediaserve_url``: ``python -m mediaserve serve`` as a subprocess, its stream URL found via
  ``GET /api/videos``.

All serve the same file, ``video``: a real H.264 MP4 from the shared corpus, padded with an
MP4 ``free`` box of seeded random bytes to ~2 MiB so that every offset has a distinct,
checkable byte and the scanner still sees a valid, untruncated MP4.
"""

from __future__ import annotations

import http.server
import json
import random
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from benchmarks.peers import run_mediaserve, run_nginx, run_peer, stream_url
from mediaserve.cli import main
from tests.conftest import Corpus

NGINX = Path("/usr/sbin/nginx")
VIDEO_SIZE = 2 * 1024 * 1024
Handler = http.server.BaseHTTPRequestHandler
Script = Callable[[Handler], None]  # a scripted server's answer, written to handler.wfile
FLIP_OFFSET = 1_234_567  # the byte the "flip" server corrupts


@pytest.fixture(scope="session")
def video(corpus: Corpus, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shared test video (read only): corpus clip + ``free`` box to VIDEO_SIZE bytes."""
    clip = corpus.require("h264_aac_faststart.mp4")
    folder = tmp_path_factory.mktemp("probe-video")
    path = folder / "clip.mp4"
    shutil.copyfile(corpus.path(clip.name), path)
    pad = VIDEO_SIZE - path.stat().st_size
    with path.open("ab") as out:
        out.write(pad.to_bytes(4, "big") + b"free" + random.Random(5).randbytes(pad - 8))
    assert path.stat().st_size == VIDEO_SIZE
    return path


@pytest.fixture(scope="session")
def video_bytes(video: Path) -> bytes:
    return video.read_bytes()


@pytest.fixture
def nginx_url(video: Path, tmp_path: Path) -> Iterator[str]:
    """nginx 1.22 serving ``video`` as /clip.mp4, with nothing but its defaults."""
    if not NGINX.exists():
        pytest.skip("nginx is not installed (Debian package nginx-light; scripts/dev test)")
    root = tmp_path / "www"
    root.mkdir()
    shutil.copyfile(video, root / "clip.mp4")
    with run_nginx(root, tmp_path, binary=NGINX) as base:
        yield f"{base}/clip.mp4"


@pytest.fixture
def http_server_url(video: Path, free_port: int) -> Iterator[str]:
    """``python -m http.server``: HTTP/1.0, 200 for everything, no ETag, no ranges."""
    with run_peer([sys.executable, "-m", "http.server", str(free_port), "--bind", "127.0.0.1",
                   "--directory", str(video.parent)], free_port) as base:
        yield f"{base}/{video.name}"


class _Misbehaving(http.server.BaseHTTPRequestHandler):
    """Single ``bytes=a-b`` / ``a-`` / ``-n`` ranges, keep-alive, and one bug (``mode``)."""

    protocol_version = "HTTP/1.1"
    data = b""
    mode = "flip"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_HEAD(self) -> None:
        self._answer(send_body=False)

    def do_GET(self) -> None:
        self._answer(send_body=True)

    def _answer(self, send_body: bool) -> None:
        data, size = self.data, len(self.data)
        if self.mode == "flip":
            data = bytearray(data)
            data[FLIP_OFFSET] ^= 0xFF
            data = bytes(data)
        span = self._range(size)
        if span is None:
            status, first, last = 200, 0, size - 1
        else:
            status, (first, last) = 206, span
            if self.mode == "from-zero":
                first, last = 0, last - first
        body = data[first:last + 1]
        declared = len(body)
        if self.mode == "short" and status == 206:
            body = body[: len(body) // 2]
        self.send_response(status)
        self.send_header("Content-Type", "video/mp4")
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("ETag", '"fixed-etag"')
        self.send_header("Content-Length", str(declared))
        if status == 206:
            self.send_header("Content-Range", f"bytes {first}-{last}/{size}")
        if self.mode == "short" and status == 206:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if send_body:
            self.wfile.write(body)

    def _range(self, size: int) -> tuple[int, int] | None:
        match = re.fullmatch(r"bytes=(\d*)-(\d*)", self.headers.get("Range", ""))
        if not match or match.groups() == ("", ""):
            return None
        first_s, last_s = match.groups()
        if not first_s:
            return max(0, size - int(last_s)), size - 1
        return int(first_s), min(int(last_s), size - 1) if last_s else size - 1


@pytest.fixture
def misbehaving(video_bytes: bytes) -> Iterator[Callable[[str], str]]:
    """``start(mode) -> URL`` for a threaded server with the bug ``mode``: ``flip`` (byte
    FLIP_OFFSET inverted), ``from-zero`` (206 always from byte 0, truthfully labelled) or
    ``short`` (206 bodies half their Content-Length, then the connection closes)."""
    with _threaded_servers() as serve:
        yield lambda mode: serve(type("Handler", (_Misbehaving,),
                                      {"data": video_bytes, "mode": mode}))



@contextmanager
def _threaded_servers() -> Iterator[Callable[[type], str]]:
    """``serve(handler_class) -> URL`` on a free loopback port, each in its own thread;
    all are shut down when the block ends."""
    servers: list[http.server.ThreadingHTTPServer] = []

    def serve(handler: type) -> str:
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/clip.mp4"

    try:
        yield serve
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()


class _Scripted(http.server.BaseHTTPRequestHandler):
    """Answers every GET/HEAD with ``script(handler)``, which writes raw bytes to ``wfile``
    (unbuffered): status lines, header sections and bodies exactly as a hostile server
    would, or nothing at all. Keep-alive unless the script sets ``close_connection``."""

    protocol_version = "HTTP/1.1"
    script: Script

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_HEAD(self) -> None:
        self._run()

    def do_GET(self) -> None:
        self._run()

    def _run(self) -> None:
        try:
            type(self).script(self)
        except OSError:  # the probe hung up on a trickle: what it should do
            self.close_connection = True


@pytest.fixture
def scripted() -> Iterator[Callable[[Script], str]]:
    """``start(script) -> URL``: a threaded server whose every answer is ``script(handler)``
    (``handler.command``, ``handler.headers``, ``handler.wfile``). Scripts that trickle must
    stop on their own within a few seconds, so no thread outlives its test for long."""
    with _threaded_servers() as serve:
        yield lambda script: serve(type("Scripted", (_Scripted,),
                                        {"script": staticmethod(script)}))


def serve_supports_port() -> bool:
    """True once ``mediaserve serve`` is the real server (its --help lists --port)."""
    done = subprocess.run([sys.executable, "-m", "mediaserve", "serve", "--help"],
                          capture_output=True, text=True, timeout=30, check=False)
    return "--port" in done.stdout


@pytest.fixture
def mediaserve_url(video: Path, tmp_path: Path, data_dir: Path) -> Iterator[str]:
    """``python -m mediaserve serve`` on a library holding ``video``; its stream URL.
    (``data_dir`` points both processes' MEDIASERVE_DATA_DIR at the test's temp dir.)"""
    library = tmp_path / "library"
    library.mkdir()
    shutil.copyfile(video, library / video.name)
    subprocess.run([sys.executable, "-m", "mediaserve", "scan", str(library), "--json"],
                   check=True, capture_output=True, timeout=60)
    with run_mediaserve(library) as base:
        yield stream_url(base, video.name)


@dataclass
class ProbeRun:
    code: int
    out: str
    err: str

    @property
    def json(self) -> Any:
        return json.loads(self.out)


@pytest.fixture
def probe(capsys: pytest.CaptureFixture[str],
          monkeypatch: pytest.MonkeyPatch) -> Callable[..., ProbeRun]:
    """Run ``mediaserve probe ARGS`` in-process through ``main`` (exit-code mapping and all);
    a wide terminal so rich tables do not wrap the words tests look for."""
    monkeypatch.setenv("COLUMNS", "240")

    def run(*args: str) -> ProbeRun:
        capsys.readouterr()
        with pytest.raises(SystemExit) as exit_info:
            main(["probe", *args])
        captured = capsys.readouterr()
        code = exit_info.value.code
        return ProbeRun(code if isinstance(code, int) else 0, captured.out, captured.err)

    return run


def cases_by_id(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {case["id"]: case for case in report["cases"]}
