"""Duplicates: entries with the same content, reported per group and linear in the library.

Finding duplicates needs the whole library (and the adapter's hashes), so it runs after the
per-entry rules: :func:`duplicate_candidates` picks the entries worth hashing, the adapter
hashes them, :func:`duplicate_groups` groups equal keys, :func:`with_duplicates` adds the
findings.

Every copy gets one ``duplicate`` warning naming at most :data:`MAX_NAMED` of the others
(the group's first copy, by path, always among them) and how many more there are; the whole
group is listed once, in the report's ``duplicate_groups``. Naming every other copy in every
finding made the report quadratic: 3,009 copies of one clip gave 9 million lines.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Hashable, Iterable, Mapping

from mediaserve.core.audit.model import AuditFinding, FreshStat
from mediaserve.core.audit.report import AuditReport, DuplicateGroup
from mediaserve.core.audit.rules import rule

DUPLICATE = rule("duplicate")

#: copies named in one finding; the rest are counted ("and 2,996 more")
MAX_NAMED = 3


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


def _finding(group: DuplicateGroup, own: str) -> AuditFinding:
    """The warning for one copy: the first copies of the group but itself, at most
    MAX_NAMED of them, then a count. Constant size, whatever the group's size."""
    named = [p for p in group.paths[:MAX_NAMED + 1] if p != own][:MAX_NAMED]
    rest = len(group.paths) - 1 - len(named)
    more = f" and {rest:,} more" if rest else ""
    listed = " (all listed under duplicate_groups in --json)" if rest else ""
    return DUPLICATE.finding(
        f"same content as {', '.join(named)}{more} "
        f"(same size, same first and last MiB){listed}")


def with_duplicates(report: AuditReport, groups: Iterable[tuple[str, ...]]) -> AuditReport:
    """The report with one ``duplicate`` warning on every member of every group, and the
    groups themselves (in path order) in ``report.duplicates``. Linear in the members: no
    finding names more than MAX_NAMED other copies. The audit never decides which copy to
    keep."""
    audits = report.by_id()
    extra: dict[str, AuditFinding] = {}
    found: list[DuplicateGroup] = []
    for ids in groups:
        members = sorted((audits[vid] for vid in ids), key=lambda a: a.entry.path)
        current = members[0].refreshed or members[0].entry
        group = DuplicateGroup(ids=tuple(a.entry.id for a in members),
                               paths=tuple(a.entry.path for a in members), size=current.size)
        found.append(group)
        for audit in members:
            extra[audit.entry.id] = _finding(group, audit.entry.path)
    if not extra:
        return report
    entries = tuple(dataclasses.replace(a, findings=(*a.findings, extra[a.entry.id]))
                    if a.entry.id in extra else a for a in report.entries)
    found.sort(key=lambda g: g.first)
    return dataclasses.replace(report, entries=entries,
                               duplicates=(*report.duplicates, *found))


__all__ = [
    "MAX_NAMED",
    "duplicate_candidates",
    "duplicate_groups",
    "with_duplicates",
]
