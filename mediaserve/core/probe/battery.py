"""The ``probe --check`` battery: RFC 9110 range and conditional cases, one table row each.

Each case is declared once, in :data:`CASES`: its id, title, RFC section, how its request is
built from what the plain GET showed (:class:`Ask`), and the judge of its answer. Adding a
check is adding a row (and, for a new kind of answer, a judge function next to the others).
The rows the runner adds around the table (the plain GET, the validators, keep-alive) are
in ``rows.py``.

Ranges avoid byte 0 where they can, so a server that always answers from the start is
caught, and stay small, so the battery costs a few KiB on a 4 GB file.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from mediaserve.core.probe.checks import check_framing, describe, unexpected
from mediaserve.core.probe.content_range import ByteRangeSpec, range_header
from mediaserve.core.probe.exchange import Exchange
from mediaserve.core.probe.judges import (
    judge_full,
    judge_head,
    judge_head_range,
    judge_range_get,
)
from mediaserve.core.probe.partial import judge_partial
from mediaserve.core.probe.verdicts import (
    CaseResult,
    Level,
    ProbeFinding,
    Resource,
    fail,
    info,
    make_result,
    warn,
)

__all__ = [
    "CASES",
    "OLD_DATE",
    "STALE_ETAG",
    "Ask",
    "Case",
    "CaseRequest",
    "failed_case",
    "judge_case",
    "plan_cases",
    "skipped_case",
]

STALE_ETAG = '"mediaserve-probe-stale-etag"'
#: not allowed in a field value (§5.5): an ETag holding one cannot be echoed in If-Range
_CONTROLS = frozenset(map(chr, [*range(0x09), *range(0x0A, 0x20), 0x7F]))
OLD_DATE = "Sun, 06 Nov 1994 08:49:37 GMT"  # before any Last-Modified: "modified since"

Headers = tuple[tuple[str, str], ...]
Specs = tuple[ByteRangeSpec, ...]
Sizer = Callable[[int], Specs | None]
"""The ranges of a case for a representation of this many bytes; None: too small for it."""
Conditions = Callable[[Resource], tuple[Headers, str]]
"""Conditional header fields built from the 200's validators, and a reason to skip or ""."""
CaseJudge = Callable[[Exchange, "CaseRequest", Resource], list[ProbeFinding]]


@dataclass(frozen=True, slots=True)
class Ask:
    """How a case's request is built: method, Range (from the size, or a raw value that is
    deliberately not a valid ``bytes`` set) and conditional fields."""

    method: str = "GET"
    ranges: Sizer | None = None
    raw_range: str | None = None
    conditions: Conditions | None = None


@dataclass(frozen=True, slots=True)
class Case:
    """One row of the battery. ``primary``: the answer decides whether the server supports
    ranges at all (a 200 there FAILs, and later judges know the server ignores Range)."""

    id: str
    title: str
    section: str
    ask: Ask
    judge: CaseJudge
    primary: bool = False

    def plan(self, res: Resource) -> CaseRequest:
        size = res.size or 0
        headers: list[tuple[str, str]] = []
        specs: Specs | None = None
        skip = ""
        if self.ask.raw_range is not None:
            headers.append(("Range", self.ask.raw_range))
        elif self.ask.ranges is not None:
            specs = self.ask.ranges(size)
            if specs is None:
                skip = f"the resource is too small ({size} bytes)"
            else:
                headers.append(("Range", range_header(specs)))
        if self.ask.conditions is not None:
            extra, why = self.ask.conditions(res)
            headers += extra
            skip = why or skip
            if any(_CONTROLS.intersection(value) for _name, value in extra):
                skip = ("the server's validator holds a control character: it cannot be "
                        "sent back in a field (RFC 9110 §5.5)")
        return CaseRequest(self, self.ask.method, tuple(headers), specs, skip)


@dataclass(frozen=True, slots=True)
class CaseRequest:
    """A case's request for one resource. ``specs`` are the ranges the judge compares
    against (None: no Range, or one that is not a valid ``bytes`` set); ``skip`` explains
    why the case cannot run against this resource."""

    case: Case
    method: str
    headers: Headers
    specs: Specs | None = None
    skip: str = ""

    @property
    def id(self) -> str:
        return self.case.id

    @property
    def title(self) -> str:
        return self.case.title

    @property
    def section(self) -> str:
        return self.case.section

    @property
    def primary(self) -> bool:
        return self.case.primary

    def request_text(self) -> str:
        shown = "  ".join(f"{k}: {v}" for k, v in self.headers)
        return f"{self.method} {shown}".strip()


# --- ranges, by representation size ------------------------------------------------------


def _one(first: int | None, last: int | None) -> Specs:
    return (ByteRangeSpec(first, last),)


def _single(size: int) -> Specs | None:
    """1000 bytes from a third in: not byte 0, so an answer from the start is caught."""
    return _one(size // 3, min(size // 3 + 999, size - 2)) if size >= 3 else None


def _open_ended(size: int) -> Specs | None:
    return _one(size - min(65536, max(1, size // 2)), None) if size >= 2 else None


def _suffix(size: int) -> Specs | None:
    return _one(None, min(1000, max(1, size // 2))) if size >= 2 else None


def _end_beyond(size: int) -> Specs | None:
    return _one(max(0, size - 100), size + 99_999) if size >= 1 else None


def _last_byte(size: int) -> Specs | None:
    return _one(size - 1, size - 1) if size >= 1 else None


def _unsatisfiable(size: int) -> Specs:
    return _one(size, size + 999)


def _two(size: int) -> Specs | None:
    half = size // 2
    return (ByteRangeSpec(0, 99), ByteRangeSpec(half, half + 99)) if size >= 1000 else None


# --- conditional fields, from the 200's validators ---------------------------------------


def _current_validator(res: Resource) -> tuple[Headers, str]:
    # §13.1.5: a client MUST NOT send a date when it has an entity tag (weak ones
    # included), nor a weak entity tag
    validator = res.strong_etag or (
        res.header("Last-Modified") if res.header("ETag") is None else None)
    if validator:
        return (("If-Range", validator),), ""
    if res.header("ETag") is not None:
        return (), f"only a weak ETag ({res.header('ETag')}): If-Range can use no validator"
    return (), "no strong ETag and no Last-Modified to send"


def _stale_etag(res: Resource) -> tuple[Headers, str]:
    return (("If-Range", STALE_ETAG),), ""


def _matching_etag(res: Resource) -> tuple[Headers, str]:
    return (("If-None-Match", res.header("ETag") or "*"),), ""


def _matching_etag_old_date(res: Resource) -> tuple[Headers, str]:
    # If-None-Match matches; the date says "modified". §13.1.3: a recipient MUST ignore
    # If-Modified-Since when If-None-Match is present, so the answer is 304.
    return (("If-None-Match", res.header("ETag") or "*"),
            ("If-Modified-Since", OLD_DATE)), ""


# --- judges of the cases -----------------------------------------------------------------


def _specs(case: CaseRequest) -> Specs:
    if case.specs is None:
        raise ValueError(f"case {case.id} has no ranges to judge against")
    return case.specs


def _judge_head(ex: Exchange, case: CaseRequest, res: Resource) -> list[ProbeFinding]:
    return judge_head(ex, res)


def _judge_ranged(ex: Exchange, case: CaseRequest, res: Resource) -> list[ProbeFinding]:
    return judge_range_get(ex, _specs(case), res, primary=case.primary)


def _judge_head_range(ex: Exchange, case: CaseRequest, res: Resource) -> list[ProbeFinding]:
    return judge_head_range(ex, _specs(case), res)


def _judge_invalid(ex: Exchange, case: CaseRequest, res: Resource) -> list[ProbeFinding]:
    if ex.status == 200:
        return [*judge_full(ex, res), info("§14.2", "invalid Range ignored (MAY)")]
    if ex.status in (400, 416):
        return [*check_framing(ex),
                info("§14.2", f"invalid Range rejected with {ex.status} (MAY)")]
    if ex.status == 206:
        return [*check_framing(ex), fail("§14.1.1", "206 for an invalid range set: it must "
                                                    "be ignored (200) or rejected (416)")]
    return unexpected(ex, "200 or 416")


def _judge_unknown_unit(ex: Exchange, case: CaseRequest, res: Resource) -> list[ProbeFinding]:
    if ex.status == 200:
        return judge_full(ex, res)
    if ex.status in (206, 416):
        return [*check_framing(ex), fail("§14.2", f"{ex.status} for an unknown range unit: "
                                                  "an origin server MUST ignore the Range")]
    return unexpected(ex, "200")


def _judge_if_range_current(ex: Exchange, case: CaseRequest,
                            res: Resource) -> list[ProbeFinding]:
    if ex.status == 206:
        return judge_partial(ex, _specs(case), res, if_range=True)
    if ex.status != 200:
        return unexpected(ex, "206")
    out = judge_full(ex, res)
    if res.ranges_supported is False:
        return [*out, info("§13.1.5", "If-Range ignored: no range support (MUST ignore)")]
    used = dict(case.headers).get("If-Range", "")
    note = ("" if used.startswith('"') else
            "; a Last-Modified within a second of Date is weak and cannot match")
    return [*out, warn("§13.1.5", f"If-Range matches, the server SHOULD answer 206, "
                                  f"got 200{note}")]


def _judge_if_range_stale(ex: Exchange, case: CaseRequest, res: Resource) -> list[ProbeFinding]:
    if ex.status == 200:
        return judge_full(ex, res)
    if ex.status == 206:
        return [*check_framing(ex), fail("§13.1.5", "If-Range does not match, yet 206: the "
                                                    "server MUST ignore Range and send 200")]
    return unexpected(ex, "200 (whole representation)")


_IN_304 = ("Content-Location", "Date", "ETag", "Vary", "Cache-Control", "Expires")


def _judge_not_modified(ex: Exchange, res: Resource,
                        on_200: ProbeFinding) -> list[ProbeFinding]:
    """A GET whose conditions say "not modified": 304 with the 200's cache fields."""
    if ex.status == 304:
        missing = [n for n in _IN_304 if res.header(n) is not None and ex.header(n) is None]
        if missing:
            return [fail("§15.4.5", f"304 lacks {', '.join(missing)}, which the 200 carries")]
        return []
    if ex.status == 200:
        return [*judge_full(ex, res), on_200]
    return unexpected(ex, "304")


def _judge_if_none_match(ex: Exchange, case: CaseRequest, res: Resource) -> list[ProbeFinding]:
    sent = dict(case.headers).get("If-None-Match", "*")
    return _judge_not_modified(ex, res, fail(
        "§13.1.2", f"If-None-Match: {sent} matches, so a GET MUST get 304; got 200"))


def _judge_inm_and_ims(ex: Exchange, case: CaseRequest, res: Resource) -> list[ProbeFinding]:
    sent = dict(case.headers).get("If-None-Match", "*")
    return _judge_not_modified(ex, res, fail(
        "§13.2.2", f"If-None-Match: {sent} matches and If-Modified-Since MUST then be "
                   "ignored (§13.1.3), so a GET MUST get 304; got 200 (conditions evaluated "
                   "independently)"))


# --- the table ---------------------------------------------------------------------------

CASES: tuple[Case, ...] = (
    Case("head", "HEAD", "§9.3.2", Ask("HEAD"), _judge_head),
    Case("single-range", "single range", "§15.3.7.1", Ask(ranges=_single), _judge_ranged,
         primary=True),
    Case("open-ended", "open-ended range", "§14.1.2", Ask(ranges=_open_ended), _judge_ranged),
    Case("suffix", "suffix range", "§14.1.2", Ask(ranges=_suffix), _judge_ranged),
    Case("end-beyond", "last-pos beyond the end", "§14.1.2", Ask(ranges=_end_beyond),
         _judge_ranged),
    Case("last-byte", "last byte only", "§14.1.2", Ask(ranges=_last_byte), _judge_ranged),
    Case("unsatisfiable", "unsatisfiable range", "§15.5.17", Ask(ranges=_unsatisfiable),
         _judge_ranged),
    Case("invalid-order", "invalid: last < first", "§14.1.1", Ask(raw_range="bytes=500-100"),
         _judge_invalid),
    Case("invalid-syntax", "invalid: not numbers", "§14.2", Ask(raw_range="bytes=abc-def"),
         _judge_invalid),
    Case("unknown-unit", "unknown range unit", "§14.2", Ask(raw_range="items=0-9"),
         _judge_unknown_unit),
    Case("multi-range", "two ranges", "§15.3.7.2", Ask(ranges=_two), _judge_ranged),
    Case("head-range", "HEAD with Range", "§14.2", Ask("HEAD", ranges=_single),
         _judge_head_range),
    Case("if-range-current", "If-Range, current validator", "§13.1.5",
         Ask(ranges=_single, conditions=_current_validator), _judge_if_range_current),
    Case("if-range-stale", "If-Range, stale ETag", "§13.1.5",
         Ask(ranges=_single, conditions=_stale_etag), _judge_if_range_stale),
    Case("if-none-match", "If-None-Match, current", "§13.1.2",
         Ask(conditions=_matching_etag), _judge_if_none_match),
    Case("inm-and-ims", "If-None-Match + old If-Modified-Since", "§13.2.2",
         Ask(conditions=_matching_etag_old_date), _judge_inm_and_ims),
)


def plan_cases(res: Resource, cases: Sequence[Case] = CASES) -> list[CaseRequest]:
    """The battery after the plain GET, sized to the resource (``res.size`` must be known)."""
    return [case.plan(res) for case in cases]


def judge_case(ex: Exchange, case: CaseRequest, res: Resource) -> CaseResult:
    findings = case.case.judge(ex, case, res)
    return make_result(case.id, case.title, case.request_text(), case.section, describe(ex),
                       findings, ex.status)


def skipped_case(case: CaseRequest) -> CaseResult:
    return CaseResult(case.id, case.title, case.request_text(), Level.SKIP, case.section,
                      case.skip)


def failed_case(case_id: str, title: str, request: str, section: str,
                error: str) -> CaseResult:
    """A case whose request got no response (the server reset or timed out on it)."""
    return CaseResult(case_id, title, request, Level.FAIL, section, f"no response: {error}",
                      (fail(section, f"no response: {error}"),))
