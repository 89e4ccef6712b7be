"""Password guessing, reproduced: how fast a client may guess, and what a flood of guesses
costs a real user who logs in during it (issue 17, finding 5).

Two scenarios against a ``mediaserve serve --auth-users FILE`` child (the users file is made
by the served checkout's own ``mediaserve passwd``, so its scrypt cost is that version's):

* ``rate``: ``--connections`` keep-alive connections from 127.0.0.1 send wrong HTTP Basic
  passwords as fast as the server answers, for ``--seconds``; reports the guesses the server
  checked (401) and refused unchecked (429) per second.
* ``flood``: ``--guessers`` connections from ``--addresses`` source addresses (127.1.x.y)
  guess the same way, never waiting for ``Retry-After`` (from a child process at the lowest
  CPU priority: the attacker's CPU is not the server's); after ``--warmup`` seconds, real
  users log in from 127.0.0.2 - each for the first time, so no memo helps: ``--honest``
  HTTP Basic requests and one login through the form (GET /login, then POST it with the
  CSRF field when the form has one). Reports each login's latency (and, measured just
  before the guessing starts, the same logins without it: on a shared machine that is
  the yardstick), the guesses answered, the server's CPU share and peak memory (VmHWM).

``--source DIR`` runs the mediaserve of another checkout (e.g. ``git archive main``
extracted), to measure before and after with the same client.

    python -m benchmarks.login_flood rate --seconds 10
    python -m benchmarks.login_flood flood --guessers 400 --addresses 1
    python -m benchmarks.login_flood flood --guessers 400 --addresses 400
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import collections
import contextlib
import multiprocessing
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from benchmarks.peers import LOOPBACK, free_port, stop_process, wait_for_port

GUESSED, PASSWORD = "alice", "correct horse battery staple"
HONEST_ADDRESS = "127.0.0.2"
Answer = tuple[int, dict[str, str], bytes]


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def _request(method: str, target: str, headers: dict[str, str], body: bytes = b"") -> bytes:
    lines = [f"{method} {target} HTTP/1.1", f"Host: {LOOPBACK}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    if body:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


async def _exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                    request: bytes) -> Answer:
    writer.write(request)
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
    lines = head.split("\r\n")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name:
            headers.setdefault(name.strip().lower(), value.strip())
    length = int(headers.get("content-length", "0"))
    body = await reader.readexactly(length) if length else b""
    return int(lines[0].split()[1]), headers, body


def _source(index: int, addresses: int) -> str:
    slot = index % addresses
    return f"127.1.{slot // 250}.{slot % 250 + 1}"


async def _guesser(port: int, source: str, stop: asyncio.Event,
                   counts: collections.Counter[int]) -> None:
    """Wrong passwords on one connection, answer after answer, until ``stop``."""
    number = 0
    while not stop.is_set():
        try:
            reader, writer = await asyncio.open_connection(LOOPBACK, port,
                                                           local_addr=(source, 0))
        except OSError:
            counts[0] += 1
            await asyncio.sleep(0.05)
            continue
        try:
            while not stop.is_set():
                number += 1
                guess = _basic(GUESSED, f"guess-{source}-{number}")
                status, headers, _ = await _exchange(
                    reader, writer, _request("GET", "/api/videos", {"Authorization": guess}))
                counts[status] += 1
                if headers.get("connection", "").lower() == "close":
                    break
        except (OSError, asyncio.IncompleteReadError, ValueError):
            counts[-1] += 1
        finally:
            writer.close()


async def _honest_basic(port: int, user: str | None) -> tuple[float, int]:
    """A first login with HTTP Basic (``user`` None: no credentials, a 401 that costs no
    scrypt: how long the server takes to answer anything at all)."""
    started = time.perf_counter()
    reader, writer = await asyncio.open_connection(LOOPBACK, port,
                                                   local_addr=(HONEST_ADDRESS, 0))
    headers = {"Authorization": _basic(user, PASSWORD)} if user else {}
    try:
        status, _, _ = await _exchange(reader, writer, _request("GET", "/api/videos", headers))
    finally:
        writer.close()
    return time.perf_counter() - started, status


async def _honest_form(port: int, user: str) -> tuple[float, int]:
    """GET /login, then POST the form back as a browser would (Origin, the CSRF cookie)."""
    started = time.perf_counter()
    reader, writer = await asyncio.open_connection(LOOPBACK, port,
                                                   local_addr=(HONEST_ADDRESS, 0))
    try:
        _, headers, page = await _exchange(reader, writer, _request("GET", "/login", {}))
        fields = {"user": user, "password": PASSWORD, "next": "/"}
        found = re.search(rb'name="csrf" value="([^"]+)"', page)
        if found:
            fields["csrf"] = found.group(1).decode()
        cookie = headers.get("set-cookie", "").split(";", 1)[0]
        body = urllib.parse.urlencode(fields).encode()
        extra = {"Cookie": cookie} if cookie else {}
        status, _, _ = await _exchange(reader, writer, _request("POST", "/login", {
            "Content-Type": "application/x-www-form-urlencoded",
            "Origin": f"http://{LOOPBACK}:{port}", **extra}, body))
    finally:
        writer.close()
    return time.perf_counter() - started, status


async def _rate(port: int, connections: int, seconds: float) -> None:
    stop = asyncio.Event()
    counts: collections.Counter[int] = collections.Counter()
    tasks = [asyncio.create_task(_guesser(port, LOOPBACK, stop, counts))
             for _ in range(connections)]
    await asyncio.sleep(seconds)
    stop.set()
    await asyncio.wait(tasks, timeout=30)
    checked, refused = counts[401], counts[429]
    print(f"rate: {connections} connections from one address, {seconds:g} s: "
          f"{checked} guesses checked ({checked / seconds:.1f}/s), {refused} refused with "
          f"429 ({refused / seconds:.1f}/s); all answers {dict(counts)}")


def _guessing(port: int, guessers: int, addresses: int, stop: Any, shared: Any) -> None:
    """The guessers, in a child process at the lowest priority: an attacker's CPU is not
    the server's, and on a shared 2-CPU machine the client must not take it from the server
    (the real user's client stays in the parent). ``shared`` holds 401, 429, other answers."""
    os.nice(19)

    async def run() -> None:
        done = asyncio.Event()
        counts: collections.Counter[int] = collections.Counter()
        tasks = [asyncio.create_task(_guesser(port, _source(i, addresses), done, counts))
                 for i in range(guessers)]
        while not stop.is_set():
            await asyncio.sleep(0.05)
            shared[:] = [counts[401], counts[429], sum(counts.values()) - counts[401]
                         - counts[429]]
        done.set()
        if tasks:
            await asyncio.wait(tasks, timeout=60)
        shared[:] = [counts[401], counts[429], sum(counts.values()) - counts[401]
                     - counts[429]]

    asyncio.run(run())


async def _flood(port: int, pid: int, args: argparse.Namespace) -> None:
    baseline = []  # the same logins before any guessing: what the machine allows now
    for number in range(args.honest):
        baseline.append((await _honest_basic(port, f"user{args.honest + 1 + number}"))[0])
    context = multiprocessing.get_context("fork")
    stop, shared = context.Event(), context.Array("q", 3)
    child = context.Process(target=_guessing, args=(port, args.guessers, args.addresses,
                                                    stop, shared))
    child.start()
    await asyncio.sleep(args.warmup)
    before = sum(shared[:])
    cpu, started = _cpu_seconds(pid), time.perf_counter()
    results = [("no credentials", *await _honest_basic(port, None))]
    for number in range(args.honest):
        results.append(("basic", *await _honest_basic(port, f"user{number}")))
        await asyncio.sleep(0.5)
    results.append(("form", *await _honest_form(port, f"user{args.honest}")))
    during = sum(shared[:]) - before
    busy = (_cpu_seconds(pid) - cpu) / (time.perf_counter() - started)
    stop.set()
    child.join(90)
    peak = _peak_mib(pid)
    answers = dict(zip((401, 429, "other"), shared[:], strict=True))
    print(f"flood: {args.guessers} guessing connections from {args.addresses} address(es), "
          f"{args.warmup:g} s warm-up; answers to guesses {answers} "
          f"({during} while the real users logged in, the server busy {busy:.0%} of a CPU); "
          f"server peak RSS {peak} MiB")
    shown = ", ".join(f"{seconds:.2f}" for seconds in baseline)
    print(f"  real user's first login before the guessing started (basic): {shown} s")
    for kind, seconds, status in results:
        what = "any answer" if kind == "no credentials" else "real user's first login"
        print(f"  {what} ({kind}): {status} in {seconds:.2f} s")


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _peak_mib(pid: int) -> str:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return str(int(line.split()[1]) // 1024)
    return "?"


@contextlib.contextmanager
def _server(tmp: Path, args: argparse.Namespace, users: int,
            serve_args: list[str]) -> Iterator[tuple[int, int]]:
    env = {**os.environ, "MEDIASERVE_DATA_DIR": str(tmp / "data")}
    if args.source:
        env["PYTHONPATH"] = str(args.source.resolve())
    root = tmp / "lib"
    root.mkdir(exist_ok=True)
    users_file = tmp / "users"
    for name in [GUESSED] + [f"user{n}" for n in range(users)]:
        subprocess.run([sys.executable, "-m", "mediaserve", "passwd", str(users_file), name,
                        "--password-stdin"], input=PASSWORD + "\n", text=True, env=env,
                       cwd=tmp, check=True, capture_output=True, timeout=120)
    port = free_port()
    cmd = [sys.executable, "-m", "mediaserve", "serve", str(root), "--no-watch", "--host", LOOPBACK,
           "--port", str(port), "--access-log", "off", "--auth-users", str(users_file),
           *serve_args]
    with open(tmp / "stderr", "w+b") as errors:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=errors, env=env, cwd=tmp)
        try:
            wait_for_port(port, proc, timeout=60, stderr=errors)
            yield port, proc.pid
        finally:
            stop_process(proc, timeout=0)
            errors.seek(0)
            tail = errors.read()[-800:].decode(errors="replace").strip()
            if tail:
                print(f"server stderr (tail):\n{tail}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("scenario", choices=["rate", "flood"])
    parser.add_argument("--connections", type=int, default=16, help="rate: connections")
    parser.add_argument("--seconds", type=float, default=10.0, help="rate: duration")
    parser.add_argument("--guessers", type=int, default=400, help="flood: connections")
    parser.add_argument("--addresses", type=int, default=1, help="flood: source addresses")
    parser.add_argument("--warmup", type=float, default=3.0, help="flood: seconds first")
    parser.add_argument("--honest", type=int, default=3, help="flood: Basic logins")
    parser.add_argument("--source", type=Path, help="checkout whose mediaserve to run")
    args, serve_args = parser.parse_known_args(argv)  # the rest (after --) goes to `serve`
    serve_args = [arg for arg in serve_args if arg != "--"]
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(max(soft, 4 * args.guessers + 256),
                                                    hard), hard))
    with tempfile.TemporaryDirectory() as name, \
            _server(Path(name), args, 2 * args.honest + 1, serve_args) as (port, pid):
        if args.scenario == "rate":
            asyncio.run(_rate(port, args.connections, args.seconds))
        else:
            asyncio.run(_flood(port, pid, args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
