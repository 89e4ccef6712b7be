"""``serve`` and ``passwd`` print names as escapes: the start-up line, the access log on a
terminal (nginx escapes its log the same way), the users file's messages."""

from __future__ import annotations

import signal
import socket
import time
from collections.abc import Callable
from pathlib import Path

from mediaserve.adapters.library.store import INDEX_NAME, save_index
from tests.server.conftest import Lib, ServeProcess, blob
from tests.terminal import EVIL, SHOWN, assert_terminal_safe, run_main


def test_serve_shows_a_hostile_folder_and_request_as_escapes(
        tmp_path: Path, library_maker: Callable[[Path, dict], Lib],
        spawn: Callable[..., ServeProcess]) -> None:
    lib = library_maker(tmp_path / EVIL, {f"{EVIL}.mp4": blob(50_000, seed=41)})
    save_index(lib.root / INDEX_NAME, lib.index)
    child = spawn(str(lib.root), "--port", "0", "--access-log", "-",
                  env={"MEDIASERVE_DATA_DIR": str(tmp_path / "data")}).wait_started()
    agent = "agent\u202e\u009b2J".encode() + b"\xc2\x9b31m"  # bidi and C1 (UTF-8 bytes)
    with socket.create_connection(("127.0.0.1", child.port), timeout=5) as sock:
        sock.sendall(b"GET /api/videos HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                     b"User-Agent: " + agent + b"\r\n\r\n")
        while sock.recv(65536):
            pass
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and "agent" not in child.stderr:
        time.sleep(0.05)
    child.proc.send_signal(signal.SIGTERM)
    assert child.wait(30) == 0
    assert_terminal_safe(child.stderr, f"from {tmp_path}/{SHOWN} at http",
                         '"agent\\u202e\\x9b2J\\x9b31m"')


def test_passwd_shows_a_hostile_user_and_file_as_escapes(tmp_path: Path) -> None:
    users = tmp_path / f"users{EVIL}"
    code, out, err = run_main("passwd", str(users), "bob\x1b[31m\u202e", "--password-stdin",
                              input="secret\n")
    assert code == 0, err
    assert_terminal_safe(out + err, "bob\\x1b[31m\\u202e in ", f"users{SHOWN}")
