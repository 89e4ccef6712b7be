"""Judge a 206 (Partial Content): single part or multipart/byteranges, RFC 9110 §14.4,
§14.6 and §15.3.7.

The hardest answers to get right, and where servers differ most: which spans were sent
against which were asked (subsets, coalescing, order), each Content-Range, the header
fields a 206 must repeat from the 200, and the bytes of every part.
"""

from __future__ import annotations

from collections.abc import Sequence

from mediaserve.core.probe.bytecheck import compare_bytes, content_match
from mediaserve.core.probe.checks import check_framing, judge_content_range_value
from mediaserve.core.probe.content_range import ByteRangeSpec, covers, parse_content_range
from mediaserve.core.probe.exchange import Exchange
from mediaserve.core.probe.multipart import (
    MAX_PARTS,
    MultipartError,
    ParsedPart,
    boundary_of,
    parse_byteranges,
)
from mediaserve.core.probe.verdicts import ProbeFinding, Resource, fail, info, warn

__all__ = ["judge_partial", "judge_spans"]

_ALWAYS_IN_206 = ("Date", "Cache-Control", "ETag", "Expires", "Content-Location", "Vary")
_REPRESENTATION = ("Content-Type", "Content-Encoding", "Content-Language", "Last-Modified")


def judge_partial(ex: Exchange, specs: Sequence[ByteRangeSpec], res: Resource, *,
                  if_range: bool = False) -> list[ProbeFinding]:
    """A 206 to a GET with Range ``specs``: single part or multipart/byteranges."""
    out = check_framing(ex)
    content_type = ex.header("Content-Type") or ""
    multipart = content_type.split(";", 1)[0].strip().lower() == "multipart/byteranges"
    if multipart:
        out += _judge_multipart(ex, specs, res, content_type)
    else:
        out += _judge_single_part(ex, specs, res)
    out += _required_206_headers(ex, res, if_range=if_range, multipart=multipart)
    return out


def judge_spans(spans: Sequence[tuple[int, int]], specs: Sequence[ByteRangeSpec],
                size: int | None, multipart: bool) -> list[ProbeFinding]:
    """Do the enclosed spans correspond to the ranges asked for (§15.3.7)?"""
    if size is None:
        return [info("§14.4", "complete length unknown: spans not matched to the request")]
    wanted = [s for s in (spec.resolve(size) for spec in specs) if s is not None]
    if not wanted:
        return [fail("§15.5.17", f"206 although no requested range is satisfiable at "
                                 f"length {size} (416 expected)")]
    out: list[ProbeFinding] = []
    for first, last in spans:
        where = f"{first}-{last}"
        if (first, last) in wanted:
            continue
        if covers(wanted, first, last):
            a, b = next((a, b) for a, b in wanted if a <= first and last <= b)
            if first == a:
                out.append(info("§15.3.7", f"truthful subset: sent {where} of {a}-{b} "
                                           "(a client asks again for the rest)"))
            else:
                out.append(warn("§15.3.7", f"sent {where}: inside {a}-{b} but not from its "
                                           "first byte"))
            continue
        starts = any(a <= first <= b for a, b in wanted)
        ends = any(a <= last <= b for a, b in wanted)
        if len(wanted) > 1 and starts and ends:
            out.append(_coalesced(where, _bytes_outside(first, last, wanted)))
            continue
        asked = ", ".join(f"{a}-{b}" for a, b in wanted)
        out.append(fail("§15.3.7", f"sent bytes {where}, which is not what was asked ({asked})"))
    missed = [(a, b) for a, b in wanted if not any(lo <= b and a <= hi for lo, hi in spans)]
    if missed and spans:
        names = ", ".join(f"{a}-{b}" for a, b in missed)
        out.append(warn("§15.3.7", f"{len(missed)} of {len(wanted)} requested ranges not "
                                   f"answered ({names})"))
    if multipart:
        order = [next((i for i, (a, b) in enumerate(wanted) if lo <= b and a <= hi), -1)
                 for lo, hi in spans]
        if order != sorted(order):
            out.append(warn("§15.3.7.2", "parts not in the order the ranges were requested"))
    return out


def _coalesced(where: str, gap: int) -> ProbeFinding:
    """Several requested ranges sent as one span (§15.3.7.2: MAY, for small gaps)."""
    if gap == 0:
        return info("§15.3.7.2", f"coalesced overlapping ranges into {where}")
    if gap <= 1024:
        return info("§15.3.7.2", f"coalesced ranges into {where} across a {gap}-byte gap (MAY)")
    return warn("§15.3.7.2", f"coalesced ranges into {where}, sending {gap} bytes nobody "
                             "asked for (MAY only for gaps smaller than the multipart overhead)")


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


def _required_206_headers(ex: Exchange, res: Resource, *, if_range: bool,
                          multipart: bool) -> list[ProbeFinding]:
    if not res.headers:
        return []
    out: list[ProbeFinding] = []
    missing = [n for n in _ALWAYS_IN_206 if res.header(n) is not None and ex.header(n) is None]
    if missing:
        out.append(fail("§15.3.7", f"206 lacks {', '.join(missing)}, which the 200 carries"))
    if not if_range:
        names = [n for n in _REPRESENTATION if not (multipart and n == "Content-Type")]
        missing = [n for n in names if res.header(n) is not None and ex.header(n) is None]
        if missing:
            out.append(fail("§15.3.7", f"206 lacks representation field(s) "
                                       f"{', '.join(missing)} that the 200 carries"))
    etag, base = ex.header("ETag"), res.header("ETag")
    if etag and base and etag != base:
        out.append(warn("§15.3.7", f"ETag {etag} differs from the 200's {base}"))
    return out


def _judge_single_part(ex: Exchange, specs: Sequence[ByteRangeSpec],
                       res: Resource) -> list[ProbeFinding]:
    value = ex.header("Content-Range")
    if value is None:
        return [fail("§15.3.7.1", "206 without Content-Range")]
    parsed, out = judge_content_range_value(value, res.size, "Content-Range")
    if parsed is None or parsed.first is None or parsed.last is None:
        return out
    size = res.size if res.size is not None else parsed.complete
    out += judge_spans([(parsed.first, parsed.last)], specs, size, multipart=False)
    if ex.complete and ex.received != parsed.length:
        out.append(fail("§14.4", f"Content-Range {parsed.first}-{parsed.last} covers "
                                 f"{parsed.length} bytes; {ex.received} received"))
    match = content_match(ex, parsed.first, res.reference)
    if match:
        out.append(match)
    return out


def _judge_multipart(ex: Exchange, specs: Sequence[ByteRangeSpec], res: Resource,
                     content_type: str) -> list[ProbeFinding]:
    out: list[ProbeFinding] = []
    if len(specs) == 1:
        out.append(fail("§15.3.7.2", "multipart response to a single range (MUST NOT)"))
    if ex.header("Content-Range") is not None:
        out.append(fail("§15.3.7.2", "Content-Range in the header section of a multipart "
                                     "response (MUST NOT)"))
    boundary = boundary_of(content_type)
    if boundary is None:
        return [*out, fail("§15.3.7.2", "multipart/byteranges without a boundary parameter")]
    if not ex.complete:
        return [*out, info("§14.6", "content incomplete: parts not parsed")]
    try:
        parts = parse_byteranges(ex.body, boundary, max(MAX_PARTS, len(specs)))
    except MultipartError as exc:
        return [*out, fail("§14.6", f"multipart/byteranges does not parse: {exc}")]
    if not parts:
        return [*out, fail("§14.6", "multipart/byteranges with no parts")]
    spans: list[tuple[int, int]] = []
    base_type = res.header("Content-Type")
    for number, part in enumerate(parts, 1):
        what = f"part {number}"
        value = part.header("Content-Range")
        if value is None:
            out.append(fail("§15.3.7.2", f"{what} has no Content-Range"))
            continue
        parsed, found = judge_content_range_value(value, res.size, f"{what} Content-Range")
        out += found
        if parsed is None or parsed.first is None or parsed.last is None:
            continue
        spans.append((parsed.first, parsed.last))
        if len(part.body) != parsed.length:
            out.append(fail("§14.6", f"{what}: Content-Range covers {parsed.length} bytes, "
                                     f"the part holds {len(part.body)}"))
        if base_type and part.header("Content-Type") is None:
            out.append(warn("§15.3.7.2", f"{what} has no Content-Type"))
        match = compare_bytes(part.body, parsed.first, res.reference, what)
        if match:
            out.append(match)
    size = res.size
    if size is None:
        size = next((c for c in (_part_length(p) for p in parts) if c is not None), None)
    out += judge_spans(spans, specs, size, multipart=True)
    out.append(info("§14.6", f"{len(parts)} parts: " + ", ".join(f"{a}-{b}" for a, b in spans)))
    return out


def _part_length(part: ParsedPart) -> int | None:
    """The complete length a multipart part's Content-Range states."""
    value = part.header("Content-Range")
    try:
        return parse_content_range(value).complete if value else None
    except ValueError:
        return None
