"""What the statistics collector costs, counted in CPU instructions (valgrind's callgrind).

Requests per second on a shared machine swing too much to see a few per cent; instructions
executed do not. This serves one file twice under ``valgrind --tool=callgrind``, once with
the collector and once with ``--no-stats``; after a warm-up it zeroes the counters
(``callgrind_control -z``), sends N random 64 KiB ranges over 4 keep-alive connections, and
dumps the counters (``callgrind_control -d``). The server's instructions per request, on and
off, and their ratio are the result. Slow (valgrind runs Python ~50x slower): a few minutes.

    python -m benchmarks.stats_callgrind [--requests 1000] [--size-mib 16]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.peers import LOOPBACK, free_port, random_library, stop_process, wait_for_port

SPAN = 64 * 1024


async def _ranges(port: int, path: str, count: int, size: int, seed: int) -> None:
    rng = random.Random(seed)
    reader, writer = await asyncio.open_connection(LOOPBACK, port)
    try:
        for _ in range(count):
            first = rng.randrange(size - SPAN)
            writer.write(f"GET {path} HTTP/1.1\r\nHost: bench\r\nRange: bytes={first}-"
                         f"{first + SPAN - 1}\r\n\r\n".encode())
            head = await reader.readuntil(b"\r\n\r\n")
            found = re.search(rb"(?i)content-length:\s*(\d+)", head)
            assert found and head.startswith(b"HTTP/1.1 206"), head[:80]
            await reader.readexactly(int(found.group(1)))
    finally:
        writer.close()


def _send(port: int, path: str, count: int, size: int) -> None:
    async def all_of_them() -> None:
        await asyncio.gather(*(_ranges(port, path, count // 4, size, seed)
                               for seed in range(4)))

    asyncio.run(all_of_them())


def _instructions(out: Path) -> int:
    for line in out.read_text().splitlines():
        if line.startswith("summary:"):
            return int(line.split()[1])
    raise RuntimeError(f"no summary line in {out}")


def measure(media: Path, work: Path, name: str, extra: list[str], requests: int,
            size: int, path: str) -> float:
    """Instructions per request of one server."""
    port = free_port()
    out = work / f"callgrind.{name}"
    proc = subprocess.Popen(
        ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}.%p",
         sys.executable, "-m", "mediaserve", "serve", str(media), "--no-watch", "--host", LOOPBACK,
         "--port", str(port), "--access-log", "off", *extra],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port, proc, timeout=600)
        _send(port, path, 200, size)  # warm-up: imports, caches, the page cache
        subprocess.run(["callgrind_control", "-z", str(proc.pid)], check=True,
                       capture_output=True)
        _send(port, path, requests, size)
        subprocess.run(["callgrind_control", "-d", str(proc.pid)], check=True,
                       capture_output=True)
    finally:
        stop_process(proc, 60)
    dumps = sorted(work.glob(f"callgrind.{name}.{proc.pid}.*"))  # .1: the dump we asked for
    return _instructions(dumps[0]) / requests


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--size-mib", type=int, default=16)
    args = parser.parse_args()
    for tool in ("valgrind", "callgrind_control"):
        if not shutil.which(tool):
            print(f"needs {tool} (apt-get install valgrind)", file=sys.stderr)
            return 2
    with tempfile.TemporaryDirectory(prefix="mediaserve-callgrind-") as tmp:
        work = Path(tmp)
        media = work / "media"
        media.mkdir()
        size = args.size_mib * 1024 * 1024
        _video, vid = random_library(media, args.size_mib)
        path = f"/api/videos/{vid}/stream"
        on = measure(media, work, "on", [], args.requests, size, path)
        off = measure(media, work, "off", ["--no-stats"], args.requests, size, path)
    print(f"{args.requests} random 64 KiB ranges, server instructions per request: "
          f"stats on {on:,.0f}, off {off:,.0f}; the collector costs {on - off:,.0f} "
          f"({(on - off) / off:.1%}); requests/s a CPU-bound server keeps: {off / on:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
