"""What a scan did, in counts and names: what ``scan`` prints (a table, or ``--json``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class ScanSummary:
    """Counts for the table `scan` prints; lists are of ids."""

    new: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # paths left out (names not UTF-8)
    ignored: list[str] = field(default_factory=list)  # paths left out: pruned by the audit
    unreadable: list[str] = field(default_factory=list)  # folders the walk could not list
    failed_files: list[tuple[str, str]] = field(default_factory=list)  # (path, error)
    total_duration: float = 0.0
    total_size: int = 0
    elapsed: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "new": len(self.new),
            "changed": len(self.changed),
            "unchanged": len(self.unchanged),
            "missing": len(self.missing),
            "failed": len(self.failed),
            "skipped": self.skipped,
            "ignored": len(self.ignored),
            "failed_files": [{"path": p, "error": e} for p, e in self.failed_files],
            "unreadable_folders": self.unreadable,
            "videos": len(self.new) + len(self.changed) + len(self.unchanged),
            "total_duration_s": round(self.total_duration, 3),
            "total_size_bytes": self.total_size,
            "elapsed_s": round(self.elapsed, 3),
        }
