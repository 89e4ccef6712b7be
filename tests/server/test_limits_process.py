"""``mediaserve serve`` as a process under hostile connection patterns: a low descriptor limit
flooded with idle connections, and SIGTERM with idle keep-alive connections open."""

from __future__ import annotations

import contextlib
import signal
import socket
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from mediaserve.adapters.library.store import save_index
from tests.server.conftest import MIB, Lib, ServeProcess, blob
from tests.server.rawhttp import get_closing

BOUND = 15.0


@pytest.fixture
def folder(tmp_path: Path, library_maker: Callable[[Path, dict], Lib]) -> Lib:
    lib = library_maker(tmp_path / "lib", {"a.mp4": blob(24 * MIB, seed=21)})
    save_index(lib.root / ".mediaserve-index.toml", lib.index)
    return lib


def _limited_serve(nofile: int, *args: str, hard: int = 0) -> list[str]:
    """The serve command with RLIMIT_NOFILE (soft, and hard) set in the child itself."""
    code = ("import resource, runpy, sys; "
            f"resource.setrlimit(resource.RLIMIT_NOFILE, ({nofile}, {hard or nofile})); "
            "sys.argv = ['mediaserve', 'serve', *sys.argv[1:]]; "
            "runpy.run_module('mediaserve', run_name='__main__')")
    return [sys.executable, "-c", code, *args]


def _answers(port: int) -> bool:
    try:
        return get_closing(port, "/api/videos", timeout=2)[0] == 200
    except OSError:
        return False


def test_idle_connections_beyond_the_descriptor_limit(tmp_path: Path, folder: Lib) -> None:
    """300 idle connections against 128 descriptors: before, asyncio logged a traceback per
    failed accept() (55 MB of stderr in 20 s at 1,024) and answered nobody. Now accepting
    stops at the cap (here (128 - 64) / 2 = 32), the longest-idle connection makes room for
    each newcomer, one warning is logged, and the server answers throughout."""
    args = [str(folder.root), "--port", "0", "--access-log", "off", "--header-timeout", "1"]
    child = ServeProcess(args, {"MEDIASERVE_DATA_DIR": str(tmp_path / "data")},
                         cmd=_limited_serve(128, *args))
    try:
        child.wait_started()
        idle = []
        for _ in range(300):
            with contextlib.suppress(OSError):
                idle.append(socket.create_connection(("127.0.0.1", child.port), timeout=5))
        assert len(idle) > 128  # the kernel queues what the server has not accepted
        deadline = time.monotonic() + BOUND
        while time.monotonic() < deadline and not _answers(child.port):
            time.sleep(0.1)
        assert _answers(child.port), "the server must answer while idle clients hang on"
        for sock in idle:
            sock.close()
        assert _answers(child.port)
        assert child.proc.poll() is None
    finally:
        child.stop()
        child.wait(10)
    text = child.stderr
    assert "Traceback" not in text
    assert len(child.lines) <= 5 and len(text) < 2000, text[:3000]


def test_sigterm_closes_idle_keepalive_connections_at_once(tmp_path: Path,
                                                            folder: Lib) -> None:
    args = [str(folder.root), "--port", "0", "--access-log", "off",
            "--shutdown-timeout", "30"]
    child = ServeProcess(args, {"MEDIASERVE_DATA_DIR": str(tmp_path / "data")})
    try:
        child.wait_started()
        idle = socket.create_connection(("127.0.0.1", child.port), timeout=BOUND)
        idle.sendall(b"GET /api/videos HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        head = b""
        while b"\r\n\r\n" not in head:
            head += idle.recv(65536)
        length = int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0])
        body = head.split(b"\r\n\r\n", 1)[1]
        while len(body) < length:
            body += idle.recv(65536)
        # a stream in flight (a reader that stopped) keeps the process draining
        stalled = socket.socket()
        stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 * 1024)
        stalled.connect(("127.0.0.1", child.port))
        stalled.sendall(f"GET {folder.stream('a.mp4')} HTTP/1.1\r\n"
                        "Host: 127.0.0.1\r\n\r\n".encode())
        stalled.settimeout(BOUND)
        assert stalled.recv(100).startswith(b"HTTP/1.1 200")
        child.proc.send_signal(signal.SIGTERM)
        idle.settimeout(BOUND)
        assert idle.recv(1) == b"", "an idle keep-alive connection must be closed at once"
        assert child.proc.poll() is None, "the stream in flight is still draining"
        idle.close()
        stalled.close()
    finally:
        child.stop()


def test_tls_from_the_command_line(tmp_path: Path, folder: Lib) -> None:
    """HTTPS end to end through ``serve``; half a TLS configuration or a key that does not
    load is a one-line usage error (exit 2), not a failure to listen."""
    import ssl
    import urllib.request

    trustme = pytest.importorskip("trustme")
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    chain, key = tmp_path / "chain.pem", tmp_path / "key.pem"
    cert.private_key_and_cert_chain_pem.write_to_path(chain)
    cert.private_key_pem.write_to_path(key)
    env = {"MEDIASERVE_DATA_DIR": str(tmp_path / "data")}
    base = [str(folder.root), "--port", "0", "--access-log", "off"]
    for extra in (["--tls-cert", str(chain)], ["--tls-cert", str(chain), "--tls-key",
                                               str(tmp_path / "missing.pem")]):
        bad = ServeProcess([*base, *extra], env)
        assert bad.wait(20) == 2, bad.stderr
        assert "Traceback" not in bad.stderr and "tls" in bad.stderr.lower()
    child = ServeProcess([*base, "--tls-cert", str(chain), "--tls-key", str(key)], env)
    try:
        deadline = time.monotonic() + BOUND
        url = ""
        while time.monotonic() < deadline and not url:
            url = next((line.split(" at ")[1].split()[0] for line in child.lines
                        if "mediaserve: serving" in line), "")
            time.sleep(0.05)
        assert url.startswith("https://127.0.0.1:"), child.stderr
        context = ssl.create_default_context()
        ca.configure_trust(context)
        request = urllib.request.Request(url + folder.stream("a.mp4")[1:],
                                         headers={"Range": "bytes=1000-1999"})
        with urllib.request.urlopen(request, context=context, timeout=BOUND) as resp:
            assert resp.status == 206
            assert resp.read() == folder.data["a.mp4"][1000:2000]
    finally:
        child.stop()


def test_the_soft_descriptor_limit_is_raised_to_the_hard_one(tmp_path: Path,
                                                             folder: Lib) -> None:
    args = [str(folder.root), "--port", "0", "--access-log", "off"]
    child = ServeProcess(args, {"MEDIASERVE_DATA_DIR": str(tmp_path / "data")},
                         cmd=_limited_serve(128, *args, hard=4096))
    try:
        child.wait_started()
        limits = Path(f"/proc/{child.proc.pid}/limits").read_text().splitlines()
        soft, hard = next(line for line in limits if line.startswith("Max open files")
                          ).split()[3:5]
        assert (soft, hard) == ("4096", "4096")
        # the descriptor table is grown for the cap at start-up ((4096 - 64) / 2 = 2016
        # connections, up to three descriptors each, and the reserve: all the limit allows),
        # not while clients arrive
        assert _fd_slots(child.proc.pid) >= 4096
    finally:
        child.stop()


def _fd_slots(pid: int) -> int:
    """The size of a process's descriptor table (``FDSize``: slots, used or not)."""
    status = Path(f"/proc/{pid}/status").read_text().splitlines()
    return int(next(line for line in status if line.startswith("FDSize:")).split()[1])


def test_the_descriptor_table_follows_the_connection_cap(tmp_path: Path, folder: Lib) -> None:
    """Growing the table later costs the event loop an RCU grace period per doubling (10-20
    ms stalls at the 128th, 256th, 512th connection); a smaller cap grows it only as far as
    the cap needs: 1,000 connections, 3 x 1,000 + 64 descriptors at most (the kernel rounds
    to 4,096), not the 8,192 the limit would allow. A table this size is not inherited from
    the parent: a child's starts near its highest open descriptor (256 or 512 here)."""
    args = [str(folder.root), "--port", "0", "--access-log", "off", "--max-connections", "1000"]
    child = ServeProcess(args, {"MEDIASERVE_DATA_DIR": str(tmp_path / "data")},
                         cmd=_limited_serve(8192, *args))
    try:
        child.wait_started()
        assert 4096 <= _fd_slots(child.proc.pid) < 8192
        assert _answers(child.port)
    finally:
        child.stop()
