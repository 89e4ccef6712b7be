"""Judge one answer to a GET or HEAD, with or without Range, by RFC 9110.

These are the judges the plain probe calls for each request and the battery's rows are
built from. The one deliberate strictness beyond the RFC: a server that ignores Range
altogether is allowed by §14.2, but a client cannot seek on it, so the *primary* range
request (the 1-byte probe, the battery's "single range" case) FAILs on a 200.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from mediaserve.core.probe.bytecheck import content_match
from mediaserve.core.probe.checks import (
    check_framing,
    judge_content_range_value,
    size_hint,
    unexpected,
)
from mediaserve.core.probe.content_range import ByteRangeSpec, parse_content_range
from mediaserve.core.probe.exchange import Exchange
from mediaserve.core.probe.partial import judge_partial, judge_spans
from mediaserve.core.probe.verdicts import (
    Level,
    ProbeFinding,
    Resource,
    fail,
    info,
    verdict,
    warn,
)

__all__ = [
    "judge_416",
    "judge_full",
    "judge_head",
    "judge_head_range",
    "judge_range_get",
    "judge_unsatisfiable",
]


def judge_full(ex: Exchange, res: Resource) -> list[ProbeFinding]:
    """A 200 carrying the whole representation."""
    out = check_framing(ex)
    if ex.complete and res.size is not None and ex.received != res.size:
        out.append(fail("§15.3.1", f"the 200 carried {ex.received} bytes; the representation "
                                   f"has {res.size}"))
    match = content_match(ex, 0, res.reference)
    if match:
        out.append(match)
    return out


def judge_416(ex: Exchange, res: Resource) -> tuple[int | None, list[ProbeFinding]]:
    """Content-Range of a 416 (§15.5.17); returns the length it states."""
    out = check_framing(ex)
    value = ex.header("Content-Range")
    if value is None:
        out.append(warn("§15.5.17", "416 without Content-Range: bytes */length (SHOULD)"))
        return res.size, out
    try:
        parsed = parse_content_range(value)
    except ValueError as exc:
        return res.size, [*out, fail("§14.4", str(exc))]
    if not parsed.unsatisfied:
        out.append(fail("§14.4", f"416 with a satisfied range {value!r} (want bytes */length)"))
    elif res.size is not None and parsed.complete != res.size:
        out.append(fail("§15.5.17", f"416 says the length is {parsed.complete}; it is "
                                    f"{res.size}"))
    return (res.size if res.size is not None else parsed.complete), out


def judge_range_get(ex: Exchange, specs: Sequence[ByteRangeSpec], res: Resource, *,
                    primary: bool = False) -> list[ProbeFinding]:
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
        return [*judge_full(ex, res), _range_ignored(len(specs), primary, res)]
    if ex.status == 416:
        stated, out = judge_416(ex, res)
        if stated is not None and any(spec.resolve(stated) for spec in specs):
            out.append(fail("§15.5.17", f"416 for a range satisfiable at length {stated}"))
        return out
    return unexpected(ex, "206")


def _range_ignored(ranges: int, primary: bool, res: Resource) -> ProbeFinding:
    """A satisfiable Range answered with the whole representation."""
    if ranges > 1:
        return warn("§14.2", "multi-range ignored (200, whole representation); allowed, but "
                             "a client must then download it all")
    if primary:
        return fail("§14.2", "Range ignored (200, whole representation): no range support, "
                             "so a client cannot seek")
    if res.ranges_supported is False:
        return warn("§14.2", "Range ignored (200): the server supports no ranges")
    return warn("§14.2", "Range ignored (200): a server that supports ranges SHOULD answer 206")


def judge_unsatisfiable(ex: Exchange, res: Resource) -> list[ProbeFinding]:
    """A GET whose Range selects no byte: 416 with ``bytes */length`` (§14.2, §15.5.17)."""
    if ex.status == 416:
        return judge_416(ex, res)[1]
    if ex.status == 200:
        out = judge_full(ex, res)
        if res.ranges_supported is False:
            out.append(info("§14.2", "Range ignored (the server supports no ranges)"))
        else:
            out.append(warn("§14.2", "unsatisfiable Range answered 200; SHOULD be 416"))
        return out
    if ex.status == 206:
        return [*check_framing(ex), fail("§15.5.17", "206 for a range that selects no byte "
                                                     "(416 expected)")]
    return unexpected(ex, "416")


def judge_head(ex: Exchange, res: Resource) -> list[ProbeFinding]:
    """HEAD: a 200 with the header fields a GET would have had (§9.3.2)."""
    if not 200 <= ex.status < 300:
        return unexpected(ex, "200 (a general-purpose server MUST support HEAD, §9.1)")
    out = check_framing(ex)
    declared = ex.content_length
    if res.size is not None and declared is None:
        out.append(warn("§9.3.2", "HEAD without Content-Length (SHOULD send GET's fields)"))
    elif res.size is not None and declared != res.size:
        out.append(warn("§9.3.2", f"HEAD says Content-Length {declared}, GET sent {res.size}"))
    differing = [n for n in ("Content-Type", "ETag", "Last-Modified", "Accept-Ranges")
                 if res.headers and res.header(n) is not None and ex.header(n) != res.header(n)]
    if differing:
        out.append(warn("§9.3.2", f"HEAD differs from GET in {', '.join(differing)}"))
    return out


def judge_head_range(ex: Exchange, specs: Sequence[ByteRangeSpec],
                     res: Resource) -> list[ProbeFinding]:
    """HEAD with Range: §14.2 defines Range for GET only, so it MUST be ignored (200). A
    206 whose headers describe the range correctly is a WARN at most; a wrong one FAILs."""
    if ex.status == 200:
        return judge_head(ex, res)
    if ex.status == 206:
        value = ex.header("Content-Range")
        if value is None:
            return [fail("§15.3.7.1", "206 without Content-Range")]
        parsed, out = judge_content_range_value(value, res.size, "Content-Range")
        if parsed is not None and parsed.first is not None and parsed.last is not None:
            size = res.size if res.size is not None else parsed.complete
            out += judge_spans([(parsed.first, parsed.last)], specs, size, False)
        if verdict(out) is Level.FAIL:
            return out
        return [*out, warn("§14.2", "206 to HEAD: Range is defined only for GET, so a server "
                                    "MUST ignore it (headers are consistent, though)")]
    return unexpected(ex, "200 (Range ignored for HEAD)")
