"""mediaserve next to nginx on the same files, in the same run: one command, one table.

    python -m benchmarks.stream_bench            # full: 3 interleaved rounds, 5 s per run
    python -m benchmarks.stream_bench --quick    # one short round (CI runs it; ~45 s)

It writes the files (random bytes: 1 GiB, 256 MiB, 64 KiB), scans them, starts nginx (its
own generated config: 1 worker, ``sendfile on``, access log off, a free loopback port) and
mediaserve (access log off) on the same folder, and drives both with ``wrk -t1``:

* W1 random 64 KiB closed ranges of the 1 GiB file, 64 keep-alive connections (seek reads);
* W2 the whole 256 MiB file, 4 connections (bulk; reported in GB/s and CPU s per GB);
* W3 ``bytes=0-1`` of the 64 KiB file, 64 connections (Safari's probe: pure overhead);
* W4 a new connection per request, a random closed 1 MiB range (a browser seek);
* W6 a new connection per request, a random 4 KiB range (a seek's first bytes);
* W5 1,000 slow readers at 64 KiB/s (an asyncio client; RSS, fds, TTFB).

``--floor`` adds ``floor_server.py``, a featureless uvloop server: what CPython itself costs
per request on this host, so a ratio mediaserve cannot reach is told from one it has not.

Rounds interleave the servers (W1 nginx, W1 mediaserve, W2 nginx, ...), and each ratio is
taken against nginx *in the same round*, so a noisy neighbour moves both sides. Server CPU
comes from /proc (utime + stime of the whole process tree). Results are printed; nothing is
asserted. Needs ``nginx`` and ``wrk`` (Debian packages).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from benchmarks.loadgen import LUA_PROBE, WrkResult, lua_ranges, rss_bytes, run_wrk
from benchmarks.peers import (
    Peer,
    free_port,
    start_mediaserve,
    start_nginx,
    start_peer,
    stream_url,
)
from benchmarks.slow_readers import SlowResult, slow_readers

MIB = 1024 * 1024


@dataclass(frozen=True)
class Workload:
    name: str
    title: str
    file: str  # which file: "big", "whole", "small"
    connections: int
    script: str | None  # Lua source, or None for plain GETs
    bulk: bool = False  # report GB/s and CPU per GB instead of req/s and CPU per request


def workloads(sizes: dict[str, int]) -> list[Workload]:
    big = sizes["big"]
    return [
        Workload("W1", "random 64 KiB ranges, 64 conns", "big", 64,
                 lua_ranges(big, 64 * 1024)),
        Workload("W2", "whole file, 4 conns", "whole", 4, None, bulk=True),
        Workload("W3", "bytes=0-1 probe, 64 conns", "small", 64, LUA_PROBE),
        Workload("W4", "new conn + random 1 MiB range", "big", 16,
                 lua_ranges(big, MIB, close=True)),
        Workload("W6", "new conn + random 4 KiB range", "big", 16,
                 lua_ranges(big, 4096, close=True)),
    ]


def _write_random(path: Path, size: int) -> None:
    block = os.urandom(min(size, MIB))
    with open(path, "wb") as handle:
        left = size
        while left:
            handle.write(block[: min(left, len(block))])
            left -= min(left, len(block))


@dataclass
class Server:
    name: str
    peer: Peer
    paths: dict[str, str]  # file key -> URL path
    rss_start: int = 0  # resident memory (whole process tree) after start-up, no request yet


@contextmanager
def servers(media: Path, work: Path, names: dict[str, str], variants: list[tuple[str, list[str]]],
            floor: bool = False) -> Iterator[list[Server]]:
    """nginx plus each mediaserve variant (a name and its extra ``serve`` arguments), and
    with ``floor`` the least a Python server can do (``floor_server.py``)."""
    with ExitStack() as stack:
        started = [Server("nginx", stack.enter_context(start_nginx(
            media, work / "nginx", worker_connections=4096, log_level="warn",
            http_directives=("tcp_nodelay on;", "keepalive_requests 1000000;"))),
            {key: f"/{name}" for key, name in names.items()})]
        for label, extra in variants:
            folder, source = media, None
            if extra and extra[0].startswith("@"):  # another checkout: its own index
                source = Path(extra[0][1:]).resolve()
                folder, extra = _library_for(media, work / f"media-{label}", source), extra[1:]
            peer = stack.enter_context(start_mediaserve(folder, *extra, source=source))
            time.sleep(1.0)  # start-up work (the presence check) settles
            idle = rss_bytes(peer.pid)  # before any request: what a server that streams holds
            # ids are secret-salted per library: ask the server, as a client would
            started.append(Server(label, peer, {
                key: urlsplit(stream_url(peer.base, name)).path for key, name in names.items()},
                idle))
        if floor:
            port = free_port()
            peer = stack.enter_context(start_peer(
                [sys.executable, "-m", "benchmarks.floor_server", str(media), str(port)], port))
            started.append(Server("python floor", peer, {
                key: f"/{name}" for key, name in names.items()}, rss_bytes(peer.pid)))
        for server in started:
            for key in names:
                _check(server.peer.base + server.paths[key], server.name)
        started[0].rss_start = rss_bytes(started[0].peer.pid)
        yield started


def _library_for(media: Path, folder: Path, source: Path) -> Path:
    """The benchmark's files (hard links: no copy, same page cache), scanned by the
    checkout at ``source``: an older checkout may not read this one's index."""
    folder.mkdir()
    for path in media.iterdir():
        if path.is_file() and not path.name.startswith("."):
            os.link(path, folder / path.name)
    subprocess.run([sys.executable, "-m", "mediaserve", "scan", str(folder), "--json"],
                   check=True, capture_output=True, cwd=source,
                   env={**os.environ, "PYTHONPATH": str(source)})
    return folder


def _check(url: str, name: str) -> None:
    """Every server answers the benchmark's URLs with 206 before anything is measured: a
    benchmark of 404s would print fine-looking numbers (this is what keeps it from rotting)."""
    request = urllib.request.Request(url, headers={"Range": "bytes=0-1"})
    with urllib.request.urlopen(request, timeout=10) as response:
        if response.status != 206 or len(response.read()) != 2:
            raise RuntimeError(f"{name}: {url} answered {response.status}, not 206")


def _fmt_ratio(values: list[float]) -> str:
    return f"{statistics.median(values):.2f}x" if values else "-"


def run(args: argparse.Namespace) -> dict[str, Any]:
    quick = args.quick
    rounds = 1 if quick else args.rounds
    seconds = 2.0 if quick else args.seconds
    sizes = {"big": (64 if quick else 1024) * MIB, "whole": (32 if quick else 256) * MIB,
             "small": 64 * 1024}
    names = {"big": "big.mp4", "whole": "whole.mp4", "small": "small.mp4"}
    variants: list[tuple[str, list[str]]] = [("mediaserve", [])]
    for spec in args.variant:
        label, _, extra = spec.partition("=")
        variants.append((label, extra.split()))
    results: dict[tuple[str, str], list[WrkResult]] = {}
    slow: dict[str, SlowResult] = {}
    with tempfile.TemporaryDirectory(prefix="mediaserve-bench-") as tmp:
        work = Path(tmp)
        media = work / "media"
        media.mkdir()
        for key, name in names.items():
            _write_random(media / name, sizes[key])
        subprocess.run([sys.executable, "-m", "mediaserve", "scan", str(media), "--json"],
                       check=True, capture_output=True)
        scripts: dict[str, Path | None] = {}
        loads = workloads(sizes)
        for load in loads:
            scripts[load.name] = None
            if load.script is not None:
                script = work / f"{load.name}.lua"
                script.write_text(load.script)
                scripts[load.name] = script
        with servers(media, work, names, variants, args.floor) as running:
            for server in running:  # warm the page cache and each server once
                run_wrk(server.peer.base + server.paths["big"], 1, 8, scripts["W1"],
                        server.peer.pid)
            for number in range(rounds):
                for load in loads:
                    if args.only and load.name not in args.only:
                        continue
                    for server in running:
                        url = server.peer.base + server.paths[load.file]
                        result = run_wrk(url, seconds, load.connections, scripts[load.name],
                                         server.peer.pid)
                        results.setdefault((load.name, server.name), []).append(result)
                        _progress(number, load, server.name, result)
            if not args.only or "W5" in args.only:
                for server in running:
                    slow[server.name] = slow_readers(
                        server.peer.base + server.paths["big"], server.peer.pid, sizes["big"],
                        streams=200 if quick else args.streams, seconds=2 if quick else 10,
                        ramp=0.5 if quick else 1.0)
                    _progress_slow(server.name, slow[server.name])
        order = [server.name for server in running]
        rss_start = {server.name: server.rss_start for server in running}
    return {"loads": loads, "results": results, "slow": slow, "order": order,
            "rss_start": rss_start,
            "rounds": rounds, "seconds": seconds, "sizes": sizes}


def _progress(number: int, load: Workload, name: str, result: WrkResult) -> None:
    print(f"  round {number + 1} {load.name} {name:<14} {result.rps:>9.0f} req/s "
          f"{result.gb_per_s:6.2f} GB/s  cpu {result.cpu_s:5.2f} s  p99 {result.p99_ms:.1f} ms"
          + (f"  errors {result.errors}" if result.errors else "")
          + (f"  non-2xx {result.non2xx}" if result.non2xx else ""), file=sys.stderr)


def _progress_slow(name: str, res: SlowResult) -> None:
    print(f"  W5 {name:<14} served {res.served}/{res.streams}", file=sys.stderr)


def table(data: dict[str, Any]) -> str:
    """The Markdown table: one row per workload and server."""
    results: dict[tuple[str, str], list[WrkResult]] = data["results"]
    lines = ["| workload | server | req/s (W2: GB/s) | x nginx | CPU per request "
             "(W2: per GB) | CPU x nginx | p50 ms | p99 ms | errors |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for load in data["loads"]:
        base = results.get((load.name, "nginx"))
        if not base:
            continue
        for name in data["order"]:
            runs = results.get((load.name, name), [])
            if not runs:
                continue
            if load.bulk:
                speed: Callable[[WrkResult], float] = lambda r: r.gb_per_s  # noqa: E731
                cost: Callable[[WrkResult], float] = lambda r: r.cpu_s_per_gb  # noqa: E731
                speed_text = f"{statistics.median(speed(r) for r in runs):.2f} GB/s"
                cost_text = f"{statistics.median(cost(r) for r in runs):.3f} s/GB"
            else:
                speed = lambda r: r.rps  # noqa: E731
                cost = lambda r: r.cpu_us_per_request  # noqa: E731
                speed_text = f"{statistics.median(speed(r) for r in runs):,.0f}"
                cost_text = f"{statistics.median(cost(r) for r in runs):,.0f} µs"
            ratios = [speed(r) / speed(b) for r, b in zip(runs, base, strict=False) if speed(b)]
            cost_ratios = [cost(r) / cost(b) for r, b in zip(runs, base, strict=False)
                           if cost(b) > 0]
            errors = sum(r.errors + r.non2xx for r in runs)
            lines.append(
                f"| {load.name} {load.title} | {name} | {speed_text} | {_fmt_ratio(ratios)} | "
                f"{cost_text} | {_fmt_ratio(cost_ratios)} | "
                f"{statistics.median(r.p50_ms for r in runs):.2f} | "
                f"{statistics.median(r.p99_ms for r in runs):.2f} | {errors} |")
    slow: dict[str, SlowResult] = data["slow"]
    if slow:
        lines += ["", "| W5 slow readers (64 KiB/s each) | served | RSS at start MB | "
                  "RSS idle / peak / after MB | fds before / after | TTFB p50 / p99 ms | "
                  "server CPU s |",
                  "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
        for name, res in slow.items():
            lines.append(
                f"| {name} | {res.served}/{res.streams} | "
                f"{data['rss_start'].get(name, 0) / MIB:.0f} | {res.rss_idle / MIB:.0f} / "
                f"{res.rss_peak / MIB:.0f} / {res.rss_after / MIB:.0f} | {res.fds_before} / "
                f"{res.fds_after} | {res.ttfb_p50:.2f} / {res.ttfb(0.99):.2f} | "
                f"{res.cpu_s:.2f} |")
    return "\n".join(lines)


def header(data: dict[str, Any]) -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = os.getloadavg()
    sizes = data["sizes"]
    return (f"{time.strftime('%Y-%m-%d %H:%M %Z')}; {platform.node()}: {os.cpu_count()} CPUs "
            f"({cpu}), Linux {platform.release()}, Python {platform.python_version()}; "
            f"load average {load[0]:.1f} at the end.\n"
            f"{data['rounds']} round(s) of {data['seconds']:g} s per run, wrk -t1, loopback; "
            f"files {sizes['big'] // MIB} MiB / {sizes['whole'] // MIB} MiB / "
            f"{sizes['small'] // 1024} KiB of random bytes; medians; ratios against nginx "
            "(1 worker, sendfile on, access log off) from the same round.")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one short round (CI)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--streams", type=int, default=1000, help="W5 slow readers")
    parser.add_argument("--only", nargs="*", default=[], help="workloads to run (W1 ... W6)")
    parser.add_argument("--variant", action="append", default=[],
                        help="another mediaserve: LABEL='serve args', e.g. w2='--workers 2'; "
                             "'@PATH args' runs the checkout at PATH (before/after in one run)")
    parser.add_argument("--floor", action="store_true",
                        help="also run benchmarks/floor_server.py: the least a Python server "
                             "on uvloop can do for these requests (no features at all)")
    parser.add_argument("--json", action="store_true", help="also print raw results as JSON")
    args = parser.parse_args(argv)
    for tool in ("wrk", "nginx"):
        if not shutil.which(tool) and not Path(f"/usr/sbin/{tool}").exists():
            print(f"stream_bench: needs {tool} (apt-get install {tool}); skipped",
                  file=sys.stderr)
            return 0 if args.quick else 2
    data = run(args)
    print(header(data))
    print()
    print(table(data))
    if args.json:
        raw = {f"{load} {name}": [vars(r) for r in runs]
               for (load, name), runs in data["results"].items()}
        raw.update({f"W5 {name}": {**vars(r), "ttfb_ms": None}
                    for name, r in data["slow"].items()})
        print(json.dumps(raw, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
