"""Checks every probe judge builds on: framing, bytes against a reference, what a single
answer says about the size and about range support, and the words for what a server did.

Pure functions from :class:`~mediaserve.core.probe.exchange.Exchange` facts to
:class:`~mediaserve.core.probe.verdicts.ProbeFinding` lists; the adapter does the I/O.
"""

from __future__ import annotations

from mediaserve.core.probe.content_range import ContentRange, parse_content_range
from mediaserve.core.probe.exchange import End, Exchange
from mediaserve.core.probe.multipart import boundary_of
from mediaserve.core.probe.verdicts import ProbeFinding, fail, info, warn

__all__ = [
    "check_framing",
    "describe",
    "judge_content_range_value",
    "judge_reference_size",
    "no_response",
    "range_support",
    "size_hint",
    "unexpected",
]


def check_framing(ex: Exchange) -> list[ProbeFinding]:
    """Content-Length against the bytes that actually arrived (§8.6)."""
    out: list[ProbeFinding] = []
    raw = ex.header_values("Content-Length")
    declared = ex.content_length
    if raw and declared is None:
        out.append(fail("§8.6", f"invalid Content-Length {', '.join(raw)!r}"))
    if ex.method == "HEAD" or ex.end == End.NONE:
        return out
    if ex.end == End.TRUNCATED:
        of = f" of {declared}" if declared is not None else ""
        out.append(fail("§8.6", f"content cut off after {ex.received}{of} bytes "
                                f"({ex.end_detail or 'connection closed'})"))
    elif ex.end == End.CAPPED:
        out.append(info("", f"stopped reading after {ex.received} bytes (--max-body); "
                            "the rest was not checked"))
    elif declared is not None and declared != ex.received:
        out.append(fail("§8.6", f"Content-Length {declared} but {ex.received} bytes received"))
    return out


def judge_reference_size(size: int | None, reference_size: int | None) -> list[ProbeFinding]:
    """``--verify FILE``: a server whose representation is not the file's size serves
    something else, whatever its bytes look like."""
    if reference_size is None or size is None or size == reference_size:
        return []
    return [fail("", f"the server's representation has {size} bytes, the --verify file "
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


def judge_content_range_value(value: str, size: int | None, what: str
                              ) -> tuple[ContentRange | None, list[ProbeFinding]]:
    """A 206's Content-Range (or a part's): parsed, satisfied, and the complete length
    consistent with what is known. Returns the parsed value when it can be used further."""
    try:
        parsed = parse_content_range(value)
    except ValueError as exc:
        return None, [fail("§14.4", f"{what}: {exc}")]
    out: list[ProbeFinding] = []
    if parsed.unsatisfied:
        return None, [fail("§14.4", f"{what}: unsatisfied-range {value!r} in a 206")]
    if parsed.complete is None:
        out.append(warn("§14.4", f"{what}: complete length '*' (SHOULD be stated when known)"))
    elif size is not None and parsed.complete != size:
        out.append(fail("§14.4", f"{what}: complete length {parsed.complete}, but the "
                                 f"representation has {size} bytes"))
    return parsed, out


def unexpected(ex: Exchange, expected: str) -> list[ProbeFinding]:
    """A status the case has no rule for: a FAIL naming what was expected."""
    return [*check_framing(ex), fail("", f"status {ex.status}, expected {expected}")]


def describe(ex: Exchange) -> str:
    """What the server did, in a few words: status, Content-Range, bytes, time."""
    bits = [str(ex.status)]
    content_range = ex.header("Content-Range")
    if content_range:
        bits.append(content_range)
    elif boundary_of(ex.header("Content-Type")) is not None:
        bits.append("multipart/byteranges")
    if ex.method != "HEAD" and ex.end != End.NONE:
        bits.append(f"{ex.received} B")
    bits.append(f"{ex.total * 1000:.1f} ms")
    return ", ".join(bits)


def no_response(request: str, error: str) -> ProbeFinding:
    """A request the server left unanswered (reset, closed, timed out) although it answered
    an earlier one: the server's behaviour, so a FAIL, not a network error."""
    return fail("", f"{request}: no response: {error}")
