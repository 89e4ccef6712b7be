"""What a progress report costs: the state store alone, and through a real server.

    python -m benchmarks.profiles_bench                 # both parts, default sizes
    python -m benchmarks.profiles_bench --reports 5000 --clients 16 --seconds 10 --workers 2

1. **Store**: ``StateStore.report`` in a loop on one row (what a playing tab does), on new
   rows (a library played through), and ``set_preferences`` (synced to the disk at every
   commit): reports per second and microseconds each, in this process.
2. **HTTP**: ``mediaserve serve`` (``--workers N``) on a library of a few files; ``--clients``
   keep-alive clients, each its own profile, POST progress reports for ``--seconds``; prints
   reports/s, latency percentiles and the server's CPU per report (from /proc), then checks
   that the file did not grow with the flood and passes ``PRAGMA integrity_check``.

Numbers are printed, never asserted (README, *Profiles*, quotes a run).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

from benchmarks.loadgen import cpu_seconds
from benchmarks.peers import start_mediaserve
from mediaserve.adapters.profiles.store import StateStore
from mediaserve.core.profiles.progress import ProgressReport


def store_part(folder: Path, count: int) -> None:
    store = StateStore.open(folder / "bench.db")
    pid = store.create("Bench").id
    cases = {
        "report, same row": lambda n: store.report(pid, "0123456789ab",
                                                   ProgressReport(float(n), 7200.0)),
        "report, new row": lambda n: store.report(pid, f"{n:012x}",
                                                  ProgressReport(1.0, 7200.0)),
        "set_preferences (synced)": lambda n: store.set_preferences(
            pid, {"subtitles": n % 2 == 0}),
    }
    print(f"store ({count} calls each, {folder}):")
    for name, call in cases.items():
        runs = count if "synced" not in name else max(50, count // 20)
        started = time.perf_counter()
        for n in range(runs):
            call(n)
        elapsed = time.perf_counter() - started
        print(f"  {name:28} {runs / elapsed:9.0f}/s  {elapsed / runs * 1e6:8.1f} µs each")
    store.close()


async def client_loop(base: str, name: str, vid: str, until: float,
                      latencies: list[float]) -> int:
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(base, cookie_jar=jar) as session:
        async with session.post("/api/profiles", json={"name": name}) as reply:
            pid = (await reply.json())["profile"]["id"]
        async with session.post(f"/api/profiles/{pid}/select") as reply:
            assert reply.status == 200
        done, position = 0, 0.0
        while time.monotonic() < until:
            position += 5.0
            started = time.perf_counter()
            async with session.post(f"/api/me/progress/{vid}",
                                    data=f'{{"position": {position % 7000}}}',
                                    headers={"Content-Type": "text/plain"}) as reply:
                await reply.read()
                if reply.status != 200:
                    raise RuntimeError(f"{reply.status}: {await reply.text()}")
            latencies.append(time.perf_counter() - started)
            done += 1
        return done


def http_part(folder: Path, clients: int, seconds: float, workers: int) -> None:
    library = folder / "lib"
    library.mkdir()
    (library / "film.mp4").write_bytes(os.urandom(4096))
    subprocess.run([sys.executable, "-m", "mediaserve", "scan", str(library), "--json"],
                   check=True, capture_output=True)
    data = folder / "data"
    with start_mediaserve(library, "--workers", str(workers),
                          env={"MEDIASERVE_DATA_DIR": str(data)}) as peer:
        import json
        import urllib.request

        with urllib.request.urlopen(peer.base + "/api/videos") as reply:
            vid = json.load(reply)["videos"][0]["id"]
        latencies: list[float] = []
        cpu_before = cpu_seconds(peer.pid)
        started = time.monotonic()

        async def run() -> list[int]:
            until = time.monotonic() + seconds
            return await asyncio.gather(*(client_loop(peer.base, f"Client {n}", vid, until,
                                                      latencies) for n in range(clients)))

        done = sum(asyncio.run(run()))
        elapsed = time.monotonic() - started
        cpu = cpu_seconds(peer.pid) - cpu_before
    db = data / "state.db"
    conn = sqlite3.connect(db)
    check = conn.execute("PRAGMA integrity_check").fetchone()[0]
    rows = conn.execute("SELECT COUNT(*) FROM progress").fetchone()[0]
    conn.close()
    cuts = statistics.quantiles(latencies, n=100)
    print(f"http (--workers {workers}, {clients} clients, {seconds:.0f} s):")
    print(f"  {done} reports, {done / elapsed:.0f}/s; latency p50 {cuts[49] * 1e3:.2f} ms, "
          f"p99 {cuts[98] * 1e3:.2f} ms; server CPU {cpu / done * 1e6:.0f} µs per report "
          "(includes profile set-up)")
    sizes = {suffix: os.path.getsize(f"{db}{suffix}") for suffix in ("", "-wal")
             if os.path.exists(f"{db}{suffix}")}
    print(f"  store after the flood: {rows} rows, file sizes {sizes}, integrity {check}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reports", type=int, default=3000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--dir", type=Path, default=None,
                        help="where the files go (default: a temporary folder; the disk "
                        "under it decides the cost of a synced commit)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        store_part(Path(tmp), args.reports)
        http_part(Path(tmp), args.clients, args.seconds, args.workers)


if __name__ == "__main__":
    main()
