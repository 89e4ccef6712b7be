"""Descriptor exhaustion, reproduced: what a server does at its descriptor limit.

Two scenarios from the hardening review (issue 13, findings 1 and 2), run against a
``mediaserve serve`` child under ``--nofile`` descriptors (systemd's default soft limit is
1,024):

* ``idle``: ``--connections`` idle connections (more than the limit) held for ``--seconds``;
  reports the server's stderr (bytes, lines), its CPU seconds, and whether a client gets an
  answer during the flood and after it;
* ``stalled``: ``--stalled`` clients that ask for a big file and stop reading; reports the
  server's open descriptors after ``--seconds`` (a send timeout gives them back).

``--source DIR`` runs the mediaserve found in another checkout (e.g. an older commit
extracted with ``git archive``), to measure before and after with the same client.

    python -m benchmarks.exhaustion idle --nofile 1024 --connections 1100 --seconds 20
    python -m benchmarks.exhaustion stalled --stalled 20 --seconds 10 -- --send-timeout 5
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.peers import LOOPBACK, free_port, stop_process, stream_url, wait_for_port

MIB = 1 << 20


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _answers(port: int, timeout: float) -> bool:
    try:
        with socket.create_connection((LOOPBACK, port), timeout=timeout) as sock:
            sock.sendall(b"GET /api/videos HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                         b"Connection: close\r\n\r\n")
            return sock.recv(12).startswith(b"HTTP/1.1 200")
    except OSError:
        return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("scenario", choices=["idle", "stalled"])
    parser.add_argument("--nofile", type=int, default=1024)
    parser.add_argument("--connections", type=int, default=1100)
    parser.add_argument("--stalled", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--source", type=Path, help="checkout whose mediaserve to run")
    args, serve_args = parser.parse_known_args(argv)  # the rest (after --) goes to `serve`
    serve_args = [arg for arg in serve_args if arg != "--"]
    need = args.connections + args.stalled + 256
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(need, hard), hard))
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "lib"
        root.mkdir()
        with open(root / "big.mp4", "wb") as out:
            out.truncate(256 * MIB)
        port = free_port()
        env = {**os.environ, "MEDIASERVE_DATA_DIR": str(Path(tmp) / "data")}
        if args.source:
            env["PYTHONPATH"] = str(args.source.resolve())
        cmd = ["prlimit", f"--nofile={args.nofile}:{args.nofile}", sys.executable, "-m",
               "mediaserve", "serve", str(root), "--no-watch", "--host", LOOPBACK,
               "--port", str(port), "--access-log", "off", *serve_args]
        with open(Path(tmp) / "stderr", "w+b") as errors:
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                    stderr=errors, env=env, cwd=tmp)
            held: list[socket.socket] = []
            try:
                wait_for_port(port, proc, timeout=60, stderr=errors)
                errors.seek(0, 2)
                start_bytes = errors.tell()
                cpu0 = _cpu_seconds(proc.pid)
                if args.scenario == "idle":
                    for _ in range(args.connections):
                        with contextlib.suppress(OSError):
                            held.append(socket.create_connection((LOOPBACK, port), timeout=5))
                    time.sleep(args.seconds / 2)
                    during = _answers(port, 5)
                    time.sleep(args.seconds / 2)
                    for sock in held:
                        sock.close()
                    held.clear()
                    after = any(_answers(port, 5) for _ in range(10))
                    errors.seek(0, 2)
                    grown = errors.tell() - start_bytes
                    errors.seek(start_bytes)
                    lines = errors.read().count(b"\n")
                    print(f"idle: {args.connections} connections, nofile {args.nofile}, "
                          f"{args.seconds:g} s: server stderr {grown} bytes in {lines} lines, "
                          f"CPU {_cpu_seconds(proc.pid) - cpu0:.1f} s; answered during the "
                          f"flood: {during}, after it: {after}")
                else:
                    target = stream_url(f"http://{LOOPBACK}:{port}", "big.mp4")
                    path = "/" + target.split("/", 3)[3]
                    for _ in range(args.stalled):
                        sock = socket.socket()
                        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
                        sock.connect((LOOPBACK, port))
                        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
                        sock.recv(100)
                        held.append(sock)
                    base_fds = len(os.listdir(f"/proc/{proc.pid}/fd"))
                    time.sleep(args.seconds)
                    fds = len(os.listdir(f"/proc/{proc.pid}/fd"))
                    print(f"stalled: {args.stalled} readers that stopped: server fds "
                          f"{base_fds} while they stream, {fds} after {args.seconds:g} s")
            finally:
                for sock in held:
                    sock.close()
                stop_process(proc, timeout=0)
                errors.seek(0)
                print(errors.read()[-600:].decode(errors="replace"), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
