"""Issue 19's targets in one run: how long a viewer waits in real Chromium through our own
player page, what a cached segment is served at, and how fast the producers convert.

    python -m benchmarks.playback_bench              # ~6 min on 2 cores
    python -m benchmarks.playback_bench --rounds 2 --skip-producers
    python -m benchmarks.playback_bench --rounds 5 --seconds 90
    python -m benchmarks.playback_bench --segment-only --seconds 20    # the wrk part, ~1 min

Three 720p sources made with Debian's ffmpeg (testsrc2 with temporal noise and a sine tone,
so the encoder has real work): H.264/AAC MP4 (plays **direct**), H.264/AAC in QuickTime
(Chromium does not take video/quicktime: **remux**) and HEVC/AAC Matroska (Chromium has no
HEVC decoder: **transcode** to the 720p rendition, pinned in the quality menu). Each round
uses fresh copies (new ids, so nothing is in the segment cache) on one `mediaserve serve`
with its default workers.

* **play -> first frame**: the page is opened; as soon as the player has attached its source
  (the `<video src>` or hls.js), `play()` is called, and the time to the first frame the
  browser presents (`requestVideoFrameCallback`) is measured. For HLS that includes the
  first conversion: a producer process started, the init segment and segment 0 made.
* **seek -> playing**: after ~1 s of playback, a seek to 60 % (never played, far past what
  the first producer made), until a frame from there is presented: for HLS a new producer
  starts at that segment.

* where the first frame's time went (HLS): when the page's requests for the master
  playlist, the media playlist, the init segment and segment 0 ended, from Resource Timing.
* **cached segment vs file**: ``wrk`` (1 thread, 8 connections) on a segment the rounds left
  in the cache, then on the direct video's ``/stream`` with a ``Range`` of the same length:
  requests/s, and the server's CPU per request (from ``/proc``, what moves least).
* **producers** (:mod:`benchmarks.transcode_bench`, sources of ``--producer-seconds``): remux
  and 720p/1080p transcode speed on one worker, CPU against the ``ffmpeg`` command doing the
  same job, worker peak RSS.

Targets: direct <= 1 s, remux <= 1.5 s, transcode 720p <= 3 s to the first frame; remux <=
1.5 s, transcode <= 3 s for the seek; remux >= 50x real time, 720p transcode >= 2x on one
worker, <= 1.2x ffmpeg's CPU, 1080p worker < 300 MB RSS. Medians and worst of the rounds
are printed, each against its target, with the load average (the machine is shared:
wall-clock numbers move with the neighbours; CPU time moves least).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from benchmarks.loadgen import WrkResult, run_wrk
from benchmarks.peers import start_mediaserve
from benchmarks.transcode_bench import measure as measure_producers
from benchmarks.transcode_bench import print_rows

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--autoplay-policy=no-user-gesture-required"]
#: name -> (file, ffmpeg video codec arguments, the mode the player must report)
SOURCES = {
    "direct": ("direct.mp4", ["-c:v", "libx264", "-preset", "veryfast", "-movflags",
                              "+faststart"], "direct"),
    "remux": ("remux.mov", ["-c:v", "libx264", "-preset", "veryfast"], "remux"),
    "transcode": ("transcode.mkv", ["-c:v", "libx265", "-preset", "ultrafast",
                                    "-x265-params", "log-level=none"], "transcode"),
}
TIMEOUT_MS = 60000

FIRST_FRAME = f"""async () => {{
    const v = document.getElementById('player');
    const deadline = performance.now() + {TIMEOUT_MS};
    while (!v.dataset.engine && performance.now() < deadline)
        await new Promise((r) => setTimeout(r, 5));
    const attached = performance.now();
    v.muted = true;
    v.play().catch(() => {{}});
    await Promise.race([new Promise((r) => v.requestVideoFrameCallback(() => r())),
                        new Promise((r) => setTimeout(r, {TIMEOUT_MS}))]);
    const ms = performance.now() - attached;
    const requests = performance.getEntriesByType('resource')
        .filter((e) => e.name.includes('/hls/'))
        .map((e) => [new URL(e.name).pathname.split('/').pop(), e.responseEnd - attached]);
    return {{attached, ms, requests, engine: v.dataset.engine,
             mode: v.dataset.mode, width: v.videoWidth, height: v.videoHeight}};
}}"""

SEEK = f"""async (share) => {{
    const v = document.getElementById('player');
    await new Promise((r) => {{
        const f = () => v.currentTime > 1 ? r() : setTimeout(f, 20); f(); }});
    const target = v.duration * share;
    const began = performance.now();
    v.currentTime = target;
    await Promise.race([new Promise((r) => {{
        const f = (_now, meta) => (!v.seeking && Math.abs(meta.mediaTime - target) < 2)
            ? r() : v.requestVideoFrameCallback(f);
        v.requestVideoFrameCallback(f); }}), new Promise((r) => setTimeout(r, {TIMEOUT_MS}))]);
    return {{ms: performance.now() - began, at: v.currentTime, target}};
}}"""


def make_source(folder: Path, name: str, codec: list[str], seconds: float) -> Path:
    path = folder / name
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i",
         "testsrc2=size=1280x720:rate=25,noise=alls=12:allf=t", "-f", "lavfi", "-i",
         "sine=frequency=440:sample_rate=48000", "-t", str(seconds), *codec, "-g", "50",
         "-pix_fmt", "yuv420p", "-c:a", "aac", "-ac", "2", str(path)], check=True)
    return path


def measure(base: str, ids: dict[str, str], name: str, mode: str) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="playback-bench-chromium-") as profile, \
            sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 800})
        try:
            page = context.new_page()
            page.add_init_script("localStorage.setItem('mediaserve:quality', '720p')")
            page.goto(f"{base}/watch/{ids[name]}")
            first = page.evaluate(FIRST_FRAME)
            seek = page.evaluate(SEEK, 0.6) if mode != "direct" else None
        finally:
            context.close()
    if first["mode"] != mode:
        raise SystemExit(f"{name}: the player chose {first['mode']}, not {mode}")
    return {"first": first["ms"] / 1000, "attached": first["attached"] / 1000,
            "size": f"{first['width']}x{first['height']}", "requests": first["requests"],
            "seek": seek["ms"] / 1000 if seek else None}


def breakdown(rows: list[dict[str, Any]]) -> str:
    """When (median over rounds, from the source attached) each first HLS request ended."""
    ends: dict[str, list[float]] = {}
    for row in rows:
        seen: set[str] = set()
        for name, end in row["requests"]:
            key = "seg-N" if name.startswith("seg-") else name
            if key not in seen:  # the first of each kind
                seen.add(key)
                ends.setdefault(key, []).append(end / 1000)
    return ", ".join(f"{key} {statistics.median(v):.2f}" for key, v in ends.items())


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=60) as reply:
        return json.load(reply)


def until_idle(base: str, limit: float = 60.0) -> None:
    """Until no producer runs (the rounds' prefetch done or stopped), so wrk measures the
    server alone."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if not any(get_json(base + "/api/stats")["playback"]["running"].values()):
            return
        time.sleep(0.5)


def segment_vs_file(peer: Any, video: str, direct: str, seconds: float
                    ) -> dict[str, WrkResult]:
    """wrk on a cached segment of ``video``, then on the same number of bytes of the direct
    file ``direct`` through /stream; alternated twice, the better run of each kept."""
    base = peer.base
    playlist = f"{base}/api/videos/{video}/hls/720p/index.m3u8"
    with urllib.request.urlopen(playlist, timeout=60) as reply:
        first = next(line for line in reply.read().decode().splitlines()
                     if line.startswith("seg-"))
    segment = f"{base}/api/videos/{video}/hls/720p/{first}"
    with urllib.request.urlopen(segment, timeout=60) as reply:  # in the cache after a round
        size = len(reply.read())
    until_idle(base)
    best: dict[str, WrkResult] = {}
    with tempfile.TemporaryDirectory(prefix="playback-bench-wrk-") as temp:
        script = Path(temp) / "range.lua"
        script.write_text(f'wrk.headers["Range"] = "bytes=0-{size - 1}"\n')
        stream = f"{base}/api/videos/{direct}/stream"
        for _ in range(2):
            for name, url, lua in (("segment", segment, None), ("file", stream, script)):
                result = run_wrk(url, seconds, 8, lua, peer.pid)
                if result.errors or result.non2xx:
                    raise SystemExit(f"wrk on {name}: {result.errors} errors, "
                                     f"{result.non2xx} not 2xx")
                if name not in best or result.rps > best[name].rps:
                    best[name] = result
    best["size"] = WrkResult(bytes_read=size)
    return best


def verdict(value: float, target: float, at_most: bool = True) -> str:
    met = value <= target if at_most else value >= target
    return f"({'met' if met else 'MISSED'}: {'<=' if at_most else '>='} {target:g})"


def report_browser(results: dict[str, list[dict[str, Any]]]) -> None:
    targets = {"direct": (1.0, None), "remux": (1.5, 1.5), "transcode": (3.0, 3.0)}
    for kind, rows in results.items():
        first = [r["first"] for r in rows]
        line = (f"  {kind:<9} play -> first frame {summary(first)} "
                f"{verdict(statistics.median(first), targets[kind][0])}"
                f" (picture {rows[0]['size']}; page open -> source attached "
                f"{statistics.median(r['attached'] for r in rows):.2f} s)")
        seek_target = targets[kind][1]
        if rows[0]["seek"] is not None and seek_target is not None:
            seeks = [r["seek"] for r in rows]
            line += (f"; seek to 60 % -> playing {summary(seeks)} "
                     f"{verdict(statistics.median(seeks), seek_target)}")
        print(line)
        if kind != "direct":
            print(f"            first requests ended at (s after attach): {breakdown(rows)}")


def report_segment(rates: dict[str, WrkResult]) -> None:
    size = rates["size"].bytes_read
    print(f"  cached segment vs file, {size / 1024:.0f} KiB each, wrk -t1 -c8:")
    for name in ("segment", "file"):
        r = rates[name]
        print(f"    {name:<8} {r.rps:8.0f} req/s  {r.rps * size / 1e6:6.0f} MB/s  "
              f"server CPU {r.cpu_us_per_request:.0f} us/request  p99 {r.p99_ms:.1f} ms")
    print(f"    segment/file: {rates['segment'].rps / rates['file'].rps:.2f}x the requests/s")


def report_producers(numbers: dict[str, float]) -> None:
    checks = [("remux speed, x real time (wall)", numbers["remux_x"], 50.0, False),
              ("transcode 720p, x real time on one worker (wall)",
               numbers["transcode_720_x"], 2.0, False),
              ("our CPU / ffmpeg's CPU, 720p transcode", numbers["cpu_ratio_720"], 1.2, True),
              ("our CPU / ffmpeg's CPU, remux", numbers["cpu_ratio_remux"], 1.2, True)]
    if "rss_1080_mb" in numbers:
        checks += [("transcode 1080p, x real time on one worker (wall)",
                    numbers["transcode_1080_x"], 2.0, False),
                   ("our CPU / ffmpeg's CPU, 1080p transcode", numbers["cpu_ratio_1080"],
                    1.2, True),
                   ("1080p worker peak RSS, MB", numbers["rss_1080_mb"], 300.0, True)]
    for name, value, target, at_most in checks:
        print(f"  {name:<50} {value:7.2f} {verdict(value, target, at_most)}")


def summary(values: list[float]) -> str:
    return f"median {statistics.median(values):.2f} s, worst {max(values):.2f} s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--wrk-seconds", type=float, default=4.0)
    parser.add_argument("--producer-seconds", type=float, default=30.0)
    parser.add_argument("--skip-producers", action="store_true")
    parser.add_argument("--segment-only", action="store_true",
                        help="only the cached segment vs file part (no browser, no producers;"
                        " the segment is made by a plain request first)")
    args = parser.parse_args()
    if shutil.which("ffmpeg") is None or not os.path.exists(CHROMIUM):
        raise SystemExit("needs Debian's ffmpeg and chromium (scripts/dev test installs them)")
    if shutil.which("wrk") is None:
        raise SystemExit("needs wrk (apt-get install wrk)")
    with tempfile.TemporaryDirectory(prefix="playback-bench-") as temp:
        folder = Path(temp)
        library = folder / "library"
        library.mkdir()
        kinds = ("direct", "transcode") if args.segment_only else tuple(SOURCES)
        sources = {kind: make_source(folder, SOURCES[kind][0], SOURCES[kind][1], args.seconds)
                   for kind in kinds}
        for kind, source in sources.items():
            for round_ in range(args.rounds):
                shutil.copy(source, library / f"{kind}-{round_}{source.suffix}")
        env = {"MEDIASERVE_DATA_DIR": str(folder / "data")}
        results: dict[str, list[dict[str, Any]]] = {kind: [] for kind in SOURCES}
        with start_mediaserve(library, env=env) as peer:
            ids = {v["path"]: v["id"] for v in get_json(peer.base + "/api/videos")["videos"]}
            for round_ in range(0 if args.segment_only else args.rounds):
                for kind, (file, _codec, mode) in SOURCES.items():
                    name = f"{kind}-{round_}{Path(file).suffix}"
                    results[kind].append(measure(peer.base, ids, name, mode))
            load = os.getloadavg()
            rates = segment_vs_file(peer, ids["transcode-0.mkv"], ids["direct-0.mp4"],
                                    args.wrk_seconds)
    after = os.getloadavg()
    print(f"playback_bench: {os.cpu_count()} CPUs, load average before wrk "
          f"{load[0]:.1f} {load[1]:.1f}, after {after[0]:.1f} {after[1]:.1f}, 720p sources "
          f"of {args.seconds:g} s, {0 if args.segment_only else args.rounds} rounds")
    if not args.segment_only:
        report_browser(results)
    report_segment(rates)
    if args.skip_producers or args.segment_only:
        return
    rows, numbers = measure_producers(args.producer_seconds)
    load = os.getloadavg()
    print_rows(f"producers (one worker each, sources of {args.producer_seconds:g} s; load "
               f"average {load[0]:.1f} {load[1]:.1f})", rows)
    report_producers(numbers)


if __name__ == "__main__":
    main()
