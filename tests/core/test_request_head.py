"""The fast path's request-head reader: narrow, never wrong, never raising.

The property that matters is the differential one: whatever :func:`parse_head` accepts,
aiohttp's own parser (the C parser the server runs) reads the same way: one bodiless request,
the same method, target, fields and keep-alive. Anything else must be declined (None), so the
request reaches aiohttp unchanged.
"""

from __future__ import annotations

import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mediaserve.core.http.request_head import (
    CHUNKED,
    MAX_HEAD,
    READ,
    HeadError,
    cookie_value,
    parse_head,
    query_value,
    read_head,
    stream_target,
)
from tests.complexity import growth
from tests.core.aiohttp_parser import aiohttp_parse

VID = "0123456789abcdef"
STREAM = f"/api/videos/{VID}/stream"


def head(*lines: str, first: str = f"GET {STREAM} HTTP/1.1", host: bool = True) -> bytes:
    """A request head; with ``host``, a ``Host`` field first (HTTP/1.1 requires one), so a
    declined head is declined for the reason under test."""
    lines = ("Host: h", *lines) if host else lines
    return ("\r\n".join((first, *lines)) + "\r\n\r\n").encode("utf-8")


def test_a_plain_request_is_read() -> None:
    parsed = parse_head(head("Range:  bytes=0-1 ", "X-Any: a b"))
    assert parsed is not None
    assert parsed.method == "GET" and parsed.target == STREAM and parsed.keep_alive
    assert parsed.fields == {"host": "h", "range": "bytes=0-1", "x-any": "a b"}


def test_head_and_connection_close() -> None:
    parsed = parse_head(head("Connection: Close", first=f"HEAD {STREAM} HTTP/1.1"))
    assert parsed is not None and parsed.method == "HEAD" and not parsed.keep_alive
    assert parse_head(head("connection: keep-alive")).keep_alive  # type: ignore[union-attr]


@pytest.mark.parametrize("value", ["keep-alive, close", "close, keep-alive", "Keep-Alive,Close",
                                   "keep-alive , close", "close,close", "close, ,"])
def test_a_list_with_close_is_read_as_close(value: str) -> None:
    """As aiohttp (llhttp) and nginx read it: the connection closes after the answer."""
    parsed = parse_head(head(f"Connection: {value}"))
    assert parsed is not None and not parsed.keep_alive
    assert _aiohttp_reads(head(f"Connection: {value}"))[3] is False  # type: ignore[index]


def test_host_is_required() -> None:
    assert parse_head(f"GET {STREAM} HTTP/1.1\r\n\r\n".encode()) is None
    assert parse_head(head("Range: bytes=0-1", host=False)) is None


@pytest.mark.parametrize("data", [
    head(first=f"POST {STREAM} HTTP/1.1"),
    head(first=f"get {STREAM} HTTP/1.1"),
    head(first=f"GET {STREAM} HTTP/1.0"),
    head(first=f"GET {STREAM} HTTP/2.0"),
    head(first=f"GET {STREAM}"),
    head(first=f"GET  {STREAM} HTTP/1.1"),
    head(first=f"GET {STREAM} HTTP/1.1 "),
    head(first="GET * HTTP/1.1"),
    head(first=f"GET http://a{STREAM} HTTP/1.1"),
    head("Content-Length: 0"),
    head("Transfer-Encoding: chunked"),
    head("Expect: 100-continue"),
    head("Upgrade: websocket", "Connection: Upgrade"),
    head("Connection: keep-alive, Upgrade"),
    head("Connection: close, TE"),
    head("Connection: ,"),
    head("Host: a", "Host: b", host=False),
    head("Host: a"),  # a second Host
    head("Range: bytes=0-1", "range: bytes=2-3"),
    head("Host : a", host=False),
    head("X: a", " folded"),
    head("X:\x01a"),
    head("Bad Name: x"),
    head(": no name"),
    b"GET " + STREAM.encode() + b" HTTP/1.1\nHost: a\n\n",
    head() + head(),  # two heads: aiohttp reads pipelines
    head()[:-2],  # incomplete
    head("X: " + "a" * MAX_HEAD),
])
def test_anything_unusual_is_declined(data: bytes) -> None:
    assert parse_head(data) is None


def test_at_most_a_hundred_fields() -> None:
    """aiohttp refuses more than 128 with a 400: that answer stays its own."""
    assert parse_head(head(*(f"X-{n}: a" for n in range(99)))) is not None  # + Host
    assert parse_head(head(*(f"X-{n}: a" for n in range(100)))) is None
    assert _aiohttp_reads(head(*(f"X-{n}: a" for n in range(129)))) is None


def test_repeated_fields_the_server_does_not_read_are_fine() -> None:
    parsed = parse_head(head("Accept: a", "Accept: b"))
    assert parsed is not None and parsed.fields["accept"] == "a, b"  # RFC 9110 §5.3


@pytest.mark.parametrize(("target", "expected"), [
    (STREAM, (VID, "")),
    (STREAM + "?t=1&token=x", (VID, "t=1&token=x")),
    (f"/api/videos/{'a' * 64}/stream", ("a" * 64, "")),
    (f"/api/videos/{'a' * 65}/stream", None),
    ("/api/videos/0123456789a/stream", None),  # 11 hex digits
    (STREAM.upper(), None),
    (STREAM + "/", None),
    (STREAM + "#x", None),
    (STREAM.replace("stream", "%73tream"), None),
    ("/api/videos/../videos/" + VID + "/stream", None),
    ("//api/videos/" + VID + "/stream", None),
    ("/api/videos/" + VID, None),
])
def test_stream_target(target: str, expected: tuple[str, str] | None) -> None:
    assert stream_target(target) == expected


def test_query_value_decodes_like_aiohttp() -> None:
    assert query_value("a=1&token=x%2By+z&token=2", "token") == "x+y z"
    assert query_value("tokens=1", "token") is None
    assert query_value("token=", "token") == ""
    assert query_value("", "token") is None


def test_cookie_value() -> None:
    assert cookie_value('a=1; ms="v=1"; b=2', "ms") == "v=1"
    assert cookie_value("a=1;ms=xyz", "ms") == "xyz"
    assert cookie_value("ms", "ms") is None
    assert cookie_value("a=1", "ms") is None
    assert cookie_value("ms=1; ms=2", "ms") is None  # twice: aiohttp keeps the last


# ---------------------------------------------------------------- properties

def _aiohttp_reads(data: bytes) -> tuple[str, str, dict[str, str], bool] | None:
    """What aiohttp's parser makes of ``data``: one bodiless message, or None."""

    parsed = aiohttp_parse(data)
    if parsed is None:
        return None
    messages, upgraded, tail = parsed
    if len(messages) != 1 or upgraded or tail:
        return None
    message = messages[0][0]
    if message.chunked or message.upgrade:
        return None
    fields = {name.lower(): message.headers.getone(name) for name in message.headers}
    return message.method, message.path, fields, not message.should_close


_NAMES = st.sampled_from(["Range", "If-Range", "If-None-Match", "Connection", "Cookie",
                          "Authorization", "User-Agent", "Accept", "X-A", "RANGE"] * 3
                         + ["Host", "Content-Length", "Transfer-Encoding", "Bad Name",
                            "Upgrade", ""])
_PRINTABLE = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E),
                     max_size=12)
_VALUES = st.one_of(st.sampled_from(["close", "keep-alive", "bytes=0-1", "127.0.0.1",
                                     "chunked", "0", " padded\t", "Upgrade",
                                     "keep-alive, close", "close,,keep-alive", "te, close"]),
                    _PRINTABLE, _PRINTABLE, st.text(max_size=12))
# mostly well-formed (so the parser accepts a good share), with every kind of flaw mixed in
_FIRST = st.builds("{} {} {}".format,
                   st.sampled_from(["GET"] * 4 + ["HEAD"] * 2 + ["POST", "get", "OPTIONS"]),
                   st.one_of(st.just(STREAM), st.just(STREAM + "?token=a%20b+c"),
                             st.text(max_size=20).map(lambda t: "/" + t)),
                   st.sampled_from(["HTTP/1.1"] * 6 + ["HTTP/1.0", "HTTP/2.0", "http/1.1"]))
_HEADS = st.builds(
    lambda first, host, fields, sep, end: (first + end + "".join(
        f"{name}{sep}{value}{end}" for name, value in [*host, *fields]) + end).encode(
            "utf-8", "surrogatepass"),
    _FIRST, st.sampled_from([[("Host", "127.0.0.1")]] * 5 + [[]]),
    st.lists(st.tuples(_NAMES, _VALUES), max_size=5),
    st.sampled_from([": "] * 6 + [":", " : ", ":\t"]),
    st.sampled_from(["\r\n"] * 8 + ["\n"]))


# well-formed heads with everything a valid head may vary in: token names of any case,
# values with inner blanks and any visible ASCII, OWS or none, Connection in any case
_TOKEN = st.text(alphabet="!#$%&'*+-.^_`|~" + string.digits + string.ascii_letters,
                 min_size=1, max_size=10)
_GOOD_HEADS = st.builds(
    lambda method, query, fields, conn, ows: (
        f"{method} {STREAM}{query} HTTP/1.1\r\nHost:{ows}127.0.0.1\r\n" + "".join(
            f"{name}:{ows}{value}\r\n" for name, value in fields
            if name.lower() not in ("host", "connection", "content-length",
                                    "transfer-encoding", "expect", "upgrade",
                                    "http2-settings"))
        + (f"Connection:{ows}{conn}\r\n" if conn else "") + "\r\n").encode(),
    st.sampled_from(["GET", "HEAD"]),
    st.one_of(st.just(""), _PRINTABLE.filter(lambda q: " " not in q and "#" not in q)
              .map(lambda q: "?" + q)),
    st.lists(st.tuples(_TOKEN, _PRINTABLE.map(str.strip)), max_size=5,
             unique_by=lambda pair: pair[0].lower()),
    st.sampled_from(["", "close", "Close", "keep-alive", "Keep-Alive", "CLOSE",
                     "keep-alive, close", "Close,Keep-Alive", "keep-alive ,close"]),
    st.sampled_from(["", " ", "\t", "  "]))


@given(st.binary(max_size=300))
def test_never_raises_on_bytes(data: bytes) -> None:
    parse_head(data)
    parse_head(data + b"\r\n\r\n")


@given(st.one_of(_HEADS, _GOOD_HEADS))
def test_what_it_accepts_aiohttp_reads_the_same_way(data: bytes) -> None:
    parsed = parse_head(data)
    if parsed is None:
        return
    theirs = _aiohttp_reads(data)
    assert theirs is not None, data
    method, target, fields, keep_alive = theirs
    assert (parsed.method, parsed.target, parsed.keep_alive) == (method, target, keep_alive)
    for name in READ:
        assert parsed.fields.get(name) == fields.get(name), (name, data)


@given(_GOOD_HEADS)
def test_well_formed_heads_are_accepted(data: bytes) -> None:
    """The fast path is for real clients: a well-formed head is never declined."""
    assert parse_head(data) is not None, data


@given(st.lists(st.tuples(st.sampled_from(["Host", "Range", "X-A", "Accept"]),
                          st.text(alphabet=st.characters(min_codepoint=0x21,
                                                         max_codepoint=0x7E), max_size=20)),
                max_size=4, unique_by=lambda pair: pair[0].lower()))
def test_well_formed_heads_are_read_whole(fields: list[tuple[str, str]]) -> None:
    data = head(*(f"{name}: {value}" for name, value in fields if name != "Host"))
    parsed = parse_head(data)
    assert parsed is not None
    assert parsed.fields == {"host": "h", **{name.lower(): value for name, value in fields
                                            if name != "Host"}}
    assert _aiohttp_reads(data) is not None


# --- the general reader the connection frames with ------------------------------------------


def test_read_head_is_linear() -> None:
    for make in (lambda n: head(*[f"X-{i}: a" for i in range(min(n, 90))], "Y: " + "v" * n),
                 lambda n: head("Cookie: " + "a=b; " * n),
                 lambda n: head("Connection: " + "keep-alive, " * n + "close")):
        assert growth(lambda n, make=make: read_head(make(n)), 200) < 2.3


# --- the general reader against aiohttp: the same framing, whatever is accepted --------------

_FRAMING = st.lists(st.sampled_from([
    ("Content-Length", "0"), ("Content-Length", "5"), ("Content-Length", " 7 "),
    ("Content-Length", "-1"), ("Content-Length", "1e3"), ("Transfer-Encoding", "chunked"),
    ("Transfer-Encoding", "Chunked"), ("Transfer-Encoding", "gzip"),
    ("Transfer-Encoding", "chunked, chunked"), ("Connection", "close"),
    ("Connection", "keep-alive, close"), ("Expect", "100-continue")]), max_size=3)


@given(st.sampled_from(["GET", "POST", "PUT", "OPTIONS"]),
       st.sampled_from(["/api/videos", "/x?a=1", "*", STREAM]),
       st.sampled_from(["1.1", "1.0"]), _FRAMING)
def test_what_read_head_frames_aiohttp_frames_the_same_way(
        method: str, target: str, version: str, framing: list[tuple[str, str]]) -> None:
    data = (f"{method} {target} HTTP/{version}\r\nHost: h\r\n"
            + "".join(f"{name}: {value}\r\n" for name, value in framing) + "\r\n").encode()
    try:
        head = read_head(data)
    except HeadError:
        return
    body = b"0\r\n\r\n" if head.body == CHUNKED else b"x" * head.body

    parsed = aiohttp_parse(data + body + head_after)
    if parsed is None:
        return  # aiohttp answers 400 and closes: refused, never read differently
    messages, _upgraded, tail = parsed
    assert len(messages) == 2 and not tail, data  # the body ended where we said
    message = messages[0][0]
    assert (message.method, message.path) == (method, target)
    assert message.chunked == (head.body == CHUNKED)
    if head.keep_alive:  # we may close where aiohttp would not (a 1.0 "keep-alive, close")
        assert not message.should_close, data


head_after = b"GET /next HTTP/1.1\r\nHost: h\r\n\r\n"


@pytest.mark.parametrize("first", ["GET api/videos HTTP/1.1", "GET 127.0.0.1:80 HTTP/1.1",
                                   "GET * HTTP/1.1", "CONNECT h:443 HTTP/1.1",
                                   "GET ftp://h/x HTTP/1.1", "GET ? HTTP/1.1"])
def test_a_target_no_router_can_place_is_refused(first: str) -> None:
    with pytest.raises(HeadError) as refused:
        read_head(head(first=first))
    assert refused.value.status == 400


@pytest.mark.parametrize("first", ["OPTIONS * HTTP/1.1", "GET http://h/api/videos HTTP/1.1",
                                   "GET HTTPS://h/x HTTP/1.1", "GET /x HTTP/1.1"])
def test_the_target_forms_a_server_accepts(first: str) -> None:
    assert not read_head(head(first=first)).plain or first == "GET /x HTTP/1.1"


def test_two_content_lengths_are_refused_even_when_equal() -> None:
    with pytest.raises(HeadError):
        read_head(head("Content-Length: 4", "Content-Length: 4", first="POST /x HTTP/1.1"))


def test_the_conditional_fields_are_the_ones_the_range_evaluator_reads() -> None:
    """The fast path evaluates a Range alone when none of CONDITIONAL was sent: a field
    added to ``ranges.Conditionals`` and not here would be ignored on every seek."""
    from mediaserve.core.http import ranges, request_head

    read = {name.replace("_", "-") for name in ranges.Conditionals._fields}
    assert read - {"range"} == request_head.CONDITIONAL
    assert request_head.CONDITIONAL < request_head.READ
