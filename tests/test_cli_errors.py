"""One-line errors, the --traceback switch behind them, and the shared exit codes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mediaserve.cli.common import ExitStatus


def _scan_corrupt(tmp_path: Path, *args: str, env: dict[str, str] | None = None):
    (tmp_path / ".mediaserve-index.toml").write_text("x = [\n", encoding="utf-8")
    return subprocess.run([sys.executable, "-m", "mediaserve", *args, "scan", str(tmp_path)],
                          capture_output=True, text=True, timeout=60,
                          env={**os.environ, **(env or {})})


def test_errors_are_one_line_without_traceback(tmp_path: Path) -> None:
    done = _scan_corrupt(tmp_path, env={"MEDIASERVE_DEBUG": ""})
    assert done.returncode == ExitStatus.USAGE
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert done.stderr.startswith("mediaserve: error: ") and ":2:1:" in done.stderr


@pytest.mark.parametrize(("args", "env"), [(("--traceback",), {}),
                                           ((), {"MEDIASERVE_DEBUG": "1"})])
def test_traceback_on_request(tmp_path: Path, args: tuple[str, ...], env: dict[str, str]) -> None:
    done = _scan_corrupt(tmp_path, *args, env=env)
    assert done.returncode == ExitStatus.USAGE
    assert "Traceback (most recent call last)" in done.stderr
    assert "IndexFormatError" in done.stderr
    assert done.stderr.splitlines()[-1].startswith("mediaserve: error: ")


def test_exit_status_numbers_are_the_documented_ones() -> None:
    assert [ExitStatus.SUCCESS, ExitStatus.PROBLEMS, ExitStatus.USAGE, ExitStatus.REFUSED] == [
        0, 1, 2, 3]
    assert ExitStatus.IO_ERROR == ExitStatus.PROBLEMS and ExitStatus.NETWORK == 3


@pytest.mark.parametrize(("host", "port", "code", "says"), [
    ("127.0.0.1", 8080, "EADDRINUSE", "the port is in use"),
    ("::1", 65535, "EADDRINUSE", "--port 8081, or --port 0"),
    ("0.0.0.0", 80, "EACCES", "ports below 1024 need privileges"),
    ("192.0.2.7", 8080, "EADDRNOTAVAIL", "no network interface of this machine"),
    ("127.0.0.1", 8080, "EMFILE", "Too many open files"),
])
def test_a_listen_error_says_what_to_do(host: str, port: int, code: str, says: str) -> None:
    import errno

    from mediaserve.cli.serve import listen_error

    number = getattr(errno, code)
    message = listen_error(host, port, OSError(number, os.strerror(number)))
    shown = f"[{host}]" if ":" in host else host
    assert message.startswith(f"cannot listen on {shown}:{port}: ") and says in message
