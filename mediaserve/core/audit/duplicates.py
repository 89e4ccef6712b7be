"""Duplicates: entries with the same content.

Finding duplicates needs the whole library (and the adapter's hashes), so it runs after the
per-entry rules: :func:`duplicate_candidates` picks the entries worth hashing, the adapter
hashes them, :func:`duplicate_groups` groups equal keys, :func:`with_duplicates` adds the
findings.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Hashable, Iterable, Mapping

from mediaserve.core.audit.model import AuditFinding, FreshStat
from mediaserve.core.audit.report import AuditReport
from mediaserve.core.audit.rules import rule

DUPLICATE = rule("duplicate")

def duplicate_candidates(report: AuditReport,
                         stats: Mapping[str, FreshStat]) -> list[list[str]]:
    """Ids of error-free entries grouped by their current size, groups of two or more:
    only those files are worth hashing (a real library has few same-size files)."""
    by_size: dict[int, list[str]] = defaultdict(list)
    for audit in report.entries:
        stat = stats.get(audit.entry.id)
        if audit.has_error or stat is None or not stat.exists or stat.size == 0:
            continue
        by_size[stat.size].append(audit.entry.id)
    return [ids for ids in by_size.values() if len(ids) > 1]


def duplicate_groups(keys: Mapping[str, Hashable]) -> list[tuple[str, ...]]:
    """Ids whose content keys (size plus a hash of the first and last MiB) are equal, in
    groups of two or more, each group in id order."""
    groups: dict[Hashable, list[str]] = defaultdict(list)
    for vid, key in keys.items():
        groups[key].append(vid)
    return sorted(tuple(sorted(ids)) for ids in groups.values() if len(ids) > 1)


def with_duplicates(report: AuditReport, groups: Iterable[tuple[str, ...]]) -> AuditReport:
    """The report with a ``duplicate`` warning on every member of every group, naming the
    other copies (the audit never decides which copy to keep)."""
    audits = report.by_id()
    extra: dict[str, AuditFinding] = {}
    for group in groups:
        paths = {vid: audits[vid].entry.path for vid in group}
        for vid in group:
            others = ", ".join(sorted(p for other, p in paths.items() if other != vid))
            extra[vid] = DUPLICATE.finding(
                f"same content as {others} (same size, same first and last MiB)")
    if not extra:
        return report
    entries = tuple(dataclasses.replace(a, findings=(*a.findings, extra[a.entry.id]))
                    if a.entry.id in extra else a for a in report.entries)
    return dataclasses.replace(report, entries=entries)


__all__ = [
    "duplicate_candidates",
    "duplicate_groups",
    "with_duplicates",
]
