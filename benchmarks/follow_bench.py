"""What it costs a server to follow its index file: stat polling against inotify.

Each mode runs in a fresh interpreter with an asyncio loop for ``--seconds`` and prints the
CPU time used beyond an idle loop, the memory added (max RSS), the import time, and how long
after an atomic replace of the file the change was noticed (``--replaces`` of them, spread
over the run)::

    python benchmarks/follow_bench.py --seconds 20 --replaces 10

* ``idle``: the loop alone (the baseline).
* ``poll``: ``os.stat`` of the file every 0.5 s (``adapters/server/follow.py``).
* ``inotify``: ``watchfiles.awatch`` of the file's folder (a rename over the file is seen
  only on the folder), filtered to the file.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

CHILD = textwrap.dedent("""
    import asyncio, json, os, resource, sys, time
    mode, path, seconds, replaces = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    if mode == "inotify":
        import watchfiles
    import_s = time.perf_counter() - t0
    noticed = []

    def replace(n):
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            f.write(f"version {n}\\n")
        os.replace(tmp, path)
        return time.monotonic()

    async def poll(changed):
        def sig():
            st = os.stat(path)
            return (st.st_ino, st.st_size, st.st_mtime_ns)
        seen = sig()
        while True:
            await asyncio.sleep(0.5)
            now = sig()
            if now != seen:
                seen = now
                changed.set()

    async def inotify(changed):
        folder, name = os.path.split(path)
        async for batch in watchfiles.awatch(folder, debounce=50, step=10,
                                             watch_filter=lambda c, p: p == path):
            changed.set()

    async def main():
        changed = asyncio.Event()
        task = None
        if mode == "poll":
            task = asyncio.create_task(poll(changed))
        elif mode == "inotify":
            task = asyncio.create_task(inotify(changed))
        await asyncio.sleep(0.5)
        c0 = time.process_time()
        gap = seconds / max(replaces, 1)
        for n in range(replaces):
            await asyncio.sleep(gap * 0.5)
            changed.clear()
            at = replace(n)
            if task is not None:
                await asyncio.wait_for(changed.wait(), 5)
                noticed.append(time.monotonic() - at)
            await asyncio.sleep(gap * 0.5)
        cpu = time.process_time() - c0
        if task is not None:
            task.cancel()
        return cpu

    cpu = asyncio.run(main())
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"mode": mode, "cpu_s": cpu, "import_s": import_s,
                      "threads": len(os.listdir("/proc/self/task")),
                      "rss_kib": rss, "rss0_kib": rss0, "noticed": noticed}))
""")


def run(mode: str, path: Path, seconds: float, replaces: int) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, mode, str(path), str(seconds),
                          str(replaces)], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--replaces", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "index.toml"
        path.write_text("version -1\n")
        results = [run(mode, path, args.seconds, args.replaces)
                   for mode in ("idle", "poll", "inotify")]
    idle = results[0]["cpu_s"]
    print(f"{args.seconds:g} s per mode, {args.replaces} atomic replaces, "
          f"{os.cpu_count()} CPUs")
    print(f"{'mode':8} {'cpu over idle':>14} {'per second':>11} {'import':>8} "
          f"{'max RSS':>9} {'threads':>7} {'noticed after (mean / max)':>28}")
    for r in results:
        extra = r["cpu_s"] - idle
        seen = r["noticed"]
        latency = (f"{sum(seen) / len(seen) * 1000:.0f} ms / {max(seen) * 1000:.0f} ms"
                   if seen else "-")
        print(f"{r['mode']:8} {extra * 1000:11.1f} ms {extra / args.seconds * 1e6:8.0f} µs "
              f"{r['import_s'] * 1000:6.1f} ms {r['rss_kib'] / 1024:6.1f} MiB "
              f"{r['threads']:7d} {latency:>28}")


if __name__ == "__main__":
    main()
