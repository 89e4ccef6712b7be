"""How fast ``mediaserve audit`` is, without and with ``--deep``.

1. Shallow: an index of N unchanged entries (default 1,000). Files have distinct sizes, so
   nothing is hashed: this is the everyday audit (a stat and an access check per entry,
   recorded facts for the rules). Timed in-process (load index + audit, best of 5) and as a
   whole ``python -m mediaserve audit --dry-run --json`` process (interpreter and PyAV import
   included). Also timed: the same N files all of one size, the worst case for duplicate
   hashing (2 MiB read per file).
2. Deep: ``--deep`` over (a) many small clips (files/s: per-file overhead dominates) and
   (b) a few ~8 Mbit/s 640x360 clips of noise (MB/s: what a real library looks like to the
   demuxer). The files were just written, so they are in the page cache: these are CPU
   numbers, not disk numbers; on a cold spinning disk the disk is the limit.

Everything is generated in a temp folder and removed; the run takes well under 2 minutes.

    python benchmarks/audit_bench.py [--entries 1000] [--small 200] [--large 6] [--copies 4]
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

import av

from mediaserve.adapters.audit.deep_pool import deep_check_all
from mediaserve.adapters.audit.run import run_audit
from mediaserve.adapters.library.locate import Library, open_library
from mediaserve.adapters.library.scanner import scan
from mediaserve.adapters.library.store import INDEX_NAME, load_index, save_index
from mediaserve.adapters.media.clips import ClipSpec, encode_clip
from mediaserve.adapters.media.prober import probe
from mediaserve.core.library.ids import video_id
from mediaserve.core.library.index import LibraryIndex, VideoEntry


def shallow_library(root: Path, count: int, same_size: bool) -> Path:
    """``count`` files with the recorded facts of a real clip; an index that lists them."""
    root.mkdir(parents=True)
    clip = encode_clip(root / "_src", ClipSpec("clip.mp4"))
    facts = probe(clip).facts
    shutil.rmtree(root / "_src")
    videos = {}
    for i in range(count):
        rel = f"folder{i % 20:02d}/video {i:05d}.mp4"
        path = root / rel
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(b"\0" * (4096 if same_size else 4096 + i))
        st = path.stat()
        vid = video_id(rel)
        videos[vid] = VideoEntry(vid, rel, st.st_size, st.st_mtime_ns, facts=facts)
    save_index(root / INDEX_NAME, LibraryIndex(root=str(root), videos=videos))
    return root


def time_shallow(root: Path, repeat: int = 5) -> tuple[float, int]:
    best = float("inf")
    total = 0
    for _ in range(repeat):
        started = time.perf_counter()
        index = load_index(root / INDEX_NAME)
        run = run_audit(Library(root, root / INDEX_NAME, index))
        best = min(best, time.perf_counter() - started)
        total = run.report.total
    return best, total


def time_cli(root: Path) -> float:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "mediaserve", "audit", str(root),
                           "--dry-run", "--json", "--fail-on", "never"],
                          capture_output=True, text=True, check=True)
    elapsed = time.perf_counter() - started
    json.loads(done.stdout)
    return elapsed


def noise_clip(path: Path, seconds: int, seed: int) -> Path:
    """640x360 H.264 at ~8 Mbit/s: random frames defeat the encoder's compression, so the
    file has the packet sizes of real footage at a fraction of the encoding time."""
    width, height, fps = 640, 360, 25
    rng = __import__("random").Random(seed)
    frames = [rng.randbytes(width * height) for _ in range(8)]
    chroma = bytes([128]) * ((width // 2) * (height // 2))
    with av.open(str(path), "w", options={"movflags": "+faststart"}) as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"preset": "ultrafast", "crf": "35", "g": "50"}
        for i in range(fps * seconds):
            frame = av.VideoFrame(width, height, "yuv420p")
            frame.planes[0].update(frames[i % len(frames)])
            frame.planes[1].update(chroma)
            frame.planes[2].update(chroma)
            frame.pts, frame.time_base = i, Fraction(1, fps)
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


def deep_numbers(paths: list[str], workers: int) -> tuple[float, int, int]:
    """(seconds, files, bytes) for deep_check_all, worker start-up included."""
    started = time.perf_counter()
    results = deep_check_all(paths, workers=workers)
    elapsed = time.perf_counter() - started
    assert all(not r.timed_out and r.opened and r.error is None for r in results.values())
    return elapsed, len(paths), sum(os.path.getsize(p) for p in paths)


def startup_cost(tiny: str, repeat: int = 3) -> float:
    """Seconds to start a worker (interpreter + PyAV import) and check one tiny file."""
    return min(deep_numbers([tiny], 1)[0] for _ in range(repeat))


def report_deep(label: str, elapsed: float, files: int, size: int,
                startup: float | None = None) -> None:
    line = (f"  {label:<34} {files:5d} files {size / 1e6:8.1f} MB  {elapsed:6.2f} s  "
            f"{size / 1e6 / elapsed:8.1f} MB/s  {files / elapsed:7.1f} files/s")
    if startup is not None and elapsed > startup:
        net = elapsed - startup
        line += f"   (without start-up: {size / 1e6 / net:.1f} MB/s, {files / net:.1f} files/s)"
    print(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=1000)
    parser.add_argument("--small", type=int, default=200, help="small clips for files/s")
    parser.add_argument("--large", type=int, default=6, help="~20 MB clips for MB/s")
    parser.add_argument("--large-seconds", type=int, default=20)
    parser.add_argument("--copies", type=int, default=4, help="copies of each large clip")
    args = parser.parse_args()
    cpus = os.cpu_count() or 1
    print(f"mediaserve audit benchmark: Python {sys.version.split()[0]}, PyAV {av.__version__}, "
          f"{cpus} CPUs")
    with tempfile.TemporaryDirectory(prefix="audit-bench-") as tmp:
        base = Path(tmp)
        print(f"\nShallow (no --deep), {args.entries} unchanged entries:")
        distinct = shallow_library(base / "shallow", args.entries, same_size=False)
        best, total = time_shallow(distinct)
        print(f"  load index + audit, in-process   {best * 1000:7.1f} ms  "
              f"({best / total * 1e6:.1f} µs/entry, best of 5)  "
              f"{'OK' if best < 1 else 'OVER'} (target < 1 s)")
        print(f"  whole CLI process                {time_cli(distinct) * 1000:7.1f} ms  "
              "(interpreter + imports included)")
        same = shallow_library(base / "same-size", args.entries, same_size=True)
        best, _ = time_shallow(same)
        print(f"  all one size (hash every file)   {best * 1000:7.1f} ms  "
              "(worst case for duplicate detection)")

        print("\nDeep (--deep):")
        small_root = base / "small"
        sources = [encode_clip(small_root / "_src", ClipSpec(f"s{i}.mp4", seconds=2 + i / 10))
                   for i in range(4)]
        small = []
        for i in range(args.small):
            target = small_root / f"clip{i:04d}.mp4"
            shutil.copyfile(sources[i % len(sources)], target)
            small.append(str(target))
        large_root = base / "large"
        large_root.mkdir()
        started = time.perf_counter()
        large = [str(noise_clip(large_root / f"noise{i}.mp4", args.large_seconds, i))
                 for i in range(args.large)]
        for copy in range(1, args.copies):
            for i in range(args.large):
                target = large_root / f"noise{i}-copy{copy}.mp4"
                shutil.copyfile(large[i], target)
                large.append(str(target))
        print(f"  (generated {len(large)} large clips in {time.perf_counter() - started:.1f} s)")
        startup = startup_cost(small[0])
        print(f"  worker start-up (once per audit)   {startup:.2f} s")
        for workers in sorted({1, min(4, cpus)}):
            report_deep(f"small clips, {workers} worker(s)", *deep_numbers(small, workers),
                        startup=startup)
            report_deep(f"large clips, {workers} worker(s)", *deep_numbers(large, workers),
                        startup=startup)
        shutil.rmtree(small_root / "_src")
        index, _ = scan(large_root, None)
        save_index(large_root / INDEX_NAME, index)
        run = run_audit(open_library(large_root, None), deep=True)
        report_deep("end to end: run_audit(deep=True)", run.elapsed, run.deep_files,
                    run.deep_bytes)


if __name__ == "__main__":
    main()
