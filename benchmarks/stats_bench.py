"""What the statistics collector costs: the random 64 KiB range benchmark, stats on and off.

Starts ``mediaserve serve`` twice on the same file, once with the collector (the default)
and once with ``--no-stats``, and drives both with ``wrk`` in alternating rounds (on, off,
off, on, ...) so that a noisy neighbour on a shared machine hits both about equally. While
the "on" server is measured, a poller asks ``/api/stats`` once a second and ``/metrics``
every 15 s, as a dashboard and a Prometheus scraper would, so the endpoints' cost is included.
Reports requests/s per round, the medians, and their ratio (the budget is >= 0.95).

On a busy shared machine requests/s swing by 2x from one second to the next whatever the
server does, so the benchmark also reports the server process's own CPU time per request
(user + system, from /proc): when the server is CPU-bound, requests/s is the inverse of
that, and it is far less sensitive to the neighbours.

    python -m benchmarks.stats_bench [--size-mib 64] [--seconds 5] [--rounds 3]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import urllib.request
from pathlib import Path

from benchmarks.loadgen import lua_ranges, run_wrk
from benchmarks.peers import LOOPBACK, free_port, random_library, stop_process, wait_for_port


def _serve(media: Path, *args: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "mediaserve", "serve", str(media),
                             "--no-watch", "--host", LOOPBACK, "--port", str(port),
                             "--access-log", "off",
                             *args], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port, proc)
    except BaseException:
        stop_process(proc, 0)
        raise
    return proc, f"http://{LOOPBACK}:{port}"


def _poll(base: str, stop: threading.Event) -> int:
    """GET /api/stats every second (a dashboard) and /metrics every 15 s (a Prometheus
    scrape interval) until ``stop``; returns how many polls."""
    polls = 0
    while not stop.wait(1.0):
        paths = ["/api/stats"] + (["/metrics"] if polls % 15 == 0 else [])
        for path in paths:
            with urllib.request.urlopen(base + path, timeout=10) as resp:
                resp.read()
        polls += 1
    return polls


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=64)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--span", type=int, default=64 * 1024)
    parser.add_argument("--same", action="store_true",
                        help="an A/A run: both servers with statistics off, to see the noise")
    parser.add_argument("--no-poll", action="store_true",
                        help="do not poll /api/stats and /metrics (the hooks' cost alone)")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        print("needs wrk (apt-get install wrk)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="mediaserve-stats-bench-") as tmp:
        work = Path(tmp)
        media = work / "media"
        media.mkdir()
        size = args.size_mib * 1024 * 1024
        _video, vid = random_library(media, args.size_mib)
        script = work / "ranges.lua"
        script.write_text(lua_ranges(size, args.span))
        path = f"/api/videos/{vid}/stream"
        results: dict[str, list[float]] = {"on": [], "off": []}
        cpu: dict[str, list[float]] = {"on": [], "off": []}  # µs of server CPU per request
        servers = {"on": _serve(media, *(["--no-stats"] if args.same else [])),
                   "off": _serve(media, "--no-stats")}
        try:
            for proc, base in servers.values():  # warm the page cache and both servers
                run_wrk(base + path, 1, args.connections, script, proc.pid)
            on = servers["on"][1]
            for round_no in range(args.rounds):
                order = list(servers.items())
                if round_no % 2:  # on-off, off-on, ...: neither always goes first
                    order.reverse()
                for name, (proc, base) in order:
                    stop = threading.Event()
                    poller = threading.Thread(target=_poll, args=(on, stop), daemon=True)
                    if name == "on" and not (args.no_poll or args.same):
                        poller.start()
                    run = run_wrk(base + path, args.seconds, args.connections, script, proc.pid)
                    rps, used = run.rps, run.cpu_s  # server CPU over the run, from /proc
                    stop.set()
                    if poller.is_alive():
                        poller.join()
                    results[name].append(rps)
                    cpu[name].append(used / (rps * args.seconds) * 1e6)
                    print(f"round {round_no + 1} stats {name:>3}: {rps:9.0f} req/s, "
                          f"{cpu[name][-1]:6.1f} µs CPU/request", flush=True)
            counted = b"(statistics off)"
            if not args.same:
                with urllib.request.urlopen(on + "/api/stats?top=1", timeout=10) as resp:
                    counted = resp.read()
        finally:
            for proc, _base in servers.values():
                stop_process(proc)
    on_rps, off_rps = statistics.median(results["on"]), statistics.median(results["off"])
    paired = statistics.median(a / b for a, b in zip(results["on"], results["off"],
                                                     strict=True))
    print(f"median: on {on_rps:.0f} req/s, off {off_rps:.0f} req/s, "
          f"ratio on/off {on_rps / off_rps:.3f}; median of the per-round ratios "
          f"{paired:.3f} (budget >= 0.95)")
    cpu_on, cpu_off = statistics.median(cpu["on"]), statistics.median(cpu["off"])
    print(f"server CPU per request: on {cpu_on:.1f} µs, off {cpu_off:.1f} µs: "
          f"requests/s a CPU-bound server can reach, on/off {cpu_off / cpu_on:.3f}")
    print(f"the 'on' server counted: {counted[:120].decode()}...")
    return 0


if __name__ == "__main__":
    sys.exit(main())
