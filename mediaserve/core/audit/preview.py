"""What ``audit`` would say about an index, from the recorded facts alone (no I/O).

``scan`` prints these counts after its summary so the two commands agree: a scan that says
"2 failed" while the audit finds 4 invalid entries confuses people. The audit may find more
(it stats every file again, hashes duplicates, and ``--deep`` demuxes); never fewer.
"""

from __future__ import annotations

from dataclasses import dataclass

from mediaserve.core.audit.rules import DEFAULT_OPTIONS, AuditOptions, findings_from_facts
from mediaserve.core.library.index import LibraryIndex


@dataclass(frozen=True, slots=True)
class AuditPreview:
    invalid: int  # entries with at least one error: the audit's fix would prune them
    warned: int  # entries with warnings only

    def as_dict(self) -> dict[str, int]:
        return {"invalid": self.invalid, "with_warnings": self.warned}


def preview(index: LibraryIndex, options: AuditOptions = DEFAULT_OPTIONS) -> AuditPreview:
    invalid = warned = 0
    for entry in index.videos.values():
        severities = {f.severity.value for f in findings_from_facts(entry, options)}
        if "error" in severities:
            invalid += 1
        elif severities:
            warned += 1
    return AuditPreview(invalid, warned)
