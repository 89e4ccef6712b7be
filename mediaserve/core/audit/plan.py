"""What a fix would do to the index: prune errors, refresh stale entries, pick remuxes.

Pure: :func:`plan_fix` returns a new index and the list of changes; writing it (with a
backup) and remuxing files is the adapter's job (``mediaserve.adapters.audit.fix``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from mediaserve.core.audit.model import Severity
from mediaserve.core.audit.report import AuditReport, EntryAudit
from mediaserve.core.audit.rules import rule
from mediaserve.core.library.index import LibraryIndex, VideoEntry

NOT_FASTSTART = rule("not-faststart")


class ChangeAction(StrEnum):
    """What a fix does to one entry of the index."""

    REMOVE = "remove"
    UPDATE = "update"


@dataclass(frozen=True, slots=True)
class Change:
    """One change a fix makes to the index (never to a media file)."""

    action: ChangeAction
    id: str
    path: str
    reason: str

    def as_dict(self) -> dict[str, str]:
        return {"action": str(self.action), "id": self.id, "path": self.path,
                "reason": self.reason}


def plan_fix(index: LibraryIndex, report: AuditReport) -> tuple[LibraryIndex, list[Change]]:
    """The index a fix would write, and the changes, in path order: entries with an error
    are removed; stale entries are replaced by their re-probed version. ``index`` is not
    modified."""
    videos = dict(index.videos)
    changes: list[Change] = []
    for audit in report.entries:
        vid = audit.entry.id
        if vid not in videos:
            continue
        if audit.has_error:
            del videos[vid]
            reason = "; ".join(f"{f.code}: {f.message}" for f in audit.findings
                               if f.severity is Severity.ERROR)
            changes.append(Change(ChangeAction.REMOVE, vid, audit.entry.path, reason))
        elif audit.refreshed is not None and audit.refreshed != audit.entry:
            videos[vid] = audit.refreshed
            changes.append(Change(ChangeAction.UPDATE, vid, audit.entry.path,
                                  "re-probed: the file changed since the scan"))
    return _with_videos(index, videos), changes


def remux_candidates(report: AuditReport) -> list[EntryAudit]:
    """Entries that play but are not faststart: the only ones ``--remux-faststart`` touches
    (a truncated or corrupt file is never rewritten)."""
    return [a for a in report.entries
            if not a.has_error and NOT_FASTSTART.code in a.codes()]


def replace_entries(index: LibraryIndex, entries: Iterable[VideoEntry]) -> LibraryIndex:
    """A copy of ``index`` with these entries (by id) replaced, e.g. after a remux."""
    videos = dict(index.videos)
    for entry in entries:
        videos[entry.id] = entry
    return _with_videos(index, videos)


def _with_videos(index: LibraryIndex, videos: dict[str, VideoEntry]) -> LibraryIndex:
    """A copy of ``index`` with other videos; every other field (root, settings, and any
    table added later) is carried over."""
    return dataclasses.replace(index, videos=videos, settings=dict(index.settings),
                               ignored=dict(index.ignored))


__all__ = ["Change", "ChangeAction", "plan_fix", "remux_candidates", "replace_entries"]
