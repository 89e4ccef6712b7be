"""How ``mediaserve audit`` scales with many copies of one file (issue 13, item 5).

A library of N byte-identical copies of one small clip (default 3,000: the reported case was
3,009) is indexed directly (the facts of one probe, written N times: no N probes), then
audited as a user would, in a child process: ``mediaserve audit FOLDER --dry-run`` once with
the text report and once with ``--json``. Printed per run: wall time, output bytes and lines.
Duplicates used to be reported on every copy naming every other copy (N² paths: 9 million
lines and 820 MB for 3,009 copies); reported per group, the output is linear in N.

    python benchmarks/audit_duplicates.py [--copies 3000] [--timeout 1200]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from mediaserve.adapters.library.store import INDEX_NAME, save_index
from mediaserve.adapters.media.clips import ClipSpec, encode_clip
from mediaserve.adapters.media.prober import probe
from mediaserve.core.library.ids import video_id
from mediaserve.core.library.index import LibraryIndex, VideoEntry


def copies_library(root: Path, copies: int) -> Path:
    """``copies`` identical clips and an index listing them all (facts probed once)."""
    root.mkdir(parents=True)
    clip = encode_clip(root / "_src", ClipSpec("clip.mp4", seconds=1.0))
    facts = probe(clip).facts
    videos = {}
    for i in range(copies):
        rel = f"copies/copy {i:05d}.mp4"
        target = root / rel
        target.parent.mkdir(exist_ok=True)
        shutil.copyfile(clip, target)
        st = target.stat()
        vid = video_id(rel)
        videos[vid] = VideoEntry(vid, rel, st.st_size, st.st_mtime_ns, facts=facts)
    shutil.rmtree(root / "_src")
    save_index(root / INDEX_NAME, LibraryIndex(root=str(root), videos=videos))
    return root


def run(root: Path, extra: list[str], timeout: float) -> tuple[float, int, int] | None:
    """(seconds, stdout bytes, stdout lines) of one audit, or None when over ``timeout``."""
    cmd = [sys.executable, "-m", "mediaserve", "audit", str(root), "--dry-run",
           "--fail-on", "never", *extra]
    env = {**os.environ, "COLUMNS": "120"}
    with tempfile.TemporaryFile() as out:
        started = time.perf_counter()
        try:
            subprocess.run(cmd, stdout=out, stderr=subprocess.DEVNULL, env=env,
                           timeout=timeout, check=True)
        except subprocess.TimeoutExpired:
            return None
        elapsed = time.perf_counter() - started
        size = out.tell()
        out.seek(0)
        lines = sum(chunk.count(b"\n") for chunk in iter(lambda: out.read(1 << 20), b""))
    return elapsed, size, lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--copies", type=int, default=3000)
    parser.add_argument("--timeout", type=float, default=1200.0,
                        help="seconds per audit before giving up")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="audit-dups-") as tmp:
        root = copies_library(Path(tmp) / "lib", args.copies)
        print(f"{args.copies} identical copies of one clip, COLUMNS=120")
        for label, extra in (("text", []), ("--json", ["--json"])):
            result = run(root, extra, args.timeout)
            if result is None:
                print(f"  {label:<7} over {args.timeout:g} s (stopped)")
                continue
            elapsed, size, lines = result
            print(f"  {label:<7} {elapsed:8.2f} s  {size / 1e6:10.2f} MB  {lines:>10,} lines")


if __name__ == "__main__":
    main()
