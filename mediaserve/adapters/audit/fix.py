"""Applying an audit's verdict: prune and refresh index entries, remux if asked, and write
the index with a backup.

Application logic, not CLI: ``mediaserve audit`` calls :func:`apply_fix` and renders what it
returns; a server or a test can call it the same way. :func:`fix_index` is the step in the
middle (index in, new index and what changed out, nothing written), for callers that add
their own bookkeeping before the index is written.

Media files are never deleted or moved; the only media write is the verified faststart
remux (:mod:`.remux`), and only when asked.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from mediaserve.adapters.audit.remux import RemuxError, faststart_name, remux_faststart
from mediaserve.adapters.audit.run import reprobe_entry
from mediaserve.adapters.library.ignore import ignore_pruned
from mediaserve.adapters.library.locate import Library
from mediaserve.adapters.library.store import save_index, write_atomic
from mediaserve.core.audit.plan import (
    Change,
    ChangeAction,
    plan_fix,
    remux_candidates,
    replace_entries,
)
from mediaserve.core.audit.report import AuditReport
from mediaserve.core.library.index import LibraryIndex

BACKUP_SUFFIX = ".bak"


class RemuxStatus(StrEnum):
    """Where one faststart remux stands."""

    PLANNED = "planned"  # a dry run: it would be done
    DONE = "done"
    FAILED = "failed"  # the original is untouched; ``error`` says why


@dataclass(slots=True)
class RemuxOutcome:
    """What happened (or would happen) to one non-faststart file."""

    path: str
    output: str
    in_place: bool
    status: RemuxStatus
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"path": self.path, "output": self.output, "in_place": self.in_place,
                "status": str(self.status), "error": self.error}


@dataclass(slots=True)
class FixResult:
    """What a fix changed (or, in a dry run, would change)."""

    index: LibraryIndex  # the index after the fix
    changes: list[Change] = field(default_factory=list)
    remux: list[RemuxOutcome] = field(default_factory=list)
    backup: Path | None = None  # where the previous index was kept, once written

    @property
    def remux_failed(self) -> bool:
        return any(r.status is RemuxStatus.FAILED for r in self.remux)

    def removed(self) -> list[Change]:
        return [c for c in self.changes if c.action is ChangeAction.REMOVE]

    def updated(self) -> list[Change]:
        return [c for c in self.changes if c.action is ChangeAction.UPDATE]


def backup_path(index_path: Path) -> Path:
    """Where a fix keeps the previous index: beside it, ``NAME.bak`` (one generation)."""
    return index_path.with_name(index_path.name + BACKUP_SUFFIX)


class IndexChanged(RuntimeError):
    """The index file changed on disk while the audit ran (a scan?): a fix would lose that."""


def write_fixed_index(index_path: Path, original: bytes, new_index: LibraryIndex) -> Path:
    """Back up ``original`` (the bytes the audit read) to ``NAME.bak``, then atomically write
    ``new_index``. Refuses when the file no longer holds ``original``. Returns the backup."""
    if Path(index_path).read_bytes() != original:
        raise IndexChanged(f"{index_path} changed while the audit ran; "
                           "nothing was written, run the audit again")
    backup = backup_path(Path(index_path))
    write_atomic(backup, original)
    save_index(Path(index_path), new_index)
    return backup


def fix_index(root: Path, index: LibraryIndex, report: AuditReport, *, dry_run: bool = False,
              remux: bool = False, in_place: bool = False) -> FixResult:
    """The index after the fix, and what changed: entries with errors removed, stale ones
    re-probed, and with ``remux`` the non-faststart files remuxed (``in_place``: over the
    original, whose entry is then re-probed). Writes no index; ``dry_run`` remuxes nothing
    and reports the remuxes as planned. ``index`` is not modified."""
    new_index, changes = plan_fix(index, report)
    # pruned stays pruned: a removed entry whose file is on disk is recorded as ignored
    ignore_pruned(new_index, [(index.videos[c.id], c.reason) for c in changes
                              if c.action is ChangeAction.REMOVE], root)
    result = FixResult(new_index, changes)
    if not remux:
        return result
    for audit in remux_candidates(report):
        if audit.entry.id not in result.index.videos:
            continue
        source = root / audit.entry.path
        output = source if in_place else faststart_name(source)
        item = RemuxOutcome(audit.entry.path, output.relative_to(root).as_posix(), in_place,
                            RemuxStatus.PLANNED)
        result.remux.append(item)
        if dry_run:
            continue
        try:
            remux_faststart(source, in_place=in_place)
        except RemuxError as exc:
            item.status, item.error = RemuxStatus.FAILED, str(exc)
            continue
        item.status = RemuxStatus.DONE
        if in_place:
            current = result.index.videos[audit.entry.id]
            result.index = replace_entries(result.index, [reprobe_entry(root, current)])
            result.changes.append(Change(ChangeAction.UPDATE, audit.entry.id, audit.entry.path,
                                         "remuxed in place to faststart; re-probed"))
    return result


def apply_fix(library: Library, original: bytes, report: AuditReport, *,
              dry_run: bool = False, remux: bool = False, in_place: bool = False) -> FixResult:
    """:func:`fix_index` on the library's index, then, unless ``dry_run`` or nothing
    changed, the new index written atomically with the previous one kept as ``NAME.bak``.

    ``original`` is the index file's bytes the audit was run on: if the file no longer holds
    them (a scan wrote it meanwhile), :class:`IndexChanged` is raised and nothing is written.
    """
    if library.index is None:
        raise ValueError("library has no index")
    result = fix_index(library.root, library.index, report, dry_run=dry_run, remux=remux,
                       in_place=in_place)
    if not dry_run and result.changes:
        result.backup = write_fixed_index(library.index_path, original, result.index)
    return result


__all__ = [
    "BACKUP_SUFFIX",
    "FixResult",
    "IndexChanged",
    "RemuxOutcome",
    "RemuxStatus",
    "apply_fix",
    "backup_path",
    "fix_index",
    "write_fixed_index",
]
