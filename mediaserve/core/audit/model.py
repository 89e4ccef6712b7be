"""The audit's vocabulary: what a finding is, how bad it can be, and the evidence rules see.

Pure data, shared by the rule table (:mod:`.rules`), the report (:mod:`.report`) and the
adapters that gather the evidence (a fresh stat, a deep demux) in
``mediaserve.adapters.audit``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Severity(StrEnum):
    """How bad a finding is. Errors are pruned from the index by a fix; warnings are advice."""

    ERROR = "error"
    WARNING = "warning"

    @property
    def rank(self) -> int:
        return 2 if self is Severity.ERROR else 1


class FailOn(StrEnum):
    """The lowest severity that makes ``mediaserve audit`` exit 1."""

    ERROR = "error"
    WARNING = "warning"
    NEVER = "never"


@dataclass(frozen=True, slots=True)
class AuditFinding:
    """One problem with one entry: a stable ``code`` for scripts, a sentence for people.

    (Named apart from the probe's findings about HTTP answers: the two never meet.)"""

    code: str
    severity: Severity
    message: str
    fix: str

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "severity": str(self.severity), "message": self.message,
                "fix": self.fix}


@dataclass(frozen=True, slots=True)
class FreshStat:
    """A stat taken by the audit now (the index holds the one taken at scan time)."""

    exists: bool
    size: int = 0
    mtime_ns: int = 0
    readable: bool = True
    regular: bool = True  # a regular file (after following symlinks)


@dataclass(frozen=True, slots=True)
class DeepFacts:
    """What re-demuxing the whole file (packets only, no decoding) showed."""

    opened: bool = True
    has_video: bool = True
    video_packets: int = 0  # non-empty packets of the first real video stream
    end_time: float | None = None  # seconds from the start: where the last packet ends
    duration: float | None = None  # seconds, as the container declares it
    error: str | None = None  # why it would not open (opened=False) or stopped part-way
    timed_out: bool = False  # hit the time or packet budget: everything else is partial
    elapsed: float = 0.0  # seconds spent, for throughput reports


@dataclass(frozen=True, slots=True)
class AuditOptions:
    """Thresholds. The truncation slack is generous because audio priming and the last
    frame's duration make packet end times differ from the declared duration by a frame or
    two; a cut-short copy misses far more than that."""

    min_frames: int = 10
    truncation_slack_s: float = 0.5
    truncation_slack_ratio: float = 0.05


DEFAULT_OPTIONS = AuditOptions()

__all__ = [
    "DEFAULT_OPTIONS",
    "AuditFinding",
    "AuditOptions",
    "DeepFacts",
    "FailOn",
    "FreshStat",
    "Severity",
]
