"""What ``mediaserve serve`` itself prints about access: the warning when it is exposed
without authentication, and never the token (real processes)."""

from __future__ import annotations

import signal
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mediaserve.adapters.library.store import INDEX_NAME, save_index
from tests.server.conftest import Lib, ServeProcess, blob

TOKEN = "process-token-0123456789abcdef"


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {"MEDIASERVE_DATA_DIR": str(tmp_path / "data")}


@pytest.fixture
def folder(tmp_path: Path, library_maker: Callable[[Path, dict], Lib]) -> Lib:
    lib = library_maker(tmp_path / "lib", {"a.mp4": blob(200_000, seed=31)})
    save_index(lib.root / INDEX_NAME, lib.index)
    return lib


@pytest.fixture
def held_port() -> Iterator[int]:
    """A port on 0.0.0.0 this test has bound but never listens on: serve --host 0.0.0.0
    prints its start-up messages, then fails to bind, so nothing is ever exposed beyond
    loopback while the warning is tested."""
    sock = socket.socket()
    sock.bind(("0.0.0.0", 0))
    yield sock.getsockname()[1]
    sock.close()


def _finish(child: ServeProcess) -> str:
    assert child.wait(30) == 2  # cannot listen: the port is held
    return child.stderr


def test_exposed_without_auth_warns(spawn, env, folder: Lib, held_port: int) -> None:
    out = _finish(spawn(str(folder.root), "--host", "0.0.0.0", "--port", str(held_port),
                        env=env))
    assert "WARNING: listening on 0.0.0.0 without --auth-token or --auth-users" in out, out
    assert "cannot listen on 0.0.0.0" in out


def test_no_warning_with_a_token_nor_on_loopback(spawn, env, folder: Lib,
                                                 held_port: int) -> None:
    out = _finish(spawn(str(folder.root), "--host", "0.0.0.0", "--port", str(held_port),
                        env={**env, "MEDIASERVE_AUTH_TOKEN": TOKEN}))
    assert "WARNING" not in out and TOKEN not in out
    child = spawn(str(folder.root), "--port", "0", env=env).wait_started()
    child.proc.send_signal(signal.SIGTERM)
    assert child.wait(30) == 0
    assert "WARNING" not in child.stderr


def _get(url: str, headers: dict[str, str] | None = None) -> int:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}),
                                    timeout=10) as response:
            response.read()
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def test_the_token_never_appears_in_output(spawn, env, folder: Lib) -> None:
    child = spawn(str(folder.root), "--port", "0", "--auth-token", TOKEN, "--access-log", "-",
                  env=env).wait_started()
    stream = f"{child.url.rstrip('/')}{folder.stream('a.mp4')}"
    assert _get(f"{stream}?token={TOKEN}", {"Range": "bytes=0-9"}) == 206
    assert _get(f"{child.url}api/videos?token={TOKEN}-wrong") == 401
    assert _get(f"{child.url}api/videos", {"Authorization": f"Bearer {TOKEN}",
                                           "Referer": f"{child.url}?token={TOKEN}"}) == 200
    for spelling in ("token", "%74oken", "T%6FKEN"):  # malformed: an error line too
        with socket.create_connection(("127.0.0.1", child.port), timeout=5) as sock:
            sock.sendall(f"GET /?{spelling}={TOKEN} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                         "Bad\x01: x\r\n\r\n".encode())
            sock.recv(4096)
    assert _get(f"{stream}?%74oken={TOKEN}", {"Range": "bytes=0-9",
                                               "Referer": f"{child.url}?t%6Fken={TOKEN}"}) == 206
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and child.stderr.count("=REDACTED") < 9:
        time.sleep(0.05)
    child.proc.send_signal(signal.SIGTERM)
    assert child.wait(30) == 0
    assert child.proc.stdout is not None
    output = child.stderr + child.proc.stdout.read()
    assert TOKEN not in output and TOKEN[:12] not in output, output
    assert output.count("token=REDACTED") >= 3, output


def test_an_invalid_token_is_refused_without_echoing_it(spawn, env, folder: Lib) -> None:
    child = spawn(str(folder.root), "--port", "0", "--auth-token", "short secret", env=env)
    assert child.wait(30) == 2
    assert "--auth-token: invalid value: must be at least 16 characters" in child.stderr
    assert "short secret" not in child.stderr
