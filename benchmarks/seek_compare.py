"""Seek latency, mediaserve vs nginx, on the same big file, measured back to back.

    python -m benchmarks.seek_compare                 # 1 GiB file, 1000 seeks, 16 at a time
    python -m benchmarks.seek_compare --size 4GiB --seeks 2000 --json

What it does, in order:

1. writes a real MP4 of ``--size`` bytes under ``--workdir`` (default /tmp): a small
   H.264 clip encoded with PyAV, padded with an MP4 ``free`` box, so ``mediaserve scan``
   indexes it as a valid video; reused when it already exists at that size;
2. reads the file once so both servers start from a warm page cache;
3. starts nginx (Debian package, default settings, its own config in the workdir) and
   ``python -m mediaserve serve`` on free loopback ports;
4. for each server: a warm-up run (not reported), then ``probe --seeks N --concurrency C``
   with the same seed, so both answer the very same positions; the servers take turns for
   ``--rounds`` rounds and every round is printed;
5. prints each run's table (the same as ``mediaserve probe --seeks``) and a side-by-side
   summary; stops both servers.

The probe runs in this process (``adapters.probe.runner.run_seeks``), the servers in their
own processes. On a 2-CPU machine the client competes with the server for CPU: compare the
two servers with each other, not with numbers from elsewhere.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rich.console import Console
from rich.table import Table

from benchmarks.peers import PeerError, run_mediaserve, run_nginx, stream_url
from mediaserve.adapters.media.clips import ClipSpec, encode_clip
from mediaserve.adapters.probe.runner import FileReference, Target, run_seeks
from mediaserve.cli.probe import ByteSize, seek_tables
from mediaserve.core.probe.seeks import SeekReport

BLOCK = 16 * 1024 * 1024


def make_video(path: Path, size: int) -> Path:
    """A valid MP4 of exactly ``size`` bytes: clip + ``free`` box of pseudo-random bytes
    (a 16 MiB random block repeated: incompressible enough, and fast to write)."""
    if path.exists() and path.stat().st_size == size:
        return path
    with tempfile.TemporaryDirectory() as tmp:
        clip = encode_clip(Path(tmp), ClipSpec("clip.mp4", seconds=10, fps=25, width=320,
                                               height=240))
        head = clip.read_bytes()
    pad = size - len(head)
    if pad < 16:
        raise SystemExit(f"--size must be at least {len(head) + 16} bytes")
    box = (pad.to_bytes(4, "big") + b"free" if pad < 2**32
           else (1).to_bytes(4, "big") + b"free" + pad.to_bytes(8, "big"))
    block = os.urandom(BLOCK)
    partial = path.with_suffix(".partial")
    with partial.open("wb") as out:
        out.write(head + box)
        left = pad - len(box)
        while left > 0:
            left -= out.write(block[:min(left, BLOCK)])
    partial.replace(path)
    return path


def warm(path: Path) -> None:
    with path.open("rb") as src:
        while src.read(BLOCK):
            pass


@contextmanager
def mediaserve(root: Path, work: Path) -> Iterator[str]:
    env = {"MEDIASERVE_DATA_DIR": str(work / "data")}
    subprocess.run([sys.executable, "-m", "mediaserve", "scan", str(root), "--json"],
                   env={**os.environ, **env}, check=True, capture_output=True, timeout=300)
    with run_mediaserve(root, env=env, timeout=60) as base:
        yield stream_url(base, "video.mp4")


@contextmanager
def servers(root: Path, work: Path) -> Iterator[dict[str, str]]:
    """Both servers, started, by name -> the file's URL; stopped on the way out. One that
    does not come up is a one-line error (with its stderr), like a bad argument."""
    try:
        with mediaserve(root, work) as ms_url, \
                run_nginx(root, work, workers="auto", timeout=60) as nginx_base:
            yield {"mediaserve": ms_url, "nginx": nginx_base + "/video.mp4"}
    except PeerError as exc:
        raise SystemExit(str(exc)) from None


def seeks(url: str, args: argparse.Namespace, reference: FileReference | None,
          count: int) -> SeekReport:
    target = Target(url, timeout=args.timeout, reference=reference,
                    reference_size=reference.size if reference else None)
    outcome = asyncio.run(run_seeks(target, count=count, concurrency=args.concurrency,
                                    length=args.seek_size, seed=args.seed))
    if outcome.report is None:
        raise SystemExit(f"{url}: {outcome.reason}")
    return outcome.report


def summary(rows: list[tuple[str, SeekReport]]) -> Table:
    table = Table(title="side by side (ms)", title_justify="left")
    for name in ("server", "round", "ok", "min", "p50", "p90", "p99", "max", "mean", "req/s",
                 "MiB/s", "conns"):
        table.add_column(name, justify="left" if name == "server" else "right")
    for number, (name, report) in enumerate(rows):
        lat = report.latency.as_ms() if report.latency else {}
        table.add_row(name, str(number // 2 + 1), f"{report.ok}/{report.requested}",
                      *(f"{lat.get(k, 0):.2f}" for k in ("min", "p50", "p90", "p99", "max",
                                                          "mean")),
                      f"{report.rate:.0f}", f"{report.throughput / 2**20:.0f}",
                      str(report.connections))
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", default="1GiB", help="file size (default 1GiB)")
    parser.add_argument("--seeks", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--seek-size", default="64KiB")
    parser.add_argument("--seed", type=int, default=20240601)
    parser.add_argument("--warmup", type=int, default=200, help="unreported seeks first")
    parser.add_argument("--rounds", type=int, default=1, help="alternate servers N times")
    parser.add_argument("--timeout", type=float, default=10.0)
    parser.add_argument("--verify", action="store_true", help="compare every seek's bytes")
    parser.add_argument("--workdir", type=Path,
                        default=Path(tempfile.gettempdir()) / "mediaserve-seek-bench")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    args.size = ByteSize(1, 1 << 40).convert(args.size, None, None)
    args.seek_size = ByteSize(1, 64 << 20).convert(args.seek_size, None, None)
    if not (1 <= args.seeks <= 100_000 and 1 <= args.concurrency <= 256
            and 1 <= args.rounds <= 20):
        raise SystemExit("--seeks 1..100000, --concurrency 1..256, --rounds 1..20")

    out = Console(stderr=args.json, highlight=False,
                  width=None if sys.stdout.isatty() else 120)
    root = args.workdir / "library"
    root.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    video = make_video(root / "video.mp4", args.size)
    out.print(f"file: {video} ({args.size} bytes, ready in "
              f"{time.perf_counter() - started:.1f} s)")
    warm(video)
    reference = FileReference(video) if args.verify else None
    rows: list[tuple[str, SeekReport]] = []
    with servers(root, args.workdir) as urls:
        for url in urls.values():
            if args.warmup:
                seeks(url, args, reference, args.warmup)
        for _ in range(args.rounds):
            for name, url in urls.items():
                report = seeks(url, args, reference, args.seeks)
                rows.append((name, report))
                if not args.json:
                    out.rule(f"{name}  probe {url} --seeks {args.seeks} "
                             f"--concurrency {args.concurrency}")
                    out.print(seek_tables(report))
    if reference:
        reference.close()
    if args.json:
        print(json.dumps([{"server": n, **r.as_dict()} for n, r in rows], indent=2))
    else:
        out.print(summary(rows))


if __name__ == "__main__":
    main()
