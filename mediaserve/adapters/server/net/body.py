"""A request body collected whole before aiohttp sees its request.

The connection hands aiohttp complete requests only: the head and all of its body at once.
aiohttp then never waits on the socket for a body, so a body that stops half-way, trickles
in, or turns out malformed (a bad chunk line, a trailer that would change the framing) is the
connection's to time out or refuse, before any answer has begun: never a request that hangs
inside aiohttp with no timeout of ours over it, nor a 400 written into the middle of an answer
aiohttp is already streaming. The routes that read a body take at most 64 KiB (the app's
``client_max_size``), so collecting costs at most that per connection, and a connection that
is collecting can be reclaimed at the cap like a slow head (``guard.py``).
"""

from __future__ import annotations

from mediaserve.core.http.chunked import ChunkedEnd
from mediaserve.core.http.request_head import CHUNKED, HeadError, RequestHead

#: the largest body (framing included) the connection collects; aiohttp's routes read at most
#: 64 KiB (``client_max_size`` in ``app.py``) and refuse more themselves
MAX_BODY = 64 * 1024


class RequestBody:
    """The bytes of one request (head first) while its body arrives."""

    __slots__ = ("_chunked", "_left", "head_size", "request")

    def __init__(self, head: bytes, length: int) -> None:
        """``length``: the head's ``Content-Length`` or ``CHUNKED``. Raises HeadError (413)
        for a declared length over :data:`MAX_BODY`."""
        if length > MAX_BODY:
            raise HeadError(413, "the request body is too large")
        self.request = bytearray(head)
        self.head_size = len(head)
        self._chunked = ChunkedEnd() if length == CHUNKED else None
        self._left = 0 if length == CHUNKED else length

    @property
    def done(self) -> bool:
        chunked = self._chunked
        return chunked.done if chunked is not None else self._left == 0

    def feed(self, data: bytes) -> bytes:
        """Take this body's bytes from ``data``; return the rest (the next request's).
        Raises HeadError: a malformed chunked body (400), one over :data:`MAX_BODY` (413)."""
        chunked = self._chunked
        if chunked is not None:
            room = MAX_BODY + 1 - chunked.total  # never framed past the limit: a 413 it is
            taken = chunked.feed(data if len(data) <= room else data[:room])
            if chunked.total > MAX_BODY:
                raise HeadError(413, "the request body is too large")
        else:
            taken = min(self._left, len(data))
            self._left -= taken
        if taken == len(data):
            self.request += data
            return b""
        self.request += memoryview(data)[:taken]
        return data[taken:]


def without_expect(head: RequestHead, raw: bytes) -> bytes:
    """``raw`` without its ``Expect`` field: the connection answers ``100-continue`` itself
    (aiohttp, handed the whole body, would send a second one); any other expectation is
    refused (417, RFC 9110 §10.1.1). Raises HeadError."""
    expect = head.fields.get("expect")
    if expect is None:
        return raw
    if expect.lower() != "100-continue":
        raise HeadError(417, "only the expectation 100-continue is supported")
    lines = raw[:-4].split(b"\r\n")
    kept = [line for line in lines[1:] if line[:7].lower() != b"expect:"]
    return b"\r\n".join([lines[0], *kept]) + b"\r\n\r\n"
