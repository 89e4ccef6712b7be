"""Range and Content-Range syntax as a *client* sees it (RFC 9110 §14.1, §14.4).

``mediaserve probe`` builds Range headers from what the operator typed and has to read the
Content-Range a server sends back, whatever that server is. This module is deliberately
independent of the server's evaluator (``core/ranges.py``): a checker that shared the
server's parser would share its bugs and call them conformant.

Parsing of what a *server* sends is strict (one ``bytes`` range, decimal digits only,
``first <= last < complete``): anything else is a finding, not something to repair.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = [
    "ByteRangeSpec",
    "ContentRange",
    "covers",
    "parse_content_range",
    "parse_range_set",
    "range_header",
]

_SPEC = re.compile(r"(\d*)-(\d*)")
_CONTENT_RANGE = re.compile(r"bytes (?:(\d+)-(\d+)|\*)/(\d+|\*)", re.ASCII)  # DIGIT only
_OWS = " \t"


@dataclass(frozen=True, slots=True)
class ByteRangeSpec:
    """One member of a ``bytes=`` range set, as requested.

    ``first=None`` means a suffix range: the last ``last`` bytes. ``last=None`` means an
    open-ended range: from ``first`` to the end.
    """

    first: int | None
    last: int | None

    def __post_init__(self) -> None:
        if self.first is None and self.last is None:
            raise ValueError("a byte range needs a first or a last position")

    def __str__(self) -> str:
        first = "" if self.first is None else str(self.first)
        last = "" if self.last is None else str(self.last)
        return f"{first}-{last}"

    def resolve(self, size: int) -> tuple[int, int] | None:
        """The inclusive byte span this spec selects in a representation of ``size`` bytes,
        or None when it selects nothing (unsatisfiable, §14.1.1)."""
        if self.first is None:
            assert self.last is not None
            if self.last == 0 or size == 0:
                return None
            return max(0, size - self.last), size - 1
        if self.first >= size:
            return None
        last = size - 1 if self.last is None else min(self.last, size - 1)
        return self.first, last


def parse_range_set(text: str) -> tuple[ByteRangeSpec, ...]:
    """Parse what an operator typed after ``--range``: ``0-1023``, ``500-``, ``-500``,
    ``0-99,200-299``, with or without a leading ``bytes=``.

    Raises ValueError with a message fit for a usage error: a malformed range here is a
    typing mistake, and a deliberately malformed one belongs in ``--header 'Range: ...'``.
    """
    body = text.strip()
    if body.lower().startswith("bytes="):
        body = body[len("bytes="):]
    if not body:
        raise ValueError(f"empty range {text!r}")
    specs = []
    for raw in body.split(","):
        member = raw.strip()
        match = _SPEC.fullmatch(member)
        if not match or member == "-":
            raise ValueError(f"bad range {member!r} in {text!r} (want FIRST-LAST, FIRST- or -N)")
        first = int(match.group(1)) if match.group(1) else None
        last = int(match.group(2)) if match.group(2) else None
        if first is not None and last is not None and last < first:
            raise ValueError(f"bad range {member!r}: last byte before first")
        specs.append(ByteRangeSpec(first, last))
    return tuple(specs)


def range_header(specs: Iterable[ByteRangeSpec]) -> str:
    """The Range field value for ``specs``: ``bytes=0-99,-500``."""
    return "bytes=" + ",".join(str(spec) for spec in specs)


@dataclass(frozen=True, slots=True)
class ContentRange:
    """A parsed ``bytes`` Content-Range: a span (``first``..``last``) or, in a 416, only the
    complete length (``unsatisfied``). ``complete`` is None for ``/*`` (length unknown)."""

    first: int | None
    last: int | None
    complete: int | None

    @property
    def unsatisfied(self) -> bool:
        return self.first is None

    @property
    def length(self) -> int:
        """Bytes the span covers (0 for the unsatisfied form)."""
        if self.first is None or self.last is None:
            return 0
        return self.last - self.first + 1

    def __str__(self) -> str:
        complete = "*" if self.complete is None else str(self.complete)
        if self.first is None:
            return f"bytes */{complete}"
        return f"bytes {self.first}-{self.last}/{complete}"


def parse_content_range(value: str) -> ContentRange:
    """Parse a Content-Range field value strictly (§14.4).

    Raises ValueError saying what is wrong: other units, ``bytes */*``, a span whose last
    byte precedes its first, or a span that runs past the complete length are all invalid.
    """
    match = _CONTENT_RANGE.fullmatch(value.strip(_OWS))
    if not match:
        raise ValueError(f"not a valid bytes Content-Range: {value!r}")
    first_s, last_s, complete_s = match.groups()
    try:
        complete = None if complete_s == "*" else int(complete_s)
        first, last = (None, None) if first_s is None else (int(first_s), int(last_s))
    except ValueError:  # more digits than int() converts (sys.get_int_max_str_digits)
        raise ValueError(f"numbers too long to convert: {value[:60]!r}...") from None
    if first is None or last is None:
        if complete is None:
            raise ValueError(f"'bytes */*' is not valid: {value!r}")
        return ContentRange(None, None, complete)
    if last < first:
        raise ValueError(f"last byte before first: {value!r}")
    if complete is not None and last >= complete:
        raise ValueError(f"span runs past the complete length: {value!r}")
    return ContentRange(first, last, complete)


def covers(spans: Sequence[tuple[int, int]], first: int, last: int) -> bool:
    """True when ``first..last`` lies within one of ``spans`` (inclusive pairs)."""
    return any(a <= first and last <= b for a, b in spans)
