"""Where a chunked body ends: incremental, strict, linear, and where aiohttp says it ends.

The connection hands aiohttp exactly the bytes of one request. If the two ever disagreed on
where a body ends, the rest of the stream would be read differently by each (smuggling);
so the differential property: whatever ``ChunkedEnd`` accepts, aiohttp's own parser reads
as one message ending at the same byte.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mediaserve.core.http.chunked import ChunkedEnd
from mediaserve.core.http.request_head import HeadError
from tests.complexity import growth
from tests.core.aiohttp_parser import aiohttp_parse

HEAD = b"POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
NEXT = b"GET /next HTTP/1.1\r\nHost: h\r\n\r\n"


def _end(data: bytes, pieces: int = 1) -> int | None:
    """Bytes of ``data`` that are the body (fed in ``pieces``), None if refused or unended."""
    chunked = ChunkedEnd()
    taken = 0
    size = max(1, len(data) // pieces)
    try:
        for at in range(0, len(data), size):
            part = data[at:at + size]
            used = chunked.feed(part)
            taken += used
            if chunked.done:
                return taken
    except HeadError:
        return None
    return None


def _aiohttp_reads_two(data: bytes) -> bool:
    """Whether aiohttp frames HEAD + ``data`` as two messages, the second ``GET /next``, with
    nothing left over: the body ended exactly where the next request begins."""

    parsed = aiohttp_parse(HEAD + data)
    if parsed is None:
        return False
    messages, _upgraded, tail = parsed
    return (len(messages) == 2 and messages[1][0].path == "/next" and not tail
            and messages[0][1].exception() is None)


def test_a_body_with_extensions_and_trailers() -> None:
    body = b"4;a=b\r\nWiki\r\n5\r\npedia\r\n0\r\nX-T: 1\r\n\r\n"
    assert _end(body + NEXT) == len(body)
    assert _end(body + NEXT, pieces=len(body)) == len(body)  # a byte at a time


@pytest.mark.parametrize("body", [
    b"4\r\nWikiX\r\n0\r\n\r\n",  # data longer than announced
    b"4\nWiki\r\n0\r\n\r\n",  # bare LF
    b"-4\r\nWiki\r\n0\r\n\r\n",
    b"0x4\r\nWiki\r\n0\r\n\r\n",
    b"4 \r\nWiki\r\n0\r\n\r\n" + b"",  # a blank but no extension: not a size
    b"1000000000000000\r\n",  # 16 hex digits: beyond any body
    b"0\r\nbad trailer\r\n\r\n",
    b"0\r\n" + b"X: " + b"a" * 9000 + b"\r\n\r\n",
])
def test_what_is_not_chunked_framing_is_refused(body: bytes) -> None:
    assert _end(body + NEXT) is None


_CHUNKS = st.lists(st.binary(min_size=1, max_size=20), max_size=4)


@st.composite
def _bodies(draw: st.DrawFn) -> bytes:
    out = b""
    for chunk in draw(_CHUNKS):
        size = f"{len(chunk):x}".encode()
        if draw(st.booleans()):
            size = size.upper()
        ext = draw(st.sampled_from([b"", b";a=1", b";x", b";q=\"v\""]))
        out += size + ext + b"\r\n" + chunk + b"\r\n"
    out += b"0\r\n" + draw(st.sampled_from([b"", b"T: v\r\n", b"A: 1\r\nB: 2\r\n"])) + b"\r\n"
    # mutate sometimes: the property must hold for whatever is accepted
    if draw(st.integers(0, 3)) == 0 and out:
        at = draw(st.integers(0, len(out) - 1))
        out = out[:at] + draw(st.sampled_from([b"\n", b"\r", b"0", b"f", b";", b""])) + \
            out[at + 1:]
    return out


@given(_bodies(), st.integers(1, 7))
def test_what_it_accepts_aiohttp_frames_the_same_way(body: bytes, pieces: int) -> None:
    data = body + NEXT
    ours = _end(data, pieces)
    if ours is None:
        return
    # aiohttp ends the body at the same byte: what follows it is read as the next request
    assert _aiohttp_reads_two(data[:ours] + NEXT), data


@given(st.binary(max_size=200), st.integers(1, 9))
def test_never_raises_anything_but_a_refusal(data: bytes, pieces: int) -> None:
    _end(data, pieces)


def test_linear_in_many_tiny_chunks_and_trailers() -> None:
    for make in (lambda n: b"1\r\na\r\n" * n + b"0\r\n\r\n",
                 lambda n: b"0\r\n" + b"X: y\r\n" * n + b"\r\n"):
        assert growth(lambda n, make=make: _end(make(n)), 300) < 2.3
        assert growth(lambda n, make=make: _end(make(n), pieces=n), 300) < 2.3


@pytest.mark.parametrize("name", [b"Content-Length", b"transfer-encoding", b"Host",
                                  b"Authorization", b"Cookie", b"Connection", b"Expect",
                                  b"Content-Type", b"Range"])
def test_a_trailer_may_not_carry_what_only_a_header_may(name: bytes) -> None:
    """RFC 9110 §6.5.1: a trailer must not frame, route or authenticate the request; a
    parser that merged one into the head would read the request differently."""
    with pytest.raises(HeadError):
        ChunkedEnd().feed(b"0\r\n" + name + b": 5\r\n\r\n")
    harmless = b"0\r\nX-Checksum: 5\r\n\r\n"
    assert ChunkedEnd().feed(harmless) == len(harmless)
