"""Received bytes against the reference (``--verify FILE``, or in ``--check`` the plain
GET's content), as one piece or as a stream.

The client can compare content while it arrives (:class:`ByteCheck`) instead of keeping
it for the judges: for a 200 or a single-part 206 the position of every byte is known from
the header section (:func:`comparable_offset`), so nothing but the verdict has to outlive
the chunk. Either way the reference is read :data:`COMPARE_BLOCK` bytes at a time, and the
finding is the same whatever the chunking (tests/probe/test_compare.py).
"""

from __future__ import annotations

from mediaserve.core.probe.content_range import parse_content_range
from mediaserve.core.probe.exchange import Body, Exchange, StreamedCheck
from mediaserve.core.probe.verdicts import Level, ProbeFinding, ReadBytes, fail

__all__ = [
    "COMPARE_BLOCK",
    "ByteCheck",
    "comparable_offset",
    "compare_bytes",
    "content_match",
]

COMPARE_BLOCK = 1024 * 1024
"""Bytes asked of the reference at a time: a ``--verify`` file is read block by block, so
comparing a 64 MiB answer does not first read 64 MiB more."""


class ByteCheck:
    """Content from ``offset`` on, compared with ``reference`` chunk by chunk; it stops
    comparing at the first difference (or where the reference ends) and keeps counting."""

    def __init__(self, offset: int, reference: ReadBytes, what: str = "content") -> None:
        self.offset = offset
        self.what = what
        self.received = 0
        self._reference = reference
        self._unknown = False  # the reference had nothing to say
        self._wrong: tuple[int, int, int] | None = None  # (byte, received, expected)
        self._end: int | None = None  # where the reference ended, received bytes beyond it

    def feed(self, chunk: Body) -> None:
        at = self.offset + self.received
        self.received += len(chunk)
        if self._unknown or self._wrong is not None or self._end is not None:
            return
        view = memoryview(chunk)
        for start in range(0, len(view), COMPARE_BLOCK):
            piece = view[start:start + COMPARE_BLOCK]
            expected = self._reference(at + start, len(piece))
            if expected is None:
                self._unknown = True
                return
            if expected == piece:
                continue
            limit = min(len(expected), len(piece))
            index = next((i for i in range(0, limit, 4096)
                          if piece[i:i + 4096] != expected[i:i + 4096]), limit)
            while index < limit and piece[index] == expected[index]:
                index += 1
            if index >= limit:
                self._end = at + start + len(expected)
            else:
                self._wrong = (at + start + index, piece[index], expected[index])
            return

    def result(self) -> StreamedCheck:
        """The outcome as an :class:`Exchange` carries it."""
        return StreamedCheck(self.offset, self.finding())

    def finding(self) -> ProbeFinding | None:
        """What the comparison found; None when nothing could be compared."""
        if not self.received or self._unknown:
            return None
        what = self.what
        if self._wrong is not None:
            byte, got, want = self._wrong
            return fail("", f"{what}: byte {byte} is 0x{got:02x}, the reference has 0x{want:02x}")
        if self._end is not None:
            return fail("", f"{what}: reference ends at byte {self._end}, the server sent "
                            f"{self.offset + self.received - self._end} bytes more")
        return ProbeFinding(Level.INFO, "", f"{what}: {self.received} bytes match the reference",
                            quiet=True)


def compare_bytes(data: Body, offset: int, reference: ReadBytes | None,
                  what: str = "content") -> ProbeFinding | None:
    """Compare received bytes with the reference; None when there is nothing to compare."""
    if reference is None or not data:
        return None
    check = ByteCheck(offset, reference, what)
    check.feed(data)
    return check.finding()


def comparable_offset(status: int, headers: tuple[tuple[str, str], ...]) -> int | None:
    """Where an answer's content starts in the representation, when the judges compare it
    as one piece: 0 for a 200, the first byte of a single-part 206. None otherwise (a
    multipart answer is parsed first; other statuses are never compared)."""
    def header(name: str) -> str | None:
        return next((v for k, v in headers if k.lower() == name.lower()), None)

    if status == 200:
        return 0
    content_type = header("Content-Type") or ""
    if status != 206 or content_type.split(";", 1)[0].strip().lower() == "multipart/byteranges":
        return None
    value = header("Content-Range")
    try:
        parsed = parse_content_range(value) if value is not None else None
    except ValueError:
        return None
    if parsed is None or parsed.unsatisfied or parsed.first is None or parsed.last is None:
        return None
    return parsed.first


def content_match(ex: Exchange, offset: int, reference: ReadBytes | None) -> ProbeFinding | None:
    """The comparison of ``ex``'s content from ``offset``: made while it was read (then the
    content was not kept), or now, from the bytes kept."""
    if ex.checked is not None:
        return ex.checked.finding if ex.checked.offset == offset else None
    return compare_bytes(ex.body, offset, reference)
