"""Walk a library folder and probe what changed.

The walk is the only place that turns directory entries into index paths, so it is also where
the root is enforced: hidden entries are skipped, directory symlinks are not followed, and a
file symlink is indexed only when it resolves inside the root.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

from mediaserve.adapters.library.hashing import content_key
from mediaserve.adapters.library.idsecret import new_id_secret
from mediaserve.adapters.media import prober
from mediaserve.core.library.formats import is_video_name
from mediaserve.core.library.index import (
    FileState,
    LibraryIndex,
    ProbeOutcome,
    apply_scan,
    files_to_probe,
    looks_unmounted,
)
from mediaserve.core.library.rekey import needs_rekey, rekey
from mediaserve.core.library.summary import ScanSummary
from mediaserve.core.web.subtitles import match_subtitles

ProgressCallback = Callable[[int, int], None]  # (done, total)


class LibraryUnavailable(RuntimeError):
    """The root holds no videos while the index lists some: probably an unmounted drive."""


def _utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a name that is not UTF-8 on disk (surrogate-escaped)
        return False
    return True


def walk(root: Path, skipped: list[str] | None = None,
         unreadable: list[str] | None = None) -> Iterator[FileState]:
    """Every video file under ``root``, as (relative POSIX path, size, mtime_ns).

    Names that are not valid UTF-8 cannot be written to a TOML index (TOML is UTF-8): they
    are left out and listed in ``skipped`` (shown with escapes) so the user can rename them.
    """
    real_root = os.path.realpath(root)
    prefix = real_root.rstrip(os.sep) + os.sep
    def on_error(exc: OSError) -> None:  # a folder we cannot list: say so, do not guess
        if unreadable is not None and exc.filename and isinstance(exc, PermissionError):
            rel = os.path.relpath(exc.filename, real_root).replace(os.sep, "/")
            if rel != ".":
                unreadable.append(rel)

    for dirpath, dirnames, filenames in os.walk(real_root, onerror=on_error,
                                                followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        sidecars = match_subtitles((n for n in filenames if is_video_name(n)), filenames)
        for name in sorted(filenames):
            if name.startswith(".") or not is_video_name(name):
                continue
            full = os.path.join(dirpath, name)
            try:
                if os.path.islink(full) and not os.path.realpath(full).startswith(prefix):
                    continue  # a link out of the library is never indexed, hence never served
                st = os.stat(full)
            except OSError:
                continue  # dangling link or a race with a delete: not a file we can serve
            if not os.path.isfile(full):
                continue
            rel = os.path.relpath(full, real_root).replace(os.sep, "/")
            if not _utf8(rel):
                if skipped is not None:
                    skipped.append(rel.encode("utf-8", "surrogateescape").decode(
                        "utf-8", "backslashreplace"))
                continue
            yield FileState(rel, st.st_size, st.st_mtime_ns, sidecars.get(name, ()))


def probe_and_hash(path: str) -> ProbeOutcome:
    """Probe, and record the content hash that lets a moved file keep its id."""
    outcome = prober.probe(path)
    try:
        _, digest = content_key(Path(path), os.stat(path).st_size)
    except OSError:
        return outcome
    return dataclasses.replace(outcome, content_hash=digest)


def _make_executor(kind: str, workers: int) -> Executor:
    if kind == "process":
        return ProcessPoolExecutor(max_workers=workers)
    return ThreadPoolExecutor(max_workers=workers, thread_name_prefix="probe")


def probe_all(root: Path, todo: list[FileState], workers: int, executor: str = "thread",
              on_progress: ProgressCallback | None = None,
              probe: Callable[[str], ProbeOutcome] = probe_and_hash,
              ) -> dict[str, ProbeOutcome]:
    """Probe files in parallel. Threads by default: FFmpeg releases the GIL while it reads,
    and threads avoid process start-up and pickling (see benchmarks/scan_bench.py)."""
    results: dict[str, ProbeOutcome] = {}
    total = len(todo)
    if on_progress:
        on_progress(0, total)
    if not todo:
        return results
    paths = [os.path.join(root, state.path) for state in todo]
    if workers <= 1:
        for done, (state, path) in enumerate(zip(todo, paths, strict=True), 1):
            results[state.path] = probe(path)
            if on_progress:
                on_progress(done, total)
        return results
    with _make_executor(executor, workers) as pool:
        chunk = 16 if executor == "process" else 1
        for done, (state, outcome) in enumerate(
                zip(todo, pool.map(probe, paths, chunksize=chunk), strict=True), 1):
            results[state.path] = outcome
            if on_progress:
                on_progress(done, total)
    return results


def scan(root: Path, old: LibraryIndex | None, *, workers: int = 0, executor: str = "thread",
         allow_empty: bool = False, on_progress: ProgressCallback | None = None,
         probe: Callable[[str], ProbeOutcome] = probe_and_hash, force: bool = False,
         ) -> tuple[LibraryIndex, ScanSummary]:
    """Scan ``root`` incrementally against ``old``; returns the new index and a summary.
    ``force`` probes every file again (``scan --rebuild`` of an index that parses).

    Raises LibraryUnavailable instead of flagging a whole library missing.
    """
    started = time.perf_counter()
    skipped: list[str] = []
    unreadable: list[str] = []
    found = list(walk(root, skipped, unreadable))
    if not allow_empty and looks_unmounted(old, len(found)):
        raise LibraryUnavailable(
            f"{root} holds no video files but the index lists "
            f"{len(old.videos) if old else 0}; is the drive mounted? "
            "(use --allow-empty to flag them all missing)")
    if old is not None and needs_rekey(old):  # written before ids were keyed: once
        old, _mapping = rekey(old, new_id_secret())
    todo = files_to_probe(old, found, force=force)
    # one thread per CPU: 2 threads scanned 1,000 clips in 0.45 s here, 4 in 0.50 s, 8 in
    # 0.62 s; processes were ~10% faster on that batch but pay ~0.1 s to start, which a
    # typical incremental scan of a few new files never earns back (benchmarks/scan_bench.py)
    workers = workers or min(8, os.cpu_count() or 1)
    outcomes = probe_all(root, todo, workers, executor, on_progress, probe)
    index, summary = apply_scan(old, str(Path(root).resolve()), found, outcomes,
                                unreadable_dirs=unreadable, id_secret=new_id_secret())
    summary.unreadable = unreadable
    summary.skipped = skipped
    summary.elapsed = time.perf_counter() - started
    return index, summary
