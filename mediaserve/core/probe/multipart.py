"""Parse ``multipart/byteranges`` content (RFC 9110 §14.6, RFC 2046 §5.1.1).

A multi-range 206 is where servers differ most (leading CRLF or not, transport padding,
part headers), so the parser accepts everything RFC 2046 allows and rejects what a client
could not use: a missing close delimiter, a part without a header/body separator, more parts
or part header lines than any real answer has (``MAX_PARTS``, ``MAX_PART_HEADER_LINES``: the
content is a server's, and a Python object per line would cost ~30 times its size). Each part
is returned with its raw headers and a view of its bytes (no copy: the content may be up to
``--max-body`` long); judging them is ``core/probe/partial.py``'s job.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from mediaserve.core.probe.exchange import Body

__all__ = [
    "MAX_PARTS",
    "MAX_PART_HEADER_LINES",
    "MultipartError",
    "ParsedPart",
    "boundary_of",
    "parse_byteranges",
]

MAX_PARTS = 1000
MAX_PART_HEADER_LINES = 128  # what aiohttp allows in a message's own header section

_BOUNDARY_PARAM = re.compile(r';\s*boundary\s*=\s*("(?:[^"\\]|\\.)*"|[^;\s]+)', re.IGNORECASE)


class MultipartError(ValueError):
    """The content is not a well-formed multipart body."""


@dataclass(frozen=True, slots=True)
class ParsedPart:
    """One part of a multipart/byteranges body; ``body`` is a view into that content."""

    headers: tuple[tuple[str, str], ...]
    body: memoryview

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        return next((value for key, value in self.headers if key.lower() == wanted), None)


def boundary_of(content_type: str | None) -> str | None:
    """The boundary parameter of a ``multipart/byteranges`` Content-Type, else None."""
    if not content_type or content_type.split(";", 1)[0].strip().lower() != (
        "multipart/byteranges"
    ):
        return None
    match = _BOUNDARY_PARAM.search(content_type)
    if not match:
        return None
    value = match.group(1)
    if value.startswith('"'):
        value = re.sub(r"\\(.)", r"\1", value[1:-1])
    return value or None


def _skip_padding(body: Body, pos: int) -> int:
    """Skip RFC 2046 transport padding (linear whitespace after a delimiter)."""
    while pos < len(body) and body[pos] in b" \t":
        pos += 1
    return pos


def _finder(body: Body) -> Callable[[bytes, int], int]:
    """``find(sub, start)`` over any content. bytes and bytearray have one; a memoryview
    (large content: a view of the client's read buffer, not a copy) is searched with a
    literal pattern, since ``re`` reads any buffer."""
    if isinstance(body, memoryview):
        def find(sub: bytes, start: int) -> int:
            match = re.compile(re.escape(sub)).search(body, start)
            return match.start() if match else -1
        return find
    return body.find


def parse_byteranges(body: Body, boundary: str,
                     max_parts: int = MAX_PARTS) -> list[ParsedPart]:
    """Split ``body`` into parts. Raises MultipartError saying where framing breaks."""
    try:
        dash = b"--" + boundary.encode("latin-1")
    except UnicodeEncodeError:
        raise MultipartError(f"boundary {boundary!r} is not latin-1 text") from None
    if not boundary:
        raise MultipartError("empty boundary")
    find = _finder(body)

    def at(pos: int, prefix: bytes) -> bool:
        return body[pos:pos + len(prefix)] == prefix

    delimiter = b"\r\n" + dash
    if at(0, dash):
        pos = len(dash)
    else:
        found = find(delimiter, 0)
        if found < 0:
            raise MultipartError("no boundary delimiter in the content")
        pos = found + len(delimiter)
    view = memoryview(body)
    parts: list[ParsedPart] = []
    while True:
        if at(pos, b"--"):
            return parts  # close delimiter; what follows is the epilogue
        if len(parts) == max_parts:
            raise MultipartError(f"more than {max_parts} parts")
        pos = _skip_padding(body, pos)
        if not at(pos, b"\r\n"):
            raise MultipartError(f"part {len(parts) + 1}: no CRLF after the boundary")
        pos += 2
        header_end = find(b"\r\n\r\n", pos - 2)
        if header_end < 0:
            raise MultipartError(f"part {len(parts) + 1}: headers never end")
        headers = _parse_headers(bytes(body[pos:header_end]), len(parts) + 1)
        start = header_end + 4
        end = find(delimiter, start)
        if end < 0:
            raise MultipartError(f"part {len(parts) + 1}: no delimiter after the part "
                                 "(content cut short or close delimiter missing)")
        parts.append(ParsedPart(headers, view[start:end]))
        pos = end + len(delimiter)


def _parse_headers(block: bytes, number: int) -> tuple[tuple[str, str], ...]:
    if block.count(b"\r\n") >= MAX_PART_HEADER_LINES:  # counted before anything is built
        raise MultipartError(f"part {number}: more than {MAX_PART_HEADER_LINES} header lines")
    headers = []
    for line in block.split(b"\r\n"):
        if not line:
            continue
        name, sep, value = line.partition(b":")
        if not sep or not name.strip():
            raise MultipartError(f"part {number}: bad header line {line[:60]!r}")
        headers.append((name.strip().decode("latin-1"), value.strip().decode("latin-1")))
    return tuple(headers)
