"""The client's read buffer (a memory map that grows in place) and the parsers that read it.

Large content reaches the judges as a memoryview of that buffer, not a copy; every judge
must read it exactly as it reads ``bytes``.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from mediaserve.adapters.probe.content import SMALL_CONTENT, Content
from mediaserve.core.probe.multipart import MultipartError, parse_byteranges

# no time limit per example: a loaded 2-core machine must not fail a test by timing
NO_DEADLINE = settings(deadline=None)


@NO_DEADLINE
@given(chunks=st.lists(st.binary(min_size=1, max_size=40_000), max_size=12),
       limit=st.integers(0, 300_000), announced=st.one_of(st.none(), st.integers(0, 400_000)))
def test_content_holds_what_was_appended_up_to_its_limit(chunks: list[bytes], limit: int,
                                                        announced: int | None) -> None:
    content = Content(limit, announced)
    kept = b""
    for chunk in chunks:
        piece = chunk[:limit - len(content)]
        content.append(piece)
        kept += piece
    assert len(content) == len(kept) <= limit
    body = content.body()
    assert body == kept
    assert isinstance(body, bytes) == (len(kept) <= SMALL_CONTENT)


def test_large_content_grows_past_its_reservation_and_is_handed_over_as_a_view() -> None:
    content = Content(8 * 1024 * 1024)  # no length announced: 1 MiB reserved at first
    pieces = [bytes([n]) * SMALL_CONTENT for n in range(48)]  # 3 MiB
    for piece in pieces:
        content.append(piece)
    body = content.body()
    assert isinstance(body, memoryview)
    assert body == b"".join(pieces)


def _multipart(parts: list[bytes], boundary: bytes = b"B") -> bytes:
    return b"".join(b"\r\n--" + boundary + b"\r\nContent-Range: bytes 0-0/9\r\n\r\n" + p
                    for p in parts) + b"\r\n--" + boundary + b"--\r\n"


def _parsed(body: bytes | memoryview) -> object:
    try:
        return [(p.headers, bytes(p.body)) for p in parse_byteranges(body, "B")]
    except MultipartError as exc:
        return str(exc)


@NO_DEADLINE
@given(parts=st.lists(st.binary(max_size=300), max_size=6), cut=st.integers(0, 2000),
       noise=st.binary(max_size=20))
def test_multipart_parses_a_view_as_it_parses_bytes(parts: list[bytes], cut: int,
                                                   noise: bytes) -> None:
    body = noise + _multipart(parts)[:cut]
    assert _parsed(memoryview(body)) == _parsed(body)
    assert _parsed(memoryview(_multipart(parts))) == _parsed(_multipart(parts))
