"""The body the connection collects before aiohttp sees a request (net/body.py): the same
bytes and the same end however the body is split across reads, and the limits."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mediaserve.adapters.server.net.body import MAX_BODY, RequestBody, without_expect
from mediaserve.core.http.request_head import CHUNKED, HeadError, read_head

HEAD = b"POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
CHUNKED_BODY = b"3;a=b\r\nabc\r\n1\r\nd\r\n0\r\nX-T: 1\r\n\r\n"
NEXT = b"GET /next HTTP/1.1\r\nHost: h\r\n\r\n"


@given(st.lists(st.integers(1, 80), max_size=12))
def test_split_anywhere_the_body_ends_at_the_same_byte(cuts: list[int]) -> None:
    data = CHUNKED_BODY + NEXT
    body = RequestBody(HEAD, CHUNKED)
    rest = b""
    at = 0
    for size in [*cuts, len(data)]:
        piece, at = data[at:at + size], at + size
        if body.done:
            rest += piece
        else:
            rest += body.feed(piece)
    assert body.done and bytes(body.request) == HEAD + CHUNKED_BODY and rest == NEXT


def test_a_length_body_and_what_follows_it() -> None:
    body = RequestBody(b"HEAD", 5)
    assert body.feed(b"abc") == b"" and not body.done
    assert body.feed(b"de" + NEXT) == NEXT and body.done
    assert bytes(body.request) == b"HEADabcde"


def test_over_the_limit_is_a_413_declared_or_chunked() -> None:
    with pytest.raises(HeadError) as declared:
        RequestBody(HEAD, MAX_BODY + 1)
    assert declared.value.status == 413
    body = RequestBody(HEAD, CHUNKED)
    with pytest.raises(HeadError) as chunked:  # framing counts: many tiny chunks too
        for _ in range(MAX_BODY // 6 + 2):
            body.feed(b"1\r\nx\r\n")
    assert chunked.value.status == 413


def test_expect_is_taken_out_and_only_100_continue_is_met() -> None:
    raw = b"POST /x HTTP/1.1\r\nHost: h\r\nExpect: 100-Continue\r\nContent-Length: 2\r\n\r\n"
    assert without_expect(read_head(raw), raw) == (
        b"POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\n")
    other = raw.replace(b"100-Continue", b"200-ok")
    with pytest.raises(HeadError) as refused:
        without_expect(read_head(other), other)
    assert refused.value.status == 417
