"""How fast the HLS producers are, and what they cost against the ffmpeg command.

    python -m benchmarks.transcode_bench            # 30 s sources (~3 min on 2 busy cores)
    python -m benchmarks.transcode_bench --seconds 20 --skip-1080

Sources are made with Debian's ffmpeg (testsrc2 with temporal noise, so the encoder has
real work: a flat synthetic picture would flatter every number), H.264/AAC and H.264/AC-3 in
Matroska. Each measurement runs one producer worker process exactly as the server does
(``python -m mediaserve.adapters.playback.producer_worker`` with one job), from segment 0 to
the end, and reads its CPU time and peak RSS from ``wait4``. The same job done by the ffmpeg
command (the same encoder settings, HLS fMP4 output) is the yardstick for CPU.

Reports: keyframe index read (FFmpeg's parse of the container index) against a demux of every
video packet; remux and audio-convert speed (x real time); 720p and 1080p transcode speed on
one worker; worker peak RSS; our CPU / ffmpeg's CPU. On a shared machine wall-clock speed
moves with the neighbours' load; CPU time and the ratio to ffmpeg are what to compare.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path
from typing import Any

from mediaserve.adapters.playback.jobs import Job, rendition_json
from mediaserve.core.playback.segments import copy_timeline, fixed_timeline, ladder

WORKER = [sys.executable, "-m", "mediaserve.adapters.playback.producer_worker"]


def make_source(folder: Path, name: str, size: str, seconds: float, audio: str) -> Path:
    path = folder / name
    if not path.exists():
        subprocess.run(
            ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i",
             f"testsrc2=size={size}:rate=25,noise=alls=12:allf=t", "-f", "lavfi", "-i",
             "sine=frequency=440:sample_rate=48000", "-t", str(seconds), "-c:v", "libx264",
             "-preset", "veryfast", "-g", "50", "-pix_fmt", "yuv420p", "-c:a", audio,
             "-ac", "2", str(path)], check=True)
    return path


def run(cmd: list[str], stdin: bytes | None = None) -> dict[str, float]:
    """Wall time, CPU seconds (user + sys) and peak RSS of one child process."""
    began = time.perf_counter()
    process = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL)
    assert process.stdin is not None and process.stdout is not None
    if stdin is not None:
        process.stdin.write(stdin)
    process.stdin.close()
    out = process.stdout.read()
    _pid, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - began
    if status != 0:
        raise SystemExit(f"{cmd[0]} failed: {out[-500:]!r}")
    return {"wall": wall, "cpu": usage.ru_utime + usage.ru_stime,
            "rss_mb": usage.ru_maxrss / 1024, "out": out}


def analyse(path: Path) -> tuple[dict[str, Any], dict[str, float]]:
    measured = run(WORKER, json.dumps({"analyse": [str(path)]}).encode() + b"\n")
    return json.loads(measured["out"].splitlines()[0])["analysis"], measured


def producer_job(path: Path, kind: str, out: Path, analysis: dict[str, Any],
                 height: int | None = None) -> Job:
    out.mkdir(parents=True, exist_ok=True)
    if kind == "transcode":
        line = fixed_timeline(analysis["duration"])
        rendition = next(r for r in ladder(1920, 1080) if r.height == height)
        extra: dict[str, Any] = {"rendition": rendition_json(rendition), "convert_audio": False}
    else:
        line = copy_timeline(analysis["keyframes"], Fraction(*analysis["time_base"]),
                             analysis["end"])
        extra = {"convert_audio": kind == "audio"}
    return Job((str(path),), kind, str(out), line.starts,
               (line.time_base.numerator, line.time_base.denominator), line.end,
               key=analysis["key"], start=0, allow=len(line.starts), **extra)


def ours(job: Job) -> dict[str, float]:
    return run(WORKER, json.dumps({"job": job.to_json()}).encode() + b"\n")


def theirs(path: Path, kind: str, out: Path, height: int | None = None) -> dict[str, float]:
    out.mkdir(parents=True, exist_ok=True)
    codecs = ["-c:v", "copy", "-c:a", "copy" if kind == "remux" else "aac"]
    if kind == "transcode":
        rendition = next(r for r in ladder(1920, 1080) if r.height == height)
        rate = rendition.video_bit_rate
        codecs = ["-vf", f"scale={rendition.width}:{rendition.height}", "-c:v", "libx264",
                  "-preset", "veryfast", "-crf", "23", "-maxrate", str(rate), "-bufsize",
                  str(2 * rate), "-profile:v", "high", "-force_key_frames",
                  "expr:gte(t,n_forced*4)", "-c:a", "copy"]
    return run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(path), *codecs, "-f", "hls",
                "-hls_segment_type", "fmp4", "-hls_time", "4", "-hls_playlist_type", "vod",
                str(out / "index.m3u8")])


def demux_all(path: Path) -> float:
    import av

    began = time.perf_counter()
    with av.open(str(path)) as container:
        for _packet in container.demux(container.streams.video[0]):
            pass
    return time.perf_counter() - began


def measure(seconds: float, heights: tuple[int, ...] = (720, 1080)
            ) -> tuple[list[tuple[str, str]], dict[str, float]]:
    """Every measurement above on sources of ``seconds``: the printed rows, and the numbers
    the issue's targets name (``remux_x``, ``transcode_720_x``, ``cpu_ratio_720``, ...)."""
    numbers: dict[str, float] = {}
    cores = os.cpu_count() or 1
    with tempfile.TemporaryDirectory(prefix="transcode-bench-") as temp:
        folder = Path(temp)
        rows: list[tuple[str, str]] = []
        src720 = make_source(folder, "src720.mkv", "1280x720", seconds, "aac")
        src720ac3 = make_source(folder, "src720ac3.mkv", "1280x720", seconds, "ac3")
        analysis, measured = analyse(src720)
        rows.append(("keyframe index (worker: spawn + open + seek)",
                     f"{measured['wall'] * 1000:.0f} ms wall, {len(analysis['keyframes'])} "
                     f"keyframes, method {analysis['method']}"))
        rows.append(("demux of every video packet (for comparison)",
                     f"{demux_all(src720) * 1000:.0f} ms"))
        for kind, source in (("remux", src720), ("audio", src720ac3)):
            info = analyse(source)[0]
            mine = ours(producer_job(source, kind, folder / f"out-{kind}", info))
            ff = theirs(source, kind, folder / f"ff-{kind}")
            numbers[f"{kind}_x"] = seconds / mine["wall"]
            numbers[f"{kind}_x_cpu"] = seconds / mine["cpu"]
            numbers[f"cpu_ratio_{kind}"] = mine["cpu"] / ff["cpu"]
            rows.append((f"{kind} 720p ({seconds:g} s)",
                         f"{seconds / mine['wall']:.0f}x real time wall "
                         f"({seconds / mine['cpu']:.0f}x by CPU), CPU {mine['cpu']:.2f} s "
                         f"vs ffmpeg {ff['cpu']:.2f} s "
                         f"({mine['cpu'] / ff['cpu']:.2f}x), RSS {mine['rss_mb']:.0f} MB"))
        for height in heights:
            source = src720 if height == 720 else make_source(
                folder, "src1080.mkv", "1920x1080", seconds, "aac")
            info = analyse(source)[0]
            mine = ours(producer_job(source, "transcode", folder / f"out-{height}", info,
                                     height))
            ff = theirs(source, "transcode", folder / f"ff-{height}", height)
            numbers[f"transcode_{height}_x"] = seconds / mine["wall"]
            numbers[f"transcode_{height}_x_cpu"] = seconds * cores / mine["cpu"]
            numbers[f"cpu_ratio_{height}"] = mine["cpu"] / ff["cpu"]
            numbers[f"rss_{height}_mb"] = mine["rss_mb"]
            rows.append((f"transcode {height}p H.264 -> {height}p ({seconds:g} s)",
                         f"{seconds / mine['wall']:.2f}x real time (ffmpeg "
                         f"{seconds / ff['wall']:.2f}x; from CPU time over {cores} cores: "
                         f"{seconds * cores / mine['cpu']:.2f}x), CPU {mine['cpu']:.1f} s "
                         "vs ffmpeg "
                         f"{ff['cpu']:.1f} s ({mine['cpu'] / ff['cpu']:.2f}x), worker RSS "
                         f"{mine['rss_mb']:.0f} MB"))
    return rows, numbers


def print_rows(title: str, rows: list[tuple[str, str]]) -> None:
    width = max(len(name) for name, _ in rows)
    print(title)
    for name, value in rows:
        print(f"  {name:<{width}}  {value}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--skip-1080", action="store_true")
    args = parser.parse_args()
    if shutil.which("ffmpeg") is None:
        raise SystemExit("needs Debian's ffmpeg (scripts/dev test installs it)")
    rows, _numbers = measure(args.seconds, (720,) if args.skip_1080 else (720, 1080))
    print_rows(f"transcode_bench: {os.cpu_count()} CPUs, sources {args.seconds:g} s", rows)


if __name__ == "__main__":
    main()
