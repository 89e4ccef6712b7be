"""Scan performance: first scan, rescan and index load, on a generated library.

    python benchmarks/scan_bench.py [--quick] [--files N] [--rescan-files N]

Builds, in a temporary folder, a library of hard links to a few short clips generated with
PyAV (copies when the file system refuses hard links), then measures:

* the first scan of 1,000 clips: one worker, then threads and processes at 2/4/8 workers
  (what decides ``--executor``'s default);
* the rescan of 10,000 unchanged entries (target < 2 s): walk + stat + merge, no probing;
  also with the index written, and the whole ``mediaserve scan`` command in a subprocess;
* loading a 10,000-entry index (target < 0.5 s).

Each timing is the best of a few runs (one with --quick). It takes well under two minutes.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import av

from mediaserve.adapters.library.scanner import scan, walk
from mediaserve.adapters.library.store import load_index, save_index
from mediaserve.adapters.media import prober
from mediaserve.adapters.media.clips import ClipSpec, encode_clip
from mediaserve.core.library.index import LibraryIndex, ProbeOutcome, apply_scan, dumps

RESCAN_TARGET_S = 2.0
LOAD_TARGET_S = 0.5

SOURCES = (
    ClipSpec("fast.mp4", seconds=2),
    ClipSpec("moov_at_end.mp4", seconds=2, faststart=False),
    ClipSpec("vp9.webm", video_codec="libvpx-vp9", audio_codec="libopus", seconds=2),
    ClipSpec("h264.mkv", seconds=2),
)


def make_sources(folder: Path) -> list[Path]:
    made = []
    for spec in SOURCES:
        if all(c is None or c in av.codecs_available for c in (spec.video_codec,
                                                               spec.audio_codec)):
            made.append(encode_clip(folder, spec))
    if not made:
        sys.exit("scan_bench: no usable encoder in this PyAV build")
    return made


def make_tree(root: Path, sources: list[Path], count: int, per_folder: int = 100) -> str:
    """``count`` files in folders of ``per_folder``: hard links, or copies if refused."""
    how = "hard links"
    for i in range(count):
        source = sources[i % len(sources)]
        folder = root / f"folder-{i // per_folder:03d}"
        if i % per_folder == 0:
            folder.mkdir(parents=True)
        target = folder / f"clip-{i:05d}{source.suffix}"
        try:
            os.link(source, target)
        except OSError:
            shutil.copy2(source, target)
            how = "copies"
    return how


def best_of(runs: int, action: Callable[[], object]) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(runs):
        started = time.perf_counter()
        result = action()
        best = min(best, time.perf_counter() - started)
    return best, result


def synthetic_index(root: Path, sources: list[Path]) -> LibraryIndex:
    """The index a first scan of ``root`` would write, without probing 10,000 files: every
    link gets the facts of the clip it points to (the rescan must then probe nothing)."""
    facts = {source.suffix + str(os.stat(source).st_ino): prober.probe(source)
             for source in sources}
    found = list(walk(root))
    probed: dict[str, ProbeOutcome] = {}
    for state in found:
        st = os.stat(root / state.path)
        key = Path(state.path).suffix + str(st.st_ino)
        probed[state.path] = facts.get(key) or prober.probe(root / state.path)
    index, _ = apply_scan(None, str(root), found, probed)
    return index


def never_probe(path: str) -> ProbeOutcome:
    raise AssertionError(f"a rescan of unchanged files probed {path}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="one run per timing, fewer configs")
    parser.add_argument("--files", type=int, default=1_000, help="files in the first scan")
    parser.add_argument("--rescan-files", type=int, default=10_000,
                        help="entries in the rescan and load tests")
    args = parser.parse_args(argv)
    runs = 1 if args.quick else 3
    configs = [("serial", 1), ("thread", 2), ("thread", 4), ("process", 2), ("process", 4)]
    if not args.quick:
        configs += [("thread", 8), ("process", 8)]

    rows: list[tuple[str, str, str]] = []
    cpus = os.cpu_count() or 1
    print(f"mediaserve scan benchmark: Python {sys.version.split()[0]}, PyAV {av.__version__}, "
          f"{cpus} CPUs, {'quick' if args.quick else f'best of {runs}'}")
    with tempfile.TemporaryDirectory(prefix="scan-bench-") as tmp:
        base = Path(tmp)
        started = time.perf_counter()
        sources = make_sources(base / "sources")
        how = make_tree(base / "first", sources, args.files)
        make_tree(base / "rescan", sources, args.rescan_files)
        print(f"built {args.files:,} + {args.rescan_files:,} files ({how} of "
              f"{len(sources)} clips) in {time.perf_counter() - started:.1f} s\n")

        # ------------------------------------------------------------------ first scan
        first = base / "first"
        for executor, workers in configs:
            kind = "thread" if executor == "serial" else executor
            elapsed, result = best_of(runs, lambda k=kind, w=workers: scan(
                first, None, workers=w, executor=k))
            _, summary = result  # type: ignore[misc]
            assert len(summary.new) == args.files, summary.as_dict()
            assert not summary.failed, "a generated clip failed to probe"
            label = {"serial": "1 worker", "thread": f"{workers} threads",
                     "process": f"{workers} processes"}[executor]
            rows.append((f"first scan of {args.files:,} clips, {label}",
                         f"{elapsed:.2f} s", f"{args.files / elapsed:,.0f} files/s"))

        # ------------------------------------------------------------------ rescan
        rescan_root = base / "rescan"
        old = synthetic_index(rescan_root, sources)
        assert len(old.videos) == args.rescan_files
        elapsed, result = best_of(runs, lambda: scan(rescan_root, old, probe=never_probe))
        _, summary = result  # type: ignore[misc]
        assert len(summary.unchanged) == args.rescan_files
        verdict = "ok" if elapsed < RESCAN_TARGET_S else "OVER TARGET"
        rows.append((f"rescan of {args.rescan_files:,} unchanged (walk+stat+merge)",
                     f"{elapsed:.2f} s", f"target < {RESCAN_TARGET_S:g} s: {verdict}"))

        index_path = base / "index.toml"

        def rescan_and_write() -> None:
            new, _ = scan(rescan_root, old, probe=never_probe)
            save_index(index_path, new)

        elapsed, _ = best_of(runs, rescan_and_write)
        size = index_path.stat().st_size
        rows.append((f"rescan of {args.rescan_files:,} + write the index",
                     f"{elapsed:.2f} s", f"index {size / 2**20:.1f} MiB"))

        env = {**os.environ, "MEDIASERVE_DATA_DIR": str(base / "data")}
        command = [sys.executable, "-m", "mediaserve", "scan", "--json", str(rescan_root),
                   "--index", str(index_path)]

        def cli_rescan() -> None:
            subprocess.run(command, check=True, env=env, capture_output=True)

        elapsed, _ = best_of(runs, cli_rescan)
        verdict = "ok" if elapsed < RESCAN_TARGET_S else "OVER TARGET"
        rows.append((f"`mediaserve scan` rescan of {args.rescan_files:,} (whole command)",
                     f"{elapsed:.2f} s", f"target < {RESCAN_TARGET_S:g} s: {verdict}"))

        # ------------------------------------------------------------------ load
        save_index(index_path, old)
        elapsed, loaded = best_of(runs, lambda: load_index(index_path))
        assert loaded == old
        verdict = "ok" if elapsed < LOAD_TARGET_S else "OVER TARGET"
        rows.append((f"load a {len(old.videos):,}-entry index", f"{elapsed:.3f} s",
                     f"target < {LOAD_TARGET_S:g} s: {verdict}"))
        elapsed, _ = best_of(runs, lambda: dumps(old))
        rows.append((f"serialise a {len(old.videos):,}-entry index", f"{elapsed:.3f} s", ""))

    width = max(len(r[0]) for r in rows)
    print(f"{'measurement':<{width}}  {'time':>8}  note")
    print(f"{'-' * width}  {'-' * 8}  {'-' * 28}")
    for what, took, note in rows:
        print(f"{what:<{width}}  {took:>8}  {note}")
    return 0 if all("OVER" not in note for _, _, note in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
