"""How long ``GET /api/videos`` holds the event loop on a big library.

The server runs in this process (``create_app`` on a loopback port) with a loop-lag probe: a
task that sleeps 1 ms and records how late it wakes up. A wake-up that is N ms late means
something held the loop for N ms, so the probe's maximum is the longest hold. On a shared
machine the wall-clock lag also counts time the OS gave the CPU to someone else, so the
probe also records the CPU time the loop's thread used between its wake-ups
(``loop_cpu_*``): work done on the loop, without preemption. Clients are
separate processes (so they do not compete for this process's GIL): ``--pollers`` processes
GET the listing in a loop, and one process times 64 KiB range reads of a real file (the
"seek" a player waiting behind the listing feels).

The library has ``--videos`` entries (default 10,000): one real 64 MiB file and hard links
to a small one, so the start-up presence check finds every file and the listing is what a
real library's looks like (recorded facts of a probed clip, audit findings).

    python benchmarks/listing_lag.py [--videos 10000] [--pollers 4] [--seconds 10]
        [--encoding gzip|identity] [--revalidate]

``--revalidate`` makes the pollers send the ETag they got back (``If-None-Match``), as a
browser does. To measure another checkout's server with this script, put it first on the
path: ``PYTHONPATH=/path/to/checkout python benchmarks/listing_lag.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import http.client
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

SEEK_FILE_SIZE = 64 * 1024 * 1024
SEEK_SIZE = 64 * 1024


def build_library(root: Path, count: int) -> Any:
    """``count`` entries: ``seek.mp4`` (64 MiB, real bytes) and hard links to one clip."""
    from mediaserve.adapters.media.clips import ClipSpec, encode_clip
    from mediaserve.adapters.media.prober import probe
    from mediaserve.core.library.ids import video_id
    from mediaserve.core.library.index import LibraryIndex, VideoEntry

    root.mkdir(parents=True, exist_ok=True)
    clip = encode_clip(root / "_src", ClipSpec("clip.mp4"))
    facts = probe(clip).facts
    seek = root / "seek.mp4"
    seek.write_bytes(random.Random(1).randbytes(SEEK_FILE_SIZE))
    st = seek.stat()
    videos = {video_id("seek.mp4"): VideoEntry(video_id("seek.mp4"), "seek.mp4", st.st_size,
                                               st.st_mtime_ns, facts=facts)}
    for i in range(count - 1):
        rel = f"Show {i % 50:02d}/Season {i % 7}/Episode {i:05d} - A longer title.mp4"
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        os.link(clip, path)
        cst = path.stat()
        vid = video_id(rel)
        videos[vid] = VideoEntry(vid, rel, cst.st_size, cst.st_mtime_ns, facts=facts)
    return LibraryIndex(root=str(root), videos=videos)


# ------------------------------------------------------------------------------ clients

def poll_listing(port: int, seconds: float, encoding: str, revalidate: bool) -> dict[str, Any]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    etag = None
    count = not_modified = body_bytes = 0
    times = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        headers = {"Accept-Encoding": encoding}
        if revalidate and etag:
            headers["If-None-Match"] = etag
        started = time.perf_counter()
        conn.request("GET", "/api/videos", headers=headers)
        response = conn.getresponse()
        body = response.read()
        times.append(time.perf_counter() - started)
        if response.status == 304:
            not_modified += 1
        elif response.status != 200:
            raise SystemExit(f"listing answered {response.status}")
        etag = response.getheader("ETag") or etag
        count += 1
        body_bytes += len(body)
    return {"requests": count, "not_modified": not_modified, "body_bytes": body_bytes,
            "times": times}


def time_seeks(port: int, seconds: float, vid: str) -> dict[str, Any]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    rng = random.Random(7)
    times = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        start = rng.randrange(0, SEEK_FILE_SIZE - SEEK_SIZE)
        began = time.perf_counter()
        conn.request("GET", f"/api/videos/{vid}/stream",
                     headers={"Range": f"bytes={start}-{start + SEEK_SIZE - 1}"})
        response = conn.getresponse()
        body = response.read()
        times.append(time.perf_counter() - began)
        if response.status != 206 or len(body) != SEEK_SIZE:
            raise SystemExit(f"seek answered {response.status} with {len(body)} bytes")
        time.sleep(0.005)  # a player seeks now and then, not in a tight loop
    return {"times": times}


def client_main(args: argparse.Namespace) -> None:
    if args.client == "poll":
        result = poll_listing(args.port, args.seconds, args.encoding, args.revalidate)
    else:
        result = time_seeks(args.port, args.seconds, args.vid)
    json.dump(result, sys.stdout)


# ------------------------------------------------------------------------------ server

def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def run(args: argparse.Namespace, index: Any, root: Path) -> dict[str, Any]:
    from aiohttp import web

    from mediaserve.adapters.server import create_app
    from mediaserve.core.config.settings import Settings

    app = create_app(index, root, Settings(access_log="off"))
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    lags: list[float] = []  # how late each 1 ms sleep woke up (wall clock)
    held: list[float] = []  # CPU the loop's thread used meanwhile: work, not preemption
    stop = asyncio.Event()

    async def probe_lag() -> None:
        loop = asyncio.get_running_loop()
        while not stop.is_set():
            began, cpu = loop.time(), time.thread_time()
            await asyncio.sleep(0.001)
            lags.append(loop.time() - began - 0.001)
            held.append(time.thread_time() - cpu)
            if lags[-1] > 0.010 and os.environ.get("LAG_TRACE"):
                print(f"lag {lags[-1] * 1000:.1f} ms at {began - t0:.3f} s", file=sys.stderr)

    t0 = asyncio.get_running_loop().time()
    if os.environ.get("LAG_TRACE"):  # name the callbacks that hold the loop (slows it down)
        import logging

        logging.basicConfig()
        asyncio.get_running_loop().set_debug(True)
        asyncio.get_running_loop().slow_callback_duration = 0.008
    collections: list[tuple[int, float]] = []  # (generation, seconds) of each full GC
    started_gc: list[float] = []

    def on_gc(phase: str, info: dict[str, int]) -> None:
        if info["generation"] < 2:
            return
        if phase == "start":
            started_gc.append(time.perf_counter())
        elif started_gc:
            collections.append((info["generation"], time.perf_counter() - started_gc.pop()))

    gc.callbacks.append(on_gc)
    lag_task = asyncio.create_task(probe_lag())
    await asyncio.sleep(0.5)  # the probe's own baseline before any client
    baseline = list(lags)
    vid = next(v for v, e in index.videos.items() if e.path == "seek.mp4")
    me = [sys.executable, str(Path(__file__).resolve()), "--port", str(port),
          "--seconds", str(args.seconds), "--encoding", args.encoding]
    if args.revalidate:
        me.append("--revalidate")
    children = [await asyncio.create_subprocess_exec(*me, "--client", "poll",
                                                     stdout=subprocess.PIPE)
                for _ in range(args.pollers)]
    children.append(await asyncio.create_subprocess_exec(*me, "--client", "seek", "--vid", vid,
                                                         stdout=subprocess.PIPE))
    outputs = [json.loads((await child.communicate())[0]) for child in children]
    stop.set()
    await lag_task
    await runner.cleanup()
    gc.callbacks.remove(on_gc)
    polls, seeks = outputs[:-1], outputs[-1]
    loaded = lags[len(baseline):]
    busy = held[len(baseline):]
    listing_times = [t for p in polls for t in p["times"]]
    ms = 1000.0
    return {
        "videos": len(index.videos),
        "pollers": args.pollers,
        "seconds": args.seconds,
        "encoding": args.encoding,
        "revalidate": args.revalidate,
        "listing_requests": sum(p["requests"] for p in polls),
        "listing_304": sum(p["not_modified"] for p in polls),
        "listing_mean_body_bytes": int(sum(p["body_bytes"] for p in polls)
                                       / max(1, sum(p["requests"] for p in polls))),
        "listing_p50_ms": round(percentile(listing_times, 0.5) * ms, 2),
        "lag_idle_max_ms": round(max(baseline, default=0) * ms, 2),
        "lag_max_ms": round(max(loaded, default=0) * ms, 2),
        "lag_p99_ms": round(percentile(loaded, 0.99) * ms, 2),
        "lag_p50_ms": round(statistics.median(loaded) * ms, 2) if loaded else 0.0,
        "lag_over_10ms": sum(1 for lag in loaded if lag > 0.010),
        "loop_cpu_max_ms": round(max(busy, default=0) * ms, 2),
        "loop_cpu_over_10ms": sum(1 for cpu in busy if cpu > 0.010),
        "full_gcs": len(collections),
        "full_gc_max_ms": round(max((t for _g, t in collections), default=0) * ms, 2),
        "seeks": len(seeks["times"]),
        "seek_p50_ms": round(percentile(seeks["times"], 0.5) * ms, 2),
        "seek_p99_ms": round(percentile(seeks["times"], 0.99) * ms, 2),
        "seek_max_ms": round(max(seeks["times"], default=0) * ms, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--videos", type=int, default=10_000)
    parser.add_argument("--pollers", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--encoding", default="gzip", help="the pollers' Accept-Encoding")
    parser.add_argument("--revalidate", action="store_true",
                        help="pollers send If-None-Match with the ETag they got")
    parser.add_argument("--client", choices=["poll", "seek"], help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--vid", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        client_main(args)
        return
    with tempfile.TemporaryDirectory(prefix="listing-lag-") as tmp:
        root = Path(tmp) / "lib"
        index = build_library(root, args.videos)
        result = asyncio.run(run(args, index, root))
    import mediaserve

    result["mediaserve"] = str(Path(mediaserve.__file__).resolve().parents[1])
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
