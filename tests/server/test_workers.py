"""``serve --workers N`` as real processes: the workers share the port, a killed worker is
replaced, SIGTERM stops them all gracefully (a stream in flight still completes)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import socket
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from mediaserve.adapters.library.store import save_index
from tests.server.conftest import MIB, Lib, blob
from tests.server.rawhttp import get_closing


@pytest.fixture
def folder(tmp_path: Path, library_maker: Callable[[Path, dict], Lib]) -> Lib:
    lib = library_maker(tmp_path / "lib", {"a.mp4": blob(8 * MIB, seed=31)})
    save_index(lib.root / ".mediaserve-index.toml", lib.index)
    return lib


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {"MEDIASERVE_DATA_DIR": str(tmp_path / "data")}


def children(pid: int) -> set[int]:
    found = set()
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat", "rb") as handle:
                    data = handle.read()
            except OSError:
                continue
            if int(data[data.rindex(b")") + 2:].split()[1]) == pid:
                found.add(int(name))
    return found


def sockets(pid: int) -> int:
    count = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:"):
                count += 1
        except OSError:
            continue
    return count


def wait_for(condition: Callable[[], bool], timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def test_workers_share_the_port_and_a_killed_worker_is_replaced(spawn, env, folder: Lib) -> None:
    child = spawn(str(folder.root), "--port", "0", "--workers", "2", "--access-log", "off",
                  env=env).wait_started()
    supervisor = child.proc.pid
    workers = children(supervisor)
    assert len(workers) == 2
    assert sockets(supervisor) == 1  # the reserved port: bound, never accepting

    before = {pid: sockets(pid) for pid in workers}
    held = [socket.create_connection(("127.0.0.1", child.port), timeout=5) for _ in range(40)]
    try:  # the kernel hashes 40 connections over both workers (all on one: p = 2**-39)
        assert wait_for(lambda: sum(sockets(p) - before[p] for p in workers) == 40)
        assert all(sockets(pid) > before[pid] for pid in workers)
    finally:
        for sock in held:
            sock.close()

    victim = min(workers)
    os.kill(victim, signal.SIGKILL)
    assert wait_for(lambda: len(children(supervisor) - {victim}) == 2)
    assert victim not in children(supervisor)
    assert wait_for(lambda: "worker" in child.stderr and "restarting" in child.stderr)
    whole = hashlib.sha256(folder.data["a.mp4"]).hexdigest()
    for _ in range(20):  # every connection is answered, whichever worker takes it
        status, _headers, body = get_closing(child.port, folder.stream("a.mp4"))
        assert status == 200 and hashlib.sha256(body).hexdigest() == whole


def test_sigterm_stops_every_worker_after_streams_finish(spawn, env, folder: Lib) -> None:
    child = spawn(str(folder.root), "--port", "0", "--workers", "2", "--access-log", "off",
                  env=env).wait_started()
    workers = children(child.proc.pid)
    slow = socket.socket()
    slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
    slow.connect(("127.0.0.1", child.port))
    slow.sendall(f"GET {folder.stream('a.mp4')} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    slow.settimeout(10)
    data = slow.recv(64 * 1024)
    assert data.startswith(b"HTTP/1.1 200")
    child.proc.send_signal(signal.SIGTERM)
    time.sleep(0.3)  # the stream is in flight while the workers shut down
    while chunk := slow.recv(1 << 20):
        data += chunk
    slow.close()
    _head, _, body = data.partition(b"\r\n\r\n")
    assert body == folder.data["a.mp4"]  # the running stream was allowed to finish
    assert child.wait(30) == 0
    assert not any(os.path.exists(f"/proc/{pid}") for pid in workers)
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", child.port), timeout=1).close()


def test_stats_and_metrics_add_up_across_workers(spawn, env, folder: Lib) -> None:
    child = spawn(str(folder.root), "--port", "0", "--workers", "2", "--access-log", "off",
                  env=env).wait_started()
    workers = children(child.proc.pid)
    url = folder.stream("a.mp4")
    # concurrent connections, so the kernel spreads them over both workers; both must hold
    # some, or the sum below would not be a sum (CPU ticks cannot tell: a forked worker may
    # serve a few ranges in less than one 10 ms tick)
    before = {pid: sockets(pid) for pid in workers}
    held = [socket.create_connection(("127.0.0.1", child.port), timeout=5) for _ in range(30)]
    assert wait_for(lambda: sum(sockets(p) - before[p] for p in workers) == 30)
    assert all(sockets(pid) > before[pid] for pid in workers)  # all on one: p = 2**-29
    for sock in held:
        sock.sendall(f"GET {url} HTTP/1.1\r\nHost: 127.0.0.1\r\nRange: bytes=0-99\r\n"
                     "Connection: close\r\n\r\n".encode())
    for sock in held:
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
        assert data.startswith(b"HTTP/1.1 206") and data.endswith(folder.data["a.mp4"][:100])
        sock.close()

    def totals() -> tuple[int, int, int, int]:
        _s, _h, body = get_closing(child.port, "/api/stats")
        snap = json.loads(body)
        _s, _h, one = get_closing(child.port, f"/api/videos/{folder.ids['a.mp4']}/streaming-stats")
        _s, _h, metrics = get_closing(child.port, "/metrics")
        line = next(x for x in metrics.decode().splitlines()
                    if x.startswith('mediaserve_requests_total{status="206"}'))
        return (snap["global"]["status"].get("206", 0), snap["global"]["bytes_sent"],
                json.loads(one)["requests"], int(float(line.split()[-1])))

    # each worker publishes its numbers twice a second; the one answering adds them up
    assert wait_for(lambda: totals() == (30, 3000, 30, 30)), totals()


def test_workers_do_not_outlive_a_killed_supervisor(spawn, env, folder: Lib) -> None:
    """A supervisor killed outright (SIGKILL, the OOM killer) must take its workers along:
    they found themselves orphaned and kept serving the port, unsupervised, forever."""
    child = spawn(str(folder.root), "--port", "0", "--workers", "2", "--access-log", "off",
                  env=env).wait_started()
    workers = children(child.proc.pid)
    assert len(workers) == 2
    os.kill(child.proc.pid, signal.SIGKILL)
    child.proc.wait(10)

    def gone(pid: int) -> bool:
        try:
            with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
                return handle.read().rsplit(")", 1)[1].split()[0] == "Z"  # a zombie is gone
        except FileNotFoundError:
            return True

    assert wait_for(lambda: all(gone(pid) for pid in workers), timeout=30), workers


def test_a_hung_worker_is_killed_and_replaced(spawn, env, folder: Lib) -> None:
    """A worker whose event loop stops (here: SIGSTOP, as a stuck loop looks from outside)
    serves nobody while holding its share of the port: the supervisor, which hears a
    heartbeat from every worker's loop each second, kills it after --worker-timeout and
    forks a new one. Before, only a worker that died was replaced."""
    child = spawn(str(folder.root), "--port", "0", "--workers", "2", "--access-log", "off",
                  "--worker-timeout", "2", env=env).wait_started()
    supervisor = child.proc.pid
    assert wait_for(lambda: len(children(supervisor)) == 2)
    first = children(supervisor)
    stuck = min(first)
    os.kill(stuck, signal.SIGSTOP)
    try:
        assert wait_for(lambda: stuck not in children(supervisor)
                        and len(children(supervisor)) == 2, timeout=30.0), child.stderr
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(stuck, signal.SIGCONT)
    assert "has not answered for" in child.stderr and "killing and restarting" in child.stderr
    assert "exited with signal 9" not in child.stderr  # announced once, as a hang
    for _ in range(6):  # every connection is answered (the kernel spreads them on both)
        status, _headers, _body = get_closing(child.port, "/api/videos")
        assert status == 200
