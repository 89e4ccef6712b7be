"""Where a chunked request body ends (RFC 9112 §7.1), found incrementally.

The connection does not decode request bodies (aiohttp does, for the routes that read one);
it only needs to know which bytes belong to the request so that the next request starts at
the right byte. :class:`ChunkedEnd` walks the chunk framing as bytes arrive, in time linear in
what it is fed, holding at most one line. It is strict where a lenient reading could differ
from aiohttp's: a chunk size is hex digits with at most a ``;``-extension, lines end in CRLF,
trailer lines are field lines, none of those only a header may carry (``Content-Length``,
``Host``, ``Authorization``...); anything else is a :class:`~.request_head.HeadError` (400).
"""

from __future__ import annotations

import re

from mediaserve.core.http.request_head import MAX_LINE, HeadError

_TOKEN = rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_QUOTED = rb'"(?:[\t\x20\x21\x23-\x5b\x5d-\x7e\x80-\xff]|\\[\t\x20-\x7e\x80-\xff])*"'
#: chunk-size [ chunk-ext ]: ``;name`` or ``;name=token`` or ``;name="quoted"``, no blanks
#: (llhttp, aiohttp's parser, refuses those too: the two must agree on every line)
_SIZE_LINE = re.compile(rb"([0-9A-Fa-f]{1,15})(?:;" + _TOKEN + rb"(?:=(?:" + _TOKEN + rb"|"
                        + _QUOTED + rb"))?)*")
_TRAILER = re.compile(_TOKEN + rb":[\t\x20-\x7e\x80-\xff]*")
#: fields a trailer must not carry (RFC 9110 §6.5.1: framing, routing, request modifiers,
#: authentication, how to read the content): refused, so no parser can read one differently
FORBIDDEN_TRAILERS = frozenset((
    b"content-length", b"transfer-encoding", b"host", b"connection", b"keep-alive", b"te",
    b"trailer", b"upgrade", b"expect", b"authorization", b"proxy-authorization", b"cookie",
    b"content-type", b"content-encoding", b"content-range", b"range", b"if-range",
    b"if-match", b"if-none-match", b"if-modified-since", b"if-unmodified-since",
    b"max-forwards", b"cache-control"))

_SIZE, _DATA, _DATA_END, _TRAILERS, _DONE = range(5)


class ChunkedEnd:
    """Feed body bytes in order; :meth:`feed` says how many belong to the body."""

    __slots__ = ("_left", "_line", "_state", "total")

    def __init__(self) -> None:
        self._state = _SIZE
        self._left = 0  # data bytes left in the current chunk (or CRLF bytes after it)
        self._line = b""  # a size or trailer line not yet complete
        self.total = 0  # body bytes seen so far (framing included)

    @property
    def done(self) -> bool:
        return self._state == _DONE

    def feed(self, data: bytes, start: int = 0) -> int:
        """Consume ``data[start:]`` up to the body's end; returns how many bytes were the
        body's (the rest, if any, is the next request's)."""
        at = start
        size = len(data)
        while at < size and self._state != _DONE:
            state = self._state
            if state == _DATA:
                take = min(self._left, size - at)
                self._left -= take
                at += take
                if not self._left:
                    self._state, self._left = _DATA_END, 2
            elif state == _DATA_END:
                expected = b"\r\n"[2 - self._left]
                if data[at] != expected:
                    raise HeadError(400, "a chunk does not end with CRLF")
                at += 1
                self._left -= 1
                if not self._left:
                    self._state = _SIZE
            else:
                at = self._line_from(data, at, size)
        self.total += at - start
        return at - start

    def _line_from(self, data: bytes, at: int, size: int) -> int:
        """Collect a size or trailer line; act on it once its CRLF is in."""
        end = data.find(b"\n", at, min(size, at + MAX_LINE + 1))
        if end < 0:
            if size - at > MAX_LINE:
                raise HeadError(400, "a chunk-size or trailer line is too long")
            self._line += data[at:size]
            if len(self._line) > MAX_LINE:
                raise HeadError(400, "a chunk-size or trailer line is too long")
            return size
        line = self._line + data[at:end + 1]
        self._line = b""
        if len(line) > MAX_LINE:
            raise HeadError(400, "a chunk-size or trailer line is too long")
        if not line.endswith(b"\r\n") or b"\r" in line[:-2]:
            raise HeadError(400, "a chunk line ends without CRLF")
        self._line_done(line[:-2])
        return end + 1

    def _line_done(self, line: bytes) -> None:
        if self._state == _SIZE:
            match = _SIZE_LINE.fullmatch(line)
            if match is None:
                raise HeadError(400, "malformed chunk size")
            length = int(match[1], 16)
            if length:
                self._state, self._left = _DATA, length
            else:
                self._state = _TRAILERS
        elif not line:
            self._state = _DONE
        elif _TRAILER.fullmatch(line) is None:
            raise HeadError(400, "malformed trailer field")
        elif line.split(b":", 1)[0].lower() in FORBIDDEN_TRAILERS:
            raise HeadError(400, "a trailer field that only a header may carry")
