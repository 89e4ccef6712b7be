"""The audit run: gather the evidence for every entry of an index, then judge it.

Decisions live in :mod:`mediaserve.core.audit`; this module only gathers evidence (a fresh
stat per entry, a re-probe of changed entries, content keys of same-size files, and with
``deep`` a deep demux of every file) and hands it to the rules. Read-only: an audit run
changes nothing anywhere; :mod:`.fix` applies its verdict.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path

from mediaserve.adapters.audit.deep import DEFAULT_DEEP_TIMEOUT
from mediaserve.adapters.audit.deep_pool import ProgressCallback, deep_check_all
from mediaserve.adapters.audit.files import content_key, fresh_stat
from mediaserve.adapters.library.locate import Library
from mediaserve.adapters.media import prober
from mediaserve.core.audit.duplicates import (
    duplicate_candidates,
    duplicate_groups,
    with_duplicates,
)
from mediaserve.core.audit.model import DEFAULT_OPTIONS, AuditOptions, DeepFacts, FreshStat
from mediaserve.core.audit.report import AuditReport, audit_library
from mediaserve.core.audit.rules import needs_reprobe, refreshed_entry
from mediaserve.core.library.index import ProbeOutcome, VideoEntry


@dataclass(slots=True)
class AuditRun:
    """A report and the evidence behind it (kept for throughput numbers and for the fix)."""

    report: AuditReport
    stats: dict[str, FreshStat]
    elapsed: float
    deep_bytes: int = 0
    deep_files: int = 0
    deep_elapsed: float = 0.0
    hashed: int = 0  # files whose content key was computed (duplicate candidates)
    reprobed: int = 0  # files probed afresh because they changed since the scan


def run_audit(library: Library, options: AuditOptions = DEFAULT_OPTIONS, *,
              deep: bool = False, deep_timeout: float = DEFAULT_DEEP_TIMEOUT,
              workers: int = 0, on_progress: ProgressCallback | None = None) -> AuditRun:
    """Audit the library's index against the disk. Read-only: changes nothing anywhere.

    Unchanged entries are judged on their recorded facts (a stat each, no media opened);
    changed ones, and ones the index recorded as failed, are re-probed; same-size files
    are hashed to find duplicates; ``deep`` demuxes every file that is there.
    """
    started = time.perf_counter()
    index = library.index
    if index is None:
        raise ValueError("library has no index")
    root = library.root
    stats = {vid: fresh_stat(root / entry.path) for vid, entry in index.videos.items()}
    reprobed: dict[str, ProbeOutcome] = {
        vid: prober.probe(root / entry.path)
        for vid, entry in index.videos.items() if needs_reprobe(entry, stats[vid])}
    deep_facts: dict[str, DeepFacts] = {}
    run = AuditRun(report=AuditReport(()), stats=stats, elapsed=0.0, reprobed=len(reprobed))
    if deep:
        todo = {vid: str(root / entry.path) for vid, entry in index.videos.items()
                if _can_open(stats[vid])}
        deep_started = time.perf_counter()
        by_path = deep_check_all(todo.values(), workers=workers, timeout=deep_timeout,
                                 on_progress=on_progress)
        run.deep_elapsed = time.perf_counter() - deep_started
        deep_facts = {vid: by_path[path] for vid, path in todo.items()}
        run.deep_files = len(todo)
        run.deep_bytes = sum(stats[vid].size for vid in todo)
    report = audit_library(index, stats, deep=deep_facts, reprobed=reprobed, options=options)
    if deep:
        report = dataclasses.replace(report, deep=True)
    keys: dict[str, tuple[int, str]] = {}
    for group in duplicate_candidates(report, stats):
        for vid in group:
            run.hashed += 1
            try:
                keys[vid] = content_key(root / index.videos[vid].path, stats[vid].size)
            except OSError:
                continue  # vanished or became unreadable since the stat: not a duplicate
    run.report = with_duplicates(report, duplicate_groups(keys))
    run.elapsed = time.perf_counter() - started
    return run


def _can_open(stat: FreshStat) -> bool:
    return stat.exists and stat.regular and stat.readable and stat.size > 0


def reprobe_entry(root: Path, entry: VideoEntry) -> VideoEntry:
    """The entry after its file was rewritten (e.g. remuxed in place)."""
    path = root / entry.path
    return refreshed_entry(entry, fresh_stat(path), prober.probe(path))


__all__ = ["AuditRun", "reprobe_entry", "run_audit"]
