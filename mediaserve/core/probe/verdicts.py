"""The vocabulary every probe judge speaks: levels, findings, the resource being judged, and
one row of a report.

``mediaserve probe`` is pointed at our server, at nginx in front of it, at a CDN or at
somebody else's server, so the verdicts come from RFC 9110 and not from mediaserve's own
choices: a MUST broken is FAIL, a SHOULD missed is WARN, a MAY taken is PASS with a note.
Sections are RFC 9110's unless written ``RFC 9112 §...``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

__all__ = [
    "CaseResult",
    "Level",
    "ProbeFinding",
    "ReadBytes",
    "Resource",
    "fail",
    "info",
    "make_result",
    "verdict",
    "warn",
]


class Level(StrEnum):
    """Severity of a finding. INFO is a note on a passing answer (a MAY taken, a byte count);
    SKIP is a case that could not be run against this resource."""

    PASS = "PASS"
    INFO = "INFO"
    WARN = "WARN"
    FAIL = "FAIL"
    SKIP = "SKIP"


_RANK = {Level.SKIP: 0, Level.PASS: 1, Level.INFO: 1, Level.WARN: 2, Level.FAIL: 3}


@dataclass(frozen=True, slots=True)
class ProbeFinding:
    """One thing a judge noticed about one answer (hashable: the keep-alive row merges
    identical findings of several requests)."""

    level: Level
    section: str  # "§14.4" (RFC 9110), "RFC 9112 §9.3", or "" when the RFC has no say
    message: str
    quiet: bool = False  # bookkeeping (bytes verified): in JSON, not in the table's summary

    def as_dict(self) -> dict[str, str]:
        return {"level": self.level.value, "section": self.section, "message": self.message}


def verdict(findings: Iterable[ProbeFinding]) -> Level:
    """The worst level among ``findings``; notes alone (or nothing) make a PASS."""
    worst = Level.PASS
    for finding in findings:
        if _RANK[finding.level] > _RANK[worst]:
            worst = finding.level
    return Level.PASS if worst is Level.INFO else worst


def fail(section: str, message: str) -> ProbeFinding:
    return ProbeFinding(Level.FAIL, section, message)


def warn(section: str, message: str) -> ProbeFinding:
    return ProbeFinding(Level.WARN, section, message)


def info(section: str, message: str) -> ProbeFinding:
    return ProbeFinding(Level.INFO, section, message)


ReadBytes = Callable[[int, int], bytes | bytearray | memoryview | None]
"""``(offset, length) -> the expected bytes`` (shorter at the end), or None when unknown."""


@dataclass(frozen=True, slots=True)
class Resource:
    """What is known about the target before judging a response: its length, the header
    section of a 200 GET (the yardstick for 206/304/HEAD headers), a source of the true
    bytes, and whether the server was seen to support ranges at all."""

    size: int | None = None
    headers: tuple[tuple[str, str], ...] = ()
    reference: ReadBytes | None = None
    ranges_supported: bool | None = None

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        return next((v for k, v in self.headers if k.lower() == wanted), None)

    @property
    def strong_etag(self) -> str | None:
        etag = self.header("ETag")
        return etag if etag and etag.startswith('"') else None


@dataclass(frozen=True, slots=True)
class CaseResult:
    """One row of a ``--check`` report."""

    id: str
    title: str
    request: str
    level: Level
    section: str
    did: str  # what the server did, in a few words
    findings: tuple[ProbeFinding, ...] = ()
    status: int | None = None

    def as_dict(self) -> dict[str, object]:
        return {"id": self.id, "title": self.title, "request": self.request,
                "verdict": self.level.value, "section": self.section, "did": self.did,
                "status": self.status, "findings": [f.as_dict() for f in self.findings]}


def make_result(case_id: str, title: str, request: str, section: str, did: str,
                findings: Sequence[ProbeFinding], status: int | None) -> CaseResult:
    """A row whose level is the findings' verdict and whose text leads with the findings
    that decided it (the WARNs/FAILs, or the notes on a PASS)."""
    level = verdict(findings)
    shown = [f for f in findings if f.level is level and not f.quiet] if level in (
        Level.WARN, Level.FAIL) else [f for f in findings if f.level is Level.INFO and not f.quiet]
    sections = [f.section for f in shown if f.section]
    lead = section if section in sections or not sections else sections[0]
    detail = "; ".join([did, *(f.message for f in shown)])
    return CaseResult(case_id, title, request, level, lead, detail, tuple(findings), status)
