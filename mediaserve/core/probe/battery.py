"""Judge HTTP responses to range and conditional requests by RFC 9110, for any server.

``mediaserve probe`` is pointed at our server, at nginx in front of it, at a CDN or at
somebody else's server, so the verdicts here come from the RFC and not from mediaserve's own
choices: a MUST broken is FAIL, a SHOULD missed is WARN, a MAY taken is PASS with a note.
Sections are RFC 9110's unless written ``RFC 9112 §...``. The one deliberate exception: a
server that ignores Range altogether is allowed by §14.2, but a client cannot seek on it, so
the primary range request (the 1-byte probe, the battery's "single range" case) FAILs.

Everything here is pure: the adapter turns aiohttp responses into
:class:`~mediaserve.core.probe.exchange.Exchange` facts, and the functions below turn facts into
:class:`Finding` lists. The battery (:func:`plan_cases`, :func:`judge_case`) is data plus
judges, so adding a case is adding a row and a function.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum

from mediaserve.core.probe.content_range import (
    ByteRangeSpec,
    ContentRange,
    covers,
    parse_content_range,
    range_header,
)
from mediaserve.core.probe.exchange import Exchange
from mediaserve.core.probe.multipart import (
    MAX_PARTS,
    MultipartError,
    Part,
    boundary_of,
    parse_byteranges,
)

__all__ = [
    "CaseRequest",
    "CaseResult",
    "Finding",
    "Level",
    "ReadBytes",
    "Resource",
    "check_framing",
    "compare_bytes",
    "describe",
    "failed_case",
    "judge_case",
    "judge_full",
    "judge_head",
    "judge_head_range",
    "judge_keepalive",
    "judge_partial",
    "judge_plain_get",
    "judge_range_get",
    "judge_reference_size",
    "judge_unsatisfiable",
    "judge_validators",
    "no_response",
    "plan_cases",
    "plan_keepalive",
    "range_support",
    "size_hint",
    "skipped_case",
    "verdict",
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
class Finding:
    level: Level
    section: str  # "§14.4" (RFC 9110), "RFC 9112 §9.3", or "" when the RFC has no say
    message: str
    quiet: bool = False  # bookkeeping (bytes verified): in JSON, not in the table's summary

    def as_dict(self) -> dict[str, str]:
        return {"level": self.level.value, "section": self.section, "message": self.message}


def verdict(findings: Iterable[Finding]) -> Level:
    """The worst level among ``findings``; notes alone (or nothing) make a PASS."""
    worst = Level.PASS
    for finding in findings:
        if _RANK[finding.level] > _RANK[worst]:
            worst = finding.level
    return Level.PASS if worst is Level.INFO else worst


def _fail(section: str, message: str) -> Finding:
    return Finding(Level.FAIL, section, message)


def _warn(section: str, message: str) -> Finding:
    return Finding(Level.WARN, section, message)


def _info(section: str, message: str) -> Finding:
    return Finding(Level.INFO, section, message)


ReadBytes = Callable[[int, int], bytes | None]
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


# --- single-response checks ---------------------------------------------------------------


def check_framing(ex: Exchange) -> list[Finding]:
    """Content-Length against the bytes that actually arrived (§8.6)."""
    out: list[Finding] = []
    raw = ex.header_values("Content-Length")
    declared = ex.content_length
    if raw and declared is None:
        out.append(_fail("§8.6", f"invalid Content-Length {', '.join(raw)!r}"))
    if ex.method == "HEAD" or ex.end == "none":
        return out
    if ex.end == "truncated":
        of = f" of {declared}" if declared is not None else ""
        out.append(_fail("§8.6", f"content cut off after {ex.received}{of} bytes "
                                 f"({ex.end_detail or 'connection closed'})"))
    elif ex.end == "capped":
        out.append(_info("", f"stopped reading after {ex.received} bytes (--max-body); "
                             "the rest was not checked"))
    elif declared is not None and declared != ex.received:
        out.append(_fail("§8.6", f"Content-Length {declared} but {ex.received} bytes received"))
    return out


def compare_bytes(data: bytes, offset: int, reference: ReadBytes | None,
                  what: str = "content") -> Finding | None:
    """Compare received bytes with the reference; None when there is nothing to compare."""
    if reference is None or not data:
        return None
    expected = reference(offset, len(data))
    if expected is None:
        return None
    if expected == data:
        return Finding(Level.INFO, "", f"{what}: {len(data)} bytes match the reference",
                       quiet=True)
    limit = min(len(expected), len(data))
    index = next((i for i in range(0, limit, 4096) if data[i:i + 4096] != expected[i:i + 4096]),
                 limit)
    while index < limit and data[index] == expected[index]:
        index += 1
    if index >= limit:
        return _fail("", f"{what}: reference ends at byte {offset + len(expected)}, "
                         f"the server sent {len(data) - len(expected)} bytes more")
    return _fail("", f"{what}: byte {offset + index} is 0x{data[index]:02x}, "
                     f"the reference has 0x{expected[index]:02x}")


def judge_reference_size(size: int | None, reference_size: int | None) -> list[Finding]:
    """``--verify FILE``: a server whose representation is not the file's size serves
    something else, whatever its bytes look like."""
    if reference_size is None or size is None or size == reference_size:
        return []
    return [_fail("", f"the server's representation has {size} bytes, the --verify file "
                      f"{reference_size}")]


def size_hint(ex: Exchange) -> int | None:
    """The representation length this response states: a Content-Range complete length
    (206, 416) or the Content-Length of a complete 200."""
    if ex.status in (206, 416):
        value = ex.header("Content-Range")
        if value:
            try:
                return parse_content_range(value).complete
            except ValueError:
                return None
        return None
    if ex.status == 200:
        return ex.content_length
    return None


def range_support(ex: Exchange) -> bool | None:
    """Did this answer to a satisfiable single range show range support? None: can't say."""
    if ex.status == 200:
        return False
    if ex.status == 206:
        value = ex.header("Content-Range")
        try:
            return value is not None and not parse_content_range(value).unsatisfied
        except ValueError:
            return False
    return None


def judge_full(ex: Exchange, res: Resource) -> list[Finding]:
    """A 200 carrying the whole representation."""
    out = check_framing(ex)
    if ex.complete and res.size is not None and ex.received != res.size:
        out.append(_fail("§15.3.1", f"the 200 carried {ex.received} bytes; the representation "
                                    f"has {res.size}"))
    match = compare_bytes(ex.body, 0, res.reference)
    if match:
        out.append(match)
    return out


def _judge_parts(spans: Sequence[tuple[int, int]], specs: Sequence[ByteRangeSpec],
                 size: int | None, multipart: bool) -> list[Finding]:
    """Do the enclosed spans correspond to the ranges asked for (§15.3.7)?"""
    if size is None:
        return [_info("§14.4", "complete length unknown: spans not matched to the request")]
    wanted = [s for s in (spec.resolve(size) for spec in specs) if s is not None]
    if not wanted:
        return [_fail("§15.5.17", f"206 although no requested range is satisfiable at "
                                  f"length {size} (416 expected)")]
    out: list[Finding] = []
    for first, last in spans:
        where = f"{first}-{last}"
        if (first, last) in wanted:
            continue
        if covers(wanted, first, last):
            a, b = next((a, b) for a, b in wanted if a <= first and last <= b)
            if first == a:
                out.append(_info("§15.3.7", f"truthful subset: sent {where} of {a}-{b} "
                                            "(a client asks again for the rest)"))
            else:
                out.append(_warn("§15.3.7", f"sent {where}: inside {a}-{b} but not from its "
                                            "first byte"))
            continue
        starts = any(a <= first <= b for a, b in wanted)
        ends = any(a <= last <= b for a, b in wanted)
        if len(wanted) > 1 and starts and ends:
            gap = _bytes_outside(first, last, wanted)
            if gap == 0:
                out.append(_info("§15.3.7.2", f"coalesced overlapping ranges into {where}"))
            elif gap <= 1024:
                out.append(_info("§15.3.7.2", f"coalesced ranges into {where} across a "
                                              f"{gap}-byte gap (MAY)"))
            else:
                out.append(_warn("§15.3.7.2", f"coalesced ranges into {where}, sending {gap} "
                                              "bytes nobody asked for (MAY only for gaps "
                                              "smaller than the multipart overhead)"))
            continue
        asked = ", ".join(f"{a}-{b}" for a, b in wanted)
        out.append(_fail("§15.3.7", f"sent bytes {where}, which is not what was asked ({asked})"))
    missed = [(a, b) for a, b in wanted if not any(lo <= b and a <= hi for lo, hi in spans)]
    if missed and spans:
        names = ", ".join(f"{a}-{b}" for a, b in missed)
        out.append(_warn("§15.3.7", f"{len(missed)} of {len(wanted)} requested ranges not "
                                    f"answered ({names})"))
    if multipart:
        order = [next((i for i, (a, b) in enumerate(wanted) if lo <= b and a <= hi), -1)
                 for lo, hi in spans]
        if order != sorted(order):
            out.append(_warn("§15.3.7.2", "parts not in the order the ranges were requested"))
    return out


def _bytes_outside(first: int, last: int, spans: Sequence[tuple[int, int]]) -> int:
    """How many bytes of ``first..last`` lie in none of ``spans``."""
    inside = 0
    cursor = first
    for a, b in sorted(spans):
        a, b = max(a, cursor), min(b, last)
        if a <= b:
            inside += b - a + 1
            cursor = b + 1
    return (last - first + 1) - inside


def _judge_content_range_value(value: str, size: int | None, what: str
                               ) -> tuple[ContentRange | None, list[Finding]]:
    try:
        parsed = parse_content_range(value)
    except ValueError as exc:
        return None, [_fail("§14.4", f"{what}: {exc}")]
    out: list[Finding] = []
    if parsed.unsatisfied:
        return None, [_fail("§14.4", f"{what}: unsatisfied-range {value!r} in a 206")]
    if parsed.complete is None:
        out.append(_warn("§14.4", f"{what}: complete length '*' (SHOULD be stated when known)"))
    elif size is not None and parsed.complete != size:
        out.append(_fail("§14.4", f"{what}: complete length {parsed.complete}, but the "
                                  f"representation has {size} bytes"))
    return parsed, out


_ALWAYS_IN_206 = ("Date", "Cache-Control", "ETag", "Expires", "Content-Location", "Vary")
_REPRESENTATION = ("Content-Type", "Content-Encoding", "Content-Language", "Last-Modified")


def _required_206_headers(ex: Exchange, res: Resource, *, if_range: bool,
                          multipart: bool) -> list[Finding]:
    if not res.headers:
        return []
    out: list[Finding] = []
    missing = [n for n in _ALWAYS_IN_206 if res.header(n) is not None and ex.header(n) is None]
    if missing:
        out.append(_fail("§15.3.7", f"206 lacks {', '.join(missing)}, which the 200 carries"))
    if not if_range:
        names = [n for n in _REPRESENTATION if not (multipart and n == "Content-Type")]
        missing = [n for n in names if res.header(n) is not None and ex.header(n) is None]
        if missing:
            out.append(_fail("§15.3.7", f"206 lacks representation field(s) "
                                        f"{', '.join(missing)} that the 200 carries"))
    etag, base = ex.header("ETag"), res.header("ETag")
    if etag and base and etag != base:
        out.append(_warn("§15.3.7", f"ETag {etag} differs from the 200's {base}"))
    return out


def judge_partial(ex: Exchange, specs: Sequence[ByteRangeSpec], res: Resource, *,
                  if_range: bool = False) -> list[Finding]:
    """A 206 to a GET with Range ``specs``: single part or multipart/byteranges."""
    out = check_framing(ex)
    content_type = ex.header("Content-Type")
    multipart = bool(content_type) and content_type.split(";", 1)[0].strip().lower() == (
        "multipart/byteranges")
    if multipart:
        out += _judge_multipart(ex, specs, res, content_type)
    else:
        out += _judge_single_part(ex, specs, res)
    out += _required_206_headers(ex, res, if_range=if_range, multipart=multipart)
    return out


def _judge_single_part(ex: Exchange, specs: Sequence[ByteRangeSpec],
                       res: Resource) -> list[Finding]:
    value = ex.header("Content-Range")
    if value is None:
        return [_fail("§15.3.7.1", "206 without Content-Range")]
    parsed, out = _judge_content_range_value(value, res.size, "Content-Range")
    if parsed is None or parsed.first is None or parsed.last is None:
        return out
    size = res.size if res.size is not None else parsed.complete
    out += _judge_parts([(parsed.first, parsed.last)], specs, size, multipart=False)
    if ex.complete and ex.received != parsed.length:
        out.append(_fail("§14.4", f"Content-Range {parsed.first}-{parsed.last} covers "
                                  f"{parsed.length} bytes; {ex.received} received"))
    match = compare_bytes(ex.body, parsed.first, res.reference)
    if match:
        out.append(match)
    return out


def _judge_multipart(ex: Exchange, specs: Sequence[ByteRangeSpec], res: Resource,
                     content_type: str) -> list[Finding]:
    out: list[Finding] = []
    if len(specs) == 1:
        out.append(_fail("§15.3.7.2", "multipart response to a single range (MUST NOT)"))
    if ex.header("Content-Range") is not None:
        out.append(_fail("§15.3.7.2", "Content-Range in the header section of a multipart "
                                      "response (MUST NOT)"))
    boundary = boundary_of(content_type)
    if boundary is None:
        return [*out, _fail("§15.3.7.2", "multipart/byteranges without a boundary parameter")]
    if not ex.complete:
        return [*out, _info("§14.6", "content incomplete: parts not parsed")]
    try:
        parts = parse_byteranges(ex.body, boundary, max(MAX_PARTS, len(specs)))
    except MultipartError as exc:
        return [*out, _fail("§14.6", f"multipart/byteranges does not parse: {exc}")]
    if not parts:
        return [*out, _fail("§14.6", "multipart/byteranges with no parts")]
    spans: list[tuple[int, int]] = []
    base_type = res.header("Content-Type")
    for number, part in enumerate(parts, 1):
        what = f"part {number}"
        value = part.header("Content-Range")
        if value is None:
            out.append(_fail("§15.3.7.2", f"{what} has no Content-Range"))
            continue
        parsed, found = _judge_content_range_value(value, res.size, f"{what} Content-Range")
        out += found
        if parsed is None or parsed.first is None or parsed.last is None:
            continue
        spans.append((parsed.first, parsed.last))
        if len(part.body) != parsed.length:
            out.append(_fail("§14.6", f"{what}: Content-Range covers {parsed.length} bytes, "
                                      f"the part holds {len(part.body)}"))
        if base_type and part.header("Content-Type") is None:
            out.append(_warn("§15.3.7.2", f"{what} has no Content-Type"))
        match = compare_bytes(part.body, parsed.first, res.reference, what)
        if match:
            out.append(match)
    size = res.size
    if size is None:
        size = next((c for c in (_part_length(p) for p in parts) if c is not None), None)
    out += _judge_parts(spans, specs, size, multipart=True)
    out.append(_info("§14.6", f"{len(parts)} parts: "
                              + ", ".join(f"{a}-{b}" for a, b in spans)))
    return out


def _part_length(part: Part) -> int | None:
    """The complete length a multipart part's Content-Range states."""
    value = part.header("Content-Range")
    try:
        return parse_content_range(value).complete if value else None
    except ValueError:
        return None


def _judge_416(ex: Exchange, res: Resource) -> tuple[int | None, list[Finding]]:
    """Content-Range of a 416 (§15.5.17); returns the length it states."""
    out = check_framing(ex)
    value = ex.header("Content-Range")
    if value is None:
        out.append(_warn("§15.5.17", "416 without Content-Range: bytes */length (SHOULD)"))
        return res.size, out
    try:
        parsed = parse_content_range(value)
    except ValueError as exc:
        return res.size, [*out, _fail("§14.4", str(exc))]
    if not parsed.unsatisfied:
        out.append(_fail("§14.4", f"416 with a satisfied range {value!r} (want bytes */length)"))
    elif res.size is not None and parsed.complete != res.size:
        out.append(_fail("§15.5.17", f"416 says the length is {parsed.complete}; it is "
                                     f"{res.size}"))
    return (res.size if res.size is not None else parsed.complete), out


def _unexpected(ex: Exchange, expected: str) -> list[Finding]:
    return [*check_framing(ex), _fail("", f"status {ex.status}, expected {expected}")]


def judge_range_get(ex: Exchange, specs: Sequence[ByteRangeSpec], res: Resource, *,
                    primary: bool = False) -> list[Finding]:
    """A GET with Range ``specs``, satisfiable or not: the general-purpose judge.

    ``primary`` marks the request that decides whether the server supports ranges at all:
    there a 200 FAILs (a client cannot seek), elsewhere it is the SHOULD of §14.2 (WARN).
    """
    size = res.size if res.size is not None else size_hint(ex)
    res = replace(res, size=size)
    satisfiable = None if size is None else any(spec.resolve(size) for spec in specs)
    if satisfiable is False:
        return judge_unsatisfiable(ex, res)
    if ex.status == 206:
        return judge_partial(ex, specs, res)
    if ex.status == 200:
        out = judge_full(ex, res)
        if len(specs) > 1:
            out.append(_warn("§14.2", "multi-range ignored (200, whole representation); "
                                      "allowed, but a client must then download it all"))
        elif primary:
            out.append(_fail("§14.2", "Range ignored (200, whole representation): no range "
                                      "support, so a client cannot seek"))
        elif res.ranges_supported is False:
            out.append(_warn("§14.2", "Range ignored (200): the server supports no ranges"))
        else:
            out.append(_warn("§14.2", "Range ignored (200): a server that supports ranges "
                                      "SHOULD answer 206"))
        return out
    if ex.status == 416:
        stated, out = _judge_416(ex, res)
        if stated is not None and any(spec.resolve(stated) for spec in specs):
            out.append(_fail("§15.5.17", f"416 for a range satisfiable at length {stated}"))
        return out
    return _unexpected(ex, "206")


def judge_unsatisfiable(ex: Exchange, res: Resource) -> list[Finding]:
    """A GET whose Range selects no byte: 416 with ``bytes */length`` (§14.2, §15.5.17)."""
    if ex.status == 416:
        return _judge_416(ex, res)[1]
    if ex.status == 200:
        out = judge_full(ex, res)
        if res.ranges_supported is False:
            out.append(_info("§14.2", "Range ignored (the server supports no ranges)"))
        else:
            out.append(_warn("§14.2", "unsatisfiable Range answered 200; SHOULD be 416"))
        return out
    if ex.status == 206:
        return [*check_framing(ex), _fail("§15.5.17", "206 for a range that selects no byte "
                                                      "(416 expected)")]
    return _unexpected(ex, "416")


def judge_head(ex: Exchange, res: Resource) -> list[Finding]:
    """HEAD: a 200 with the header fields a GET would have had (§9.3.2)."""
    if not 200 <= ex.status < 300:
        return _unexpected(ex, "200 (a general-purpose server MUST support HEAD, §9.1)")
    out = check_framing(ex)
    declared = ex.content_length
    if res.size is not None and declared is None:
        out.append(_warn("§9.3.2", "HEAD without Content-Length (SHOULD send GET's fields)"))
    elif res.size is not None and declared != res.size:
        out.append(_warn("§9.3.2", f"HEAD says Content-Length {declared}, GET sent {res.size}"))
    differing = [n for n in ("Content-Type", "ETag", "Last-Modified", "Accept-Ranges")
                 if res.headers and res.header(n) is not None and ex.header(n) != res.header(n)]
    if differing:
        out.append(_warn("§9.3.2", f"HEAD differs from GET in {', '.join(differing)}"))
    return out


# --- the battery -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CaseRequest:
    """One request of the ``--check`` battery. ``specs`` are the ranges the judge compares
    against (None: the Range is deliberately not a valid ``bytes`` set). ``skip`` explains
    why the case cannot run against this resource."""

    id: str
    title: str
    method: str
    headers: tuple[tuple[str, str], ...]
    section: str
    specs: tuple[ByteRangeSpec, ...] | None = None
    skip: str = ""

    def request_text(self) -> str:
        shown = "  ".join(f"{k}: {v}" for k, v in self.headers)
        return f"{self.method} {shown}".strip()


@dataclass(frozen=True, slots=True)
class CaseResult:
    id: str
    title: str
    request: str
    level: Level
    section: str
    did: str  # what the server did, in a few words
    findings: tuple[Finding, ...] = ()
    status: int | None = None

    def as_dict(self) -> dict[str, object]:
        return {"id": self.id, "title": self.title, "request": self.request,
                "verdict": self.level.value, "section": self.section, "did": self.did,
                "status": self.status, "findings": [f.as_dict() for f in self.findings]}


STALE_ETAG = '"mediaserve-probe-stale-etag"'
OLD_DATE = "Sun, 06 Nov 1994 08:49:37 GMT"  # before any Last-Modified: "modified since"


def _rng(first: int | None, last: int | None) -> tuple[ByteRangeSpec, ...]:
    return (ByteRangeSpec(first, last),)


def plan_cases(res: Resource) -> list[CaseRequest]:
    """The battery after the plain GET, sized to the resource (``res.size`` must be known).

    Ranges avoid byte 0 where they can, so a server that always answers from the start is
    caught, and stay small, so the battery costs a few KiB on a 4 GB file.
    """
    size = res.size or 0
    single = _rng(size // 3, min(size // 3 + 999, size - 2)) if size >= 3 else None
    open_start = size - min(65536, max(1, size // 2))
    half = size // 2
    multi = (ByteRangeSpec(0, 99), ByteRangeSpec(half, half + 99)) if size >= 1000 else None
    cases: list[tuple[str, str, str, str, tuple[ByteRangeSpec, ...] | None, str | None]] = [
        ("head", "HEAD", "HEAD", "§9.3.2", None, None),
        ("single-range", "single range", "GET", "§15.3.7.1", single, None),
        ("open-ended", "open-ended range", "GET", "§14.1.2",
         _rng(open_start, None) if size >= 2 else None, None),
        ("suffix", "suffix range", "GET", "§14.1.2",
         _rng(None, min(1000, max(1, size // 2))) if size >= 2 else None, None),
        ("end-beyond", "last-pos beyond the end", "GET", "§14.1.2",
         _rng(max(0, size - 100), size + 99_999) if size >= 1 else None, None),
        ("last-byte", "last byte only", "GET", "§14.1.2",
         _rng(size - 1, size - 1) if size >= 1 else None, None),
        ("unsatisfiable", "unsatisfiable range", "GET", "§15.5.17",
         _rng(size, size + 999), None),
        ("invalid-order", "invalid: last < first", "GET", "§14.1.1", None, "bytes=500-100"),
        ("invalid-syntax", "invalid: not numbers", "GET", "§14.2", None, "bytes=abc-def"),
        ("unknown-unit", "unknown range unit", "GET", "§14.2", None, "items=0-9"),
        ("multi-range", "two ranges", "GET", "§15.3.7.2", multi, None),
        ("head-range", "HEAD with Range", "HEAD", "§14.2", single, None),
        ("if-range-current", "If-Range, current validator", "GET", "§13.1.5", single, None),
        ("if-range-stale", "If-Range, stale ETag", "GET", "§13.1.5", single, None),
        ("if-none-match", "If-None-Match, current", "GET", "§13.1.2", None, None),
        ("inm-and-ims", "If-None-Match + old If-Modified-Since", "GET", "§13.2.2", None,
         None),
    ]
    planned = []
    for case_id, title, method, section, specs, raw_range in cases:
        headers: list[tuple[str, str]] = []
        skip = ""
        if raw_range is not None:
            headers.append(("Range", raw_range))
        elif specs is not None:
            headers.append(("Range", range_header(specs)))
        elif case_id not in ("head", "if-none-match", "inm-and-ims"):
            skip = f"the resource is too small ({size} bytes)"
        if case_id == "if-range-current":
            # §13.1.5: a client MUST NOT send a date when it has an entity tag (weak ones
            # included), nor a weak entity tag
            validator = res.strong_etag or (
                res.header("Last-Modified") if res.header("ETag") is None else None)
            if validator:
                headers.append(("If-Range", validator))
            elif res.header("ETag") is not None:
                skip = f"only a weak ETag ({res.header('ETag')}): If-Range can use no validator"
            else:
                skip = "no strong ETag and no Last-Modified to send"
        elif case_id == "if-range-stale":
            headers.append(("If-Range", STALE_ETAG))
        elif case_id == "if-none-match":
            headers.append(("If-None-Match", res.header("ETag") or "*"))
        elif case_id == "inm-and-ims":
            # If-None-Match matches; the date says "modified". §13.1.3: a recipient MUST
            # ignore If-Modified-Since when If-None-Match is present, so the answer is 304.
            headers.append(("If-None-Match", res.header("ETag") or "*"))
            headers.append(("If-Modified-Since", OLD_DATE))
        planned.append(CaseRequest(case_id, title, method, tuple(headers), section, specs,
                                   skip))
    return planned


def plan_keepalive(size: int) -> tuple[ByteRangeSpec, ...]:
    """Three small ranges at different places: what a player does after a few seeks."""
    length = max(1, min(4096, size // 10))
    return tuple(ByteRangeSpec(p, p + length - 1) for p in (size // 5, size // 2, 4 * size // 5))


def _judge_if_range_current(ex: Exchange, case: CaseRequest, res: Resource) -> list[Finding]:
    assert case.specs is not None
    if ex.status == 206:
        return judge_partial(ex, case.specs, res, if_range=True)
    if ex.status == 200:
        out = judge_full(ex, res)
        if res.ranges_supported is False:
            out.append(_info("§13.1.5", "If-Range ignored: no range support (MUST ignore)"))
            return out
        used = dict(case.headers).get("If-Range", "")
        note = ("" if used.startswith('"') else
                "; a Last-Modified within a second of Date is weak and cannot match")
        out.append(_warn("§13.1.5", f"If-Range matches, the server SHOULD answer 206, "
                                    f"got 200{note}"))
        return out
    return _unexpected(ex, "206")


def _judge_if_range_stale(ex: Exchange, case: CaseRequest, res: Resource) -> list[Finding]:
    if ex.status == 200:
        return judge_full(ex, res)
    if ex.status == 206:
        return [*check_framing(ex), _fail("§13.1.5", "If-Range does not match, yet 206: the "
                                                     "server MUST ignore Range and send 200")]
    return _unexpected(ex, "200 (whole representation)")


_IN_304 = ("Content-Location", "Date", "ETag", "Vary", "Cache-Control", "Expires")


def _judge_if_none_match(ex: Exchange, case: CaseRequest, res: Resource) -> list[Finding]:
    sent = dict(case.headers).get("If-None-Match", "*")
    if ex.status == 304:
        missing = [n for n in _IN_304 if res.header(n) is not None and ex.header(n) is None]
        if missing:
            return [_fail("§15.4.5", f"304 lacks {', '.join(missing)}, which the 200 carries")]
        return []
    if ex.status == 200:
        if case.id == "inm-and-ims":
            return [*judge_full(ex, res),
                    _fail("§13.2.2", f"If-None-Match: {sent} matches and If-Modified-Since "
                                     "MUST then be ignored (§13.1.3), so a GET MUST get "
                                     "304; got 200 (conditions evaluated independently)")]
        return [*judge_full(ex, res),
                _fail("§13.1.2", f"If-None-Match: {sent} matches, so a GET MUST get 304; "
                                 "got 200")]
    return _unexpected(ex, "304")


def _judge_invalid(ex: Exchange, case: CaseRequest, res: Resource) -> list[Finding]:
    if ex.status == 200:
        return [*judge_full(ex, res), _info("§14.2", "invalid Range ignored (MAY)")]
    if ex.status == 416:
        return [*check_framing(ex), _info("§14.2", "invalid Range rejected with 416 (MAY)")]
    if ex.status == 400:
        return [*check_framing(ex), _info("§14.2", "invalid Range rejected with 400 (MAY)")]
    if ex.status == 206:
        return [*check_framing(ex), _fail("§14.1.1", "206 for an invalid range set: it must "
                                                     "be ignored (200) or rejected (416)")]
    return _unexpected(ex, "200 or 416")


def _judge_unknown_unit(ex: Exchange, case: CaseRequest, res: Resource) -> list[Finding]:
    if ex.status == 200:
        return judge_full(ex, res)
    if ex.status in (206, 416):
        return [*check_framing(ex), _fail("§14.2", f"{ex.status} for an unknown range unit: "
                                                   "an origin server MUST ignore the Range")]
    return _unexpected(ex, "200")


def judge_head_range(ex: Exchange, specs: Sequence[ByteRangeSpec],
                     res: Resource) -> list[Finding]:
    """HEAD with Range: §14.2 defines Range for GET only, so it MUST be ignored (200). A
    206 whose headers describe the range correctly is a WARN at most; a wrong one FAILs."""
    if ex.status == 200:
        return judge_head(ex, res)
    if ex.status == 206:
        value = ex.header("Content-Range")
        if value is None:
            return [_fail("§15.3.7.1", "206 without Content-Range")]
        parsed, out = _judge_content_range_value(value, res.size, "Content-Range")
        if parsed is not None and parsed.first is not None and parsed.last is not None:
            size = res.size if res.size is not None else parsed.complete
            out += _judge_parts([(parsed.first, parsed.last)], specs, size, False)
        if verdict(out) is Level.FAIL:
            return out
        return [*out, _warn("§14.2", "206 to HEAD: Range is defined only for GET, so a server "
                                     "MUST ignore it (headers are consistent, though)")]
    return _unexpected(ex, "200 (Range ignored for HEAD)")


def _judge_head_range(ex: Exchange, case: CaseRequest, res: Resource) -> list[Finding]:
    assert case.specs is not None
    return judge_head_range(ex, case.specs, res)


def _judge_head_case(ex: Exchange, case: CaseRequest, res: Resource) -> list[Finding]:
    return judge_head(ex, res)


def _judge_ranged(ex: Exchange, case: CaseRequest, res: Resource) -> list[Finding]:
    assert case.specs is not None
    return judge_range_get(ex, case.specs, res, primary=case.id == "single-range")


_JUDGES: dict[str, Callable[[Exchange, CaseRequest, Resource], list[Finding]]] = {
    "head": _judge_head_case,
    "single-range": _judge_ranged,
    "open-ended": _judge_ranged,
    "suffix": _judge_ranged,
    "end-beyond": _judge_ranged,
    "last-byte": _judge_ranged,
    "unsatisfiable": _judge_ranged,
    "invalid-order": _judge_invalid,
    "invalid-syntax": _judge_invalid,
    "unknown-unit": _judge_unknown_unit,
    "multi-range": _judge_ranged,
    "head-range": _judge_head_range,
    "if-range-current": _judge_if_range_current,
    "if-range-stale": _judge_if_range_stale,
    "if-none-match": _judge_if_none_match,
    "inm-and-ims": _judge_if_none_match,
}


def describe(ex: Exchange) -> str:
    """What the server did, in a few words: status, Content-Range, bytes, time."""
    bits = [str(ex.status)]
    content_range = ex.header("Content-Range")
    if content_range:
        bits.append(content_range)
    elif boundary_of(ex.header("Content-Type")) is not None:
        bits.append("multipart/byteranges")
    if ex.method != "HEAD" and ex.end != "none":
        bits.append(f"{ex.received} B")
    bits.append(f"{ex.total * 1000:.1f} ms")
    return ", ".join(bits)


def _result(case_id: str, title: str, request: str, section: str, did: str,
            findings: Sequence[Finding], status: int | None) -> CaseResult:
    level = verdict(findings)
    shown = [f for f in findings if f.level is level and not f.quiet] if level in (
        Level.WARN, Level.FAIL) else [f for f in findings if f.level is Level.INFO and not f.quiet]
    sections = [f.section for f in shown if f.section]
    lead = section if section in sections or not sections else sections[0]
    detail = "; ".join([did, *(f.message for f in shown)])
    return CaseResult(case_id, title, request, level, lead, detail, tuple(findings), status)


def judge_plain_get(ex: Exchange, res: Resource) -> CaseResult:
    """The baseline GET: 200 with the whole representation."""
    if ex.status == 200:
        findings = judge_full(ex, res)
        if ex.header("Content-Type") is None:
            findings.append(_warn("§8.3", "no Content-Type (SHOULD)"))
    else:
        findings = _unexpected(ex, "200")
    return _result("plain-get", "plain GET", "GET", "§15.3.1", describe(ex), findings,
                   ex.status)


def judge_validators(res: Resource) -> CaseResult:
    """A row without a request: the 200's validators, which If-Range and caches rely on."""
    etag, modified = res.header("ETag"), res.header("Last-Modified")
    findings: list[Finding] = []
    if etag is None:
        findings.append(_warn("§8.8.3", "no ETag (SHOULD when changes can be detected); "
                                        "If-Range can then only use a date"))
    elif not etag.startswith('"'):
        findings.append(_info("§13.1.5", f"weak ETag {etag}: If-Range cannot use it"))
    if modified is None:
        findings.append(_warn("§8.8.2", "no Last-Modified (SHOULD when a date is known)"))
    did = f"ETag {etag or '—'}, Last-Modified {modified or '—'}"
    return _result("validators", "validators", "(from the plain GET)", "§15.3.1", did,
                   findings, None)


def judge_case(ex: Exchange, case: CaseRequest, res: Resource) -> CaseResult:
    findings = _JUDGES[case.id](ex, case, res)
    return _result(case.id, case.title, case.request_text(), case.section, describe(ex),
                   findings, ex.status)


def skipped_case(case: CaseRequest) -> CaseResult:
    return CaseResult(case.id, case.title, case.request_text(), Level.SKIP, case.section,
                      case.skip)


def failed_case(case_id: str, title: str, request: str, section: str,
                error: str) -> CaseResult:
    """A case whose request got no response (the server reset or timed out on it)."""
    return CaseResult(case_id, title, request, Level.FAIL, section, f"no response: {error}",
                      (_fail(section, f"no response: {error}"),))


def no_response(request: str, error: str) -> Finding:
    """A request the server left unanswered (reset, closed, timed out) although it answered
    an earlier one: the server's behaviour, so a FAIL, not a network error."""
    return _fail("", f"{request}: no response: {error}")


def judge_keepalive(exchanges: Sequence[Exchange], specs: Sequence[ByteRangeSpec],
                    connections: int, res: Resource) -> CaseResult:
    """Several ranges, one after the other, over a pool of one connection (RFC 9112 §9.3)."""
    by_finding: dict[Finding, list[int]] = {}
    for number, (ex, spec) in enumerate(zip(exchanges, specs, strict=True), 1):
        for finding in judge_range_get(ex, (spec,), res):
            by_finding.setdefault(finding, []).append(number)
    findings = [replace(f, message=f"request {'+'.join(map(str, numbers))}: {f.message}")
                for f, numbers in by_finding.items()]
    closing = any((ex.header("Connection") or "").lower() == "close" for ex in exchanges)
    count = len(exchanges)
    if connections <= 1:
        findings.append(_info("RFC 9112 §9.3", f"{count} requests over 1 connection"))
    else:
        why = " (the server sent Connection: close)" if closing else ""
        findings.append(_warn("RFC 9112 §9.3", f"{count} requests needed {connections} "
                                               f"connections{why}: every seek pays a new "
                                               "connection"))
    statuses = "/".join(str(ex.status) for ex in exchanges)
    request = "GET ×3  " + "  ".join(range_header((s,)) for s in specs)
    return _result("keep-alive", "keep-alive, 3 ranges", request, "RFC 9112 §9.3",
                   f"{statuses}, {connections} connection(s)", findings, None)
