"""``adapters.peers``: real nginx and mediaserve processes on loopback ports, started, asked
for one range each, stopped, and their ports free again; and the errors when a peer fails."""

from __future__ import annotations

import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from benchmarks.peers import (
    PeerError,
    free_port,
    nginx_binary,
    run_mediaserve,
    run_nginx,
    run_peer,
    stop_process,
    stream_url,
    wait_for_port,
)
from tests.conftest import Corpus

CLIP = "h264_aac_faststart.mp4"


@pytest.fixture
def folder(corpus: Corpus, tmp_path: Path) -> Path:
    corpus.require(CLIP)
    return corpus.copy_to(tmp_path / "media", [CLIP])


def _get_range(url: str, first: int, last: int) -> tuple[int, str, bytes]:
    request = urllib.request.Request(url, headers={"Range": f"bytes={first}-{last}"})
    with urllib.request.urlopen(request, timeout=10) as resp:
        return resp.status, resp.headers["Content-Range"], resp.read()


def _assert_port_free(port: int) -> None:
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    with socket.socket() as sock:  # as a server binds it (closed connections in TIME_WAIT)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))


@pytest.mark.nginx
def test_run_nginx_serves_a_range_then_frees_its_port(folder: Path, tmp_path: Path) -> None:
    if nginx_binary() is None:
        pytest.skip("nginx is not installed (Debian package nginx-light; scripts/dev test)")
    data = (folder / CLIP).read_bytes()
    with run_nginx(folder, tmp_path / "nginx") as base:
        port = int(base.rsplit(":", 1)[1])
        status, content_range, body = _get_range(f"{base}/{CLIP}", 100, 1099)
    assert (status, content_range, body) == (206, f"bytes 100-1099/{len(data)}", data[100:1100])
    _assert_port_free(port)


def test_run_mediaserve_serves_a_range_then_frees_its_port(folder: Path,
                                                           data_dir: Path) -> None:
    data = (folder / CLIP).read_bytes()
    with run_mediaserve(folder) as base:
        port = int(base.rsplit(":", 1)[1])
        status, content_range, body = _get_range(stream_url(base, CLIP), 100, 1099)
        with pytest.raises(PeerError, match=r"does not list 'nope\.mp4'"):
            stream_url(base, "nope.mp4")
    assert (status, content_range, body) == (206, f"bytes 100-1099/{len(data)}", data[100:1100])
    _assert_port_free(port)


@pytest.mark.parametrize(("code", "timeout", "error"), [
    ("import sys; sys.exit('port taken, or so it says')", 20,
     r"exited with code 1 before listening on 127\.0\.0\.1:\d+:\nport taken"),
    ("import time; time.sleep(60)", 0.5, r"no connection to 127\.0\.0\.1:\d+ .* after 0\.5 s"),
], ids=["exits-first", "never-listens"])
def test_a_peer_that_does_not_come_up_is_a_clear_error(code: str, timeout: float,
                                                       error: str) -> None:
    with (pytest.raises(PeerError, match=error),
          run_peer([sys.executable, "-c", code], free_port(), timeout=timeout)):
        pytest.fail("the peer never listened")


def test_wait_for_port_quotes_a_piped_stderr_too() -> None:
    proc = subprocess.Popen([sys.executable, "-c", "import sys; sys.exit('bad config')"],
                            stderr=subprocess.PIPE)
    try:
        with pytest.raises(PeerError, match="bad config"):
            wait_for_port(free_port(), proc, timeout=20)
    finally:
        stop_process(proc)
        assert proc.stderr is not None
        proc.stderr.close()


def test_stop_process_kills_what_ignores_sigterm() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", "import signal, time; signal.signal(signal.SIGTERM, "
         "signal.SIG_IGN); print('ready', flush=True); time.sleep(60)"],
        stdout=subprocess.PIPE)
    assert proc.stdout is not None
    assert proc.stdout.readline() == b"ready\n"
    proc.stdout.close()
    assert stop_process(proc, timeout=0.2) == -9
    assert stop_process(proc) == -9  # already gone: only reaped
