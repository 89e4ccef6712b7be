"""The audit of a whole library: one verdict per entry, the counts, and the JSON shape.

:func:`audit_library` runs the rule table (:mod:`.rules`) over every entry with the evidence
the adapter gathered; duplicates are added afterwards (:mod:`.duplicates`), once the adapter
has hashed the candidates.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mediaserve.core.audit.model import (
    DEFAULT_OPTIONS,
    AuditFinding,
    AuditOptions,
    DeepFacts,
    FailOn,
    FreshStat,
    Severity,
)
from mediaserve.core.audit.rules import RULES, audit_entry, refreshed_entry
from mediaserve.core.library.index import LibraryIndex, ProbeOutcome, VideoEntry


@dataclass(frozen=True, slots=True)
class EntryAudit:
    """One entry's verdict; ``refreshed`` is the re-probed entry when it was stale."""

    entry: VideoEntry
    findings: tuple[AuditFinding, ...] = ()
    refreshed: VideoEntry | None = None

    @property
    def has_error(self) -> bool:
        return any(f.severity is Severity.ERROR for f in self.findings)

    def codes(self) -> list[str]:
        return [f.code for f in self.findings]

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.entry.id, "path": self.entry.path,
                "findings": [f.as_dict() for f in self.findings]}


@dataclass(frozen=True, slots=True)
class DuplicateGroup:
    """Entries with the same content, in path order. The first is the one the others'
    findings name; the audit does not decide which copy to keep."""

    ids: tuple[str, ...]
    paths: tuple[str, ...]
    size: int

    @property
    def first(self) -> str:
        return self.paths[0]

    def as_dict(self) -> dict[str, Any]:
        return {"count": len(self.ids), "size": self.size, "paths": list(self.paths)}


@dataclass(frozen=True, slots=True)
class AuditReport:
    """Every entry's verdict, sorted by path, and the counts the summary line shows."""

    entries: tuple[EntryAudit, ...]
    options: AuditOptions = DEFAULT_OPTIONS
    deep: bool = False
    duplicates: tuple[DuplicateGroup, ...] = ()

    @property
    def total(self) -> int:
        return len(self.entries)

    @property
    def invalid(self) -> int:
        """Entries with at least one error (the ones a fix removes)."""
        return sum(1 for e in self.entries if e.has_error)

    @property
    def valid(self) -> int:
        return self.total - self.invalid

    @property
    def warned(self) -> int:
        """Valid entries with warnings."""
        return sum(1 for e in self.entries if e.findings and not e.has_error)

    def by_id(self) -> dict[str, EntryAudit]:
        return {e.entry.id: e for e in self.entries}

    def findings(self, severity: Severity | None = None
                 ) -> list[tuple[EntryAudit, AuditFinding]]:
        """(entry, finding) pairs, errors first, then by path, in rule order."""
        pairs = [(e, f) for e in self.entries for f in e.findings
                 if severity is None or f.severity is severity]
        return sorted(pairs, key=lambda p: -p[1].severity.rank)

    def counts(self) -> dict[str, int]:
        """Findings per code, in documentation order."""
        seen: dict[str, int] = defaultdict(int)
        for e in self.entries:
            for f in e.findings:
                seen[f.code] += 1
        return {r.code: seen[r.code] for r in RULES if seen.get(r.code)}

    def summary_line(self) -> str:
        return (f"Total: {self.total} | Valid: {self.valid} | Invalid: {self.invalid}"
                f" | With warnings: {self.warned}")

    def exit_code(self, fail_on: FailOn | str = FailOn.ERROR) -> int:
        """0 when nothing at or above ``fail_on`` was found, else 1 (``never``: always 0)."""
        fail_on = FailOn(fail_on)
        if fail_on is FailOn.NEVER:
            return 0
        threshold = Severity(fail_on.value).rank
        return int(any(f.severity.rank >= threshold for e in self.entries for f in e.findings))

    def summary(self) -> dict[str, Any]:
        return {"total": self.total, "valid": self.valid, "invalid": self.invalid,
                "with_warnings": self.warned, "by_code": self.counts()}

    def as_dict(self) -> dict[str, Any]:
        return {"summary": self.summary(), "deep": self.deep,
                "min_frames": self.options.min_frames,
                "entries": [e.as_dict() for e in self.entries if e.findings],
                "duplicate_groups": [g.as_dict() for g in self.duplicates]}


def audit_library(index: LibraryIndex, stats: Mapping[str, FreshStat] | None = None,
                  *, deep: Mapping[str, DeepFacts] | None = None,
                  reprobed: Mapping[str, ProbeOutcome] | None = None,
                  options: AuditOptions = DEFAULT_OPTIONS) -> AuditReport:
    """Run :func:`~.rules.audit_entry` over the index (maps are keyed by entry id).
    Duplicates are added afterwards with :func:`~.duplicates.with_duplicates`, once the
    adapter has hashed candidates."""
    stats, deep, reprobed = stats or {}, deep or {}, reprobed or {}
    audits = []
    for entry in sorted(index.videos.values(), key=lambda e: e.path):
        stat, fresh = stats.get(entry.id), reprobed.get(entry.id)
        findings = audit_entry(entry, stat, deep.get(entry.id), options, reprobed=fresh)
        refreshed = (refreshed_entry(entry, stat, fresh)
                     if stat is not None and fresh is not None else None)
        audits.append(EntryAudit(entry, tuple(findings), refreshed))
    return AuditReport(tuple(audits), options, deep=bool(deep))


__all__ = ["AuditReport", "DuplicateGroup", "EntryAudit", "audit_library"]
