"""Soak: many well-behaved clients, stalled readers and idle connections at once.

Starts ``mediaserve serve`` on a 1 GiB file (sparse, so it costs no disk and no time; every
MiB starts with its own 8-byte stamp so every byte read can be checked) and runs, for
``--seconds``:

* ``--clients`` well-behaved clients, each on a keep-alive connection, seeking at random:
  closed ranges read in full and checked byte for byte, and open-ended ``bytes=N-`` answers
  of which they read a part and then hang up (what a player does when the user seeks);
* ``--stalled`` readers that ask for the rest of the file, read the head and then stop
  reading while keeping the connection: the send timeout must reset every one of them;
* ``--idle`` connections that never send a byte.

It reports requests, bytes, errors (there must be none for the well-behaved clients), how
many stalled readers were dropped, and the server's RSS and open descriptors at the start,
at the peak and at the end (after every client has gone: back to where they started).
Exit status 1 when a check fails. Loopback only; every loop is bounded in count and time.

    python -m benchmarks.soak                   # 500 clients, 100 stalled, 300 idle, 60 s
    python -m benchmarks.soak --short           # the CI form: ~25 s
    python -m benchmarks.soak --json
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import re
import resource
import socket
import struct
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.peers import LOOPBACK, free_port, stop_process, stream_url, wait_for_port

MIB = 1 << 20
NAME = "soak.mp4"
IO_TIMEOUT = 30.0  # seconds one exchange of a well-behaved client may take on a busy box


@dataclass
class Config:
    seconds: float = 60.0
    clients: int = 500
    stalled: int = 100
    idle: int = 300
    size: int = 1 << 30
    send_timeout: float = 5.0
    max_read: int = 512 * 1024  # the longest closed range / partial read, bytes

    @classmethod
    def short(cls) -> Config:
        return cls(seconds=15.0, clients=100, stalled=20, idle=60, send_timeout=5.0)


@dataclass
class Samples:
    rss_kib: list[int] = field(default_factory=list)
    fds: list[int] = field(default_factory=list)


@dataclass
class Report:
    config: dict[str, Any]
    requests: int = 0
    body_bytes: int = 0
    errors: int = 0
    error_examples: list[str] = field(default_factory=list)
    stalled_dropped: int = 0
    stalled_total: int = 0
    idle_open_at_end: int = 0
    rss_kib: dict[str, int] = field(default_factory=dict)
    fds: dict[str, int] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)

    def error(self, text: str) -> None:
        self.errors += 1
        if len(self.error_examples) < 10:
            self.error_examples.append(text)


# ------------------------------------------------------------------------- the file

def make_file(path: Path, size: int) -> None:
    """A sparse file whose every MiB starts with its index as 8 big-endian bytes."""
    with open(path, "wb") as out:
        out.truncate(size)
        for block in range(0, size, MIB):
            out.seek(block)
            out.write(struct.pack(">Q", block // MIB))


def expected(first: int, length: int) -> bytes:
    """The bytes ``make_file`` put at ``first .. first + length - 1``."""
    data = bytearray(length)
    block = first // MIB * MIB
    while block < first + length:
        stamp = struct.pack(">Q", block // MIB)
        for i in range(8):
            at = block + i - first
            if 0 <= at < length:
                data[at] = stamp[i]
        block += MIB
    return bytes(data)


# ------------------------------------------------------------------------- the server

def _process_stats(pid: int) -> tuple[int, int]:
    """(RSS KiB, open descriptors) of ``pid``, from /proc."""
    rss = 0
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
    return rss, len(os.listdir(f"/proc/{pid}/fd"))


async def _sample(pid: int, samples: Samples, stop: asyncio.Event) -> None:
    while not stop.is_set():
        rss, fds = _process_stats(pid)
        samples.rss_kib.append(rss)
        samples.fds.append(fds)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.25)


# ------------------------------------------------------------------------- clients

_HEAD_END = b"\r\n\r\n"
_RANGE = re.compile(rb"\r\nContent-Range: bytes (\d+)-(\d+)/(\d+)", re.IGNORECASE)
_LENGTH = re.compile(rb"\r\nContent-Length: (\d+)", re.IGNORECASE)


async def _connect(port: int, rcvbuf: int = 0) -> tuple[asyncio.StreamReader,
                                                         asyncio.StreamWriter]:
    sock = socket.socket()
    if rcvbuf:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.setblocking(False)
    await asyncio.wait_for(asyncio.get_running_loop().sock_connect(sock, (LOOPBACK, port)),
                           IO_TIMEOUT)
    return await asyncio.open_connection(sock=sock)


async def _client(port: int, target: str, cfg: Config, seed: int, end: float,
                  report: Report) -> None:
    """Random seeks: closed ranges read in full, open-ended ones read in part then dropped."""
    rng = random.Random(seed)
    loop = asyncio.get_running_loop()
    conn: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
    while loop.time() < end:
        first = rng.randrange(cfg.size)
        want = rng.randint(1, cfg.max_read)
        closed = rng.random() < 0.6
        last = min(cfg.size - 1, first + want - 1) if closed else cfg.size - 1
        spec = f"{first}-{last}" if closed else f"{first}-"
        try:
            if conn is None:
                conn = await _connect(port)
            reader, writer = conn
            writer.write(f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nRange: bytes={spec}\r\n\r\n"
                         .encode())
            head = await asyncio.wait_for(reader.readuntil(_HEAD_END), IO_TIMEOUT)
            length = _LENGTH.search(head)
            got_range = _RANGE.search(head)
            if not head.startswith(b"HTTP/1.1 206 ") or not length or not got_range:
                report.error(f"bytes={spec}: {head[:60]!r}")
                raise ConnectionAbortedError
            if (int(got_range[1]), int(got_range[2])) != (first, last) or \
                    int(length[1]) != last - first + 1:
                report.error(f"bytes={spec}: Content-Range {got_range[0]!r}")
                raise ConnectionAbortedError
            take = last - first + 1 if closed else min(want, last - first + 1)
            body = await asyncio.wait_for(reader.readexactly(take), IO_TIMEOUT)
            report.requests += 1
            report.body_bytes += len(body)
            if body != expected(first, take):
                report.error(f"bytes={spec}: wrong bytes")
            if not closed:  # a seek: hang up on the rest, as a player does
                writer.close()
                conn = None
        except ConnectionAbortedError:
            if conn is not None:
                conn[1].close()
            conn = None
        except (OSError, asyncio.IncompleteReadError, TimeoutError) as exc:
            report.error(f"bytes={spec}: {type(exc).__name__}: {exc}")
            if conn is not None:
                conn[1].close()
            conn = None
    if conn is not None:
        conn[1].close()


def _tcp_state(writer: asyncio.StreamWriter) -> int:
    """The kernel's TCP state of our end (1 = established), read without reading data."""
    sock = writer.get_extra_info("socket")
    try:
        return sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 8)[0]
    except OSError:
        return 0


async def _stalled(port: int, target: str, end: float, report: Report,
                   writers: list[asyncio.StreamWriter]) -> None:
    """Ask for the rest of the file, read the head, then never read again."""
    report.stalled_total += 1
    reader, writer = await _connect(port, rcvbuf=4096)
    writers.append(writer)
    writer.write(f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nRange: bytes=0-\r\n\r\n".encode())
    await asyncio.wait_for(reader.readuntil(_HEAD_END), IO_TIMEOUT)
    writer.transport.pause_reading()  # asyncio would otherwise keep draining the socket
    loop = asyncio.get_running_loop()
    while loop.time() < end:
        if _tcp_state(writer) != 1:  # reset by the server's send timeout
            report.stalled_dropped += 1
            return
        await asyncio.sleep(0.25)


# ------------------------------------------------------------------------- the run

async def _soak(port: int, pid: int, target: str, cfg: Config, report: Report) -> None:
    loop = asyncio.get_running_loop()
    samples = Samples()
    await asyncio.sleep(0.5)
    rss, fds = _process_stats(pid)
    report.rss_kib["start"], report.fds["start"] = rss, fds
    stop_sampling = asyncio.Event()
    sampler = asyncio.create_task(_sample(pid, samples, stop_sampling))

    idle = [await _connect(port) for _ in range(cfg.idle)]
    end = loop.time() + cfg.seconds
    stalled_writers: list[asyncio.StreamWriter] = []
    # stalled readers stall early enough for the send timeout to fire within the run
    stall_end = end + cfg.send_timeout * 2 + 5
    stalls = [asyncio.create_task(_stalled(port, target, stall_end, report, stalled_writers))
              for _ in range(cfg.stalled)]
    clients = [asyncio.create_task(_client(port, target, cfg, seed, end, report))
               for seed in range(cfg.clients)]
    await asyncio.gather(*clients)
    await asyncio.gather(*stalls, return_exceptions=True)
    report.idle_open_at_end = sum(_tcp_state(writer) == 1 for _, writer in idle)
    for _, writer in idle:
        writer.close()
    for writer in stalled_writers:
        writer.close()
    # every client gone: descriptors must come back to where they started (bounded wait)
    settle = loop.time() + 15
    while loop.time() < settle and _process_stats(pid)[1] > report.fds["start"]:
        await asyncio.sleep(0.25)
    stop_sampling.set()
    await sampler
    rss, fds = _process_stats(pid)
    report.rss_kib.update(peak=max(samples.rss_kib, default=rss), end=rss)
    report.fds.update(peak=max(samples.fds, default=fds), end=fds)


def run(cfg: Config, workdir: Path | None = None, nofile: int = 0) -> Report:
    """One soak against a fresh ``mediaserve serve`` child; the report says what happened."""
    report = Report(config=asdict(cfg))
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = cfg.clients + cfg.stalled + cfg.idle + 256
    if soft < need:  # this process holds every client connection
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(max(need, soft), hard), hard))
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        root = Path(tmp) / "library"
        root.mkdir()
        make_file(root / NAME, cfg.size)
        port = free_port()
        cmd = [sys.executable, "-m", "mediaserve", "serve", str(root), "--no-watch",
               "--host", LOOPBACK, "--port", str(port), "--access-log", "off",
               "--send-timeout", str(cfg.send_timeout)]
        if nofile:
            cmd = ["prlimit", f"--nofile={nofile}:{nofile}", *cmd]
        env = {**os.environ, "MEDIASERVE_DATA_DIR": str(Path(tmp) / "data")}
        with open(Path(tmp) / "stderr", "w+b") as errors:
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                    stderr=errors, env=env)
            try:
                wait_for_port(port, proc, timeout=60, stderr=errors)
                base = f"http://{LOOPBACK}:{port}"
                target = stream_url(base, NAME)[len(base):]  # as the listing gives it
                asyncio.run(_soak(port, proc.pid, target, cfg, report))
            finally:
                stop_process(proc, timeout=15)
            errors.seek(0)
            stderr = errors.read().decode(errors="replace")
    if "Traceback" in stderr:
        report.failures.append(f"server wrote a traceback:\n{stderr[-2000:]}")
    if report.errors:
        report.failures.append(f"{report.errors} errors for well-behaved clients")
    if report.stalled_dropped != report.stalled_total:
        report.failures.append(f"only {report.stalled_dropped} of {report.stalled_total} "
                               "stalled readers were dropped")
    if report.fds["end"] > report.fds["start"]:
        report.failures.append(f"descriptors did not come back: {report.fds}")
    if report.requests == 0:
        report.failures.append("no request completed")
    return report


def _human(report: Report, seconds: float) -> str:
    cfg = report.config
    lines = [
        f"soak: {cfg['clients']} clients, {cfg['stalled']} stalled readers, {cfg['idle']} idle "
        f"connections, {seconds:g} s, {cfg['size'] // MIB} MiB file, send timeout "
        f"{cfg['send_timeout']:g} s",
        f"  requests {report.requests} ({report.requests / seconds:.0f}/s), body "
        f"{report.body_bytes / MIB:.0f} MiB, errors {report.errors}",
        f"  stalled readers dropped {report.stalled_dropped}/{report.stalled_total}; idle "
        f"connections still open at the end {report.idle_open_at_end}/{cfg['idle']}",
        f"  server RSS MiB start/peak/end {report.rss_kib['start'] / 1024:.1f} / "
        f"{report.rss_kib['peak'] / 1024:.1f} / {report.rss_kib['end'] / 1024:.1f}",
        f"  server fds start/peak/end {report.fds['start']} / {report.fds['peak']} / "
        f"{report.fds['end']}",
    ]
    lines += [f"  error: {text}" for text in report.error_examples]
    lines += [f"  FAILED: {text}" for text in report.failures]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--short", action="store_true", help="the CI form (~25 s)")
    parser.add_argument("--seconds", type=float)
    parser.add_argument("--clients", type=int)
    parser.add_argument("--stalled", type=int)
    parser.add_argument("--idle", type=int)
    parser.add_argument("--size-mib", type=int)
    parser.add_argument("--send-timeout", type=float)
    parser.add_argument("--nofile", type=int, default=0,
                        help="run the server under this descriptor limit (prlimit)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    cfg = Config.short() if args.short else Config()
    for name in ("seconds", "clients", "stalled", "idle", "send_timeout"):
        if getattr(args, name) is not None:
            setattr(cfg, name, getattr(args, name))
    if args.size_mib:
        cfg.size = args.size_mib * MIB
    started = time.monotonic()
    report = run(cfg, nofile=args.nofile)
    elapsed = time.monotonic() - started
    print(json.dumps(asdict(report), indent=2) if args.json else _human(report, cfg.seconds))
    print(f"(whole run {elapsed:.0f} s)", file=sys.stderr)
    return 1 if report.failures else 0


if __name__ == "__main__":
    sys.exit(main())
