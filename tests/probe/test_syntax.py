"""Range / Content-Range syntax, multipart/byteranges parsing and latency statistics."""

from __future__ import annotations

import contextlib
import random
import statistics

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mediaserve.core.probe.content_range import (
    ByteRangeSpec,
    ContentRange,
    parse_content_range,
    parse_range_set,
    range_header,
)
from mediaserve.core.probe.exchange import Exchange
from mediaserve.core.probe.latency import histogram, percentile, summarise
from mediaserve.core.probe.multipart import MultipartError, boundary_of, parse_byteranges
from mediaserve.core.probe.seeks import plan_seeks

# no time limit per example: a loaded 2-core machine must not fail a test by timing
NO_DEADLINE = settings(deadline=None)

# --- Range as typed by the operator -----------------------------------------------------


@pytest.mark.parametrize(("text", "specs"), [
    ("0-1023", [ByteRangeSpec(0, 1023)]),
    ("bytes=500-", [ByteRangeSpec(500, None)]),
    ("-500", [ByteRangeSpec(None, 500)]),
    ("0-99, 200-299", [ByteRangeSpec(0, 99), ByteRangeSpec(200, 299)]),
])
def test_parse_range_set(text: str, specs: list[ByteRangeSpec]) -> None:
    assert list(parse_range_set(text)) == specs


@pytest.mark.parametrize("text", ["", "-", "5-2", "a-b", "0-1,", "1-2-3", "bytes="])
def test_parse_range_set_rejects_typos(text: str) -> None:
    with pytest.raises(ValueError):
        parse_range_set(text)


@pytest.mark.parametrize(("spec", "size", "span"), [
    (ByteRangeSpec(0, 0), 10, (0, 0)),
    (ByteRangeSpec(5, None), 10, (5, 9)),
    (ByteRangeSpec(5, 1000), 10, (5, 9)),  # last-pos beyond the end: the remainder
    (ByteRangeSpec(None, 3), 10, (7, 9)),
    (ByteRangeSpec(None, 30), 10, (0, 9)),  # suffix longer than the file: all of it
    (ByteRangeSpec(10, 20), 10, None),  # first-pos at the length: unsatisfiable
    (ByteRangeSpec(None, 0), 10, None),
    (ByteRangeSpec(0, None), 0, None),
])
def test_resolve(spec: ByteRangeSpec, size: int, span: tuple[int, int] | None) -> None:
    assert spec.resolve(size) == span


@NO_DEADLINE
@given(st.lists(st.tuples(st.integers(0, 10**15), st.integers(0, 10**6)), min_size=1,
                max_size=5))
def test_range_header_round_trips(pairs: list[tuple[int, int]]) -> None:
    specs = [ByteRangeSpec(a, a + n) for a, n in pairs]
    assert list(parse_range_set(range_header(specs))) == specs


# --- Content-Range as sent by a server ---------------------------------------------------


@pytest.mark.parametrize(("value", "parsed"), [
    ("bytes 0-99/1000", ContentRange(0, 99, 1000)),
    ("bytes 5-5/*", ContentRange(5, 5, None)),
    ("bytes */1000", ContentRange(None, None, 1000)),
])
def test_parse_content_range(value: str, parsed: ContentRange) -> None:
    assert parse_content_range(value) == parsed
    assert str(parsed) == value


@pytest.mark.parametrize("value", [
    "bytes 0-99/50",  # runs past the complete length
    "bytes 9-5/100",  # last before first
    "bytes */*",
    "items 0-1/2",
    "bytes 0-99",
    "bytes=0-99/100",
    "bytes -5-9/100",
    "bytes \u0661-\u0662/\u0663",  # Arabic-Indic digits: Unicode decimals, not DIGIT
    "bytes 0-0/10\xa0",  # NBSP (a latin-1 byte a server can send) is not OWS
    "\x85bytes 0-0/10",
    "bytes 0-0/10\n",
    "bytes 0-0/" + "9" * 5000,  # more digits than int() converts
], ids=lambda value: repr(value)[:40])
def test_parse_content_range_is_strict(value: str) -> None:
    with pytest.raises(ValueError):
        parse_content_range(value)


_CR_ALPHABET = "0123456789-/* \t\xa0\x85\n\u0660\u0661\u0969bytesBYTES"


@NO_DEADLINE
@given(st.one_of(st.text(), st.text(_CR_ALPHABET), st.text(_CR_ALPHABET).map("bytes ".__add__)))
def test_parse_content_range_accepts_only_what_it_can_print(value: str) -> None:
    """Any text: a ValueError, or a span that is consistent and prints back to itself."""
    try:
        parsed = parse_content_range(value)
    except ValueError:
        return
    assert value.strip(" \t").isascii()
    assert parse_content_range(str(parsed)) == parsed
    if parsed.first is None:
        assert parsed.complete is not None and parsed.length == 0
    else:
        assert parsed.last is not None and 0 <= parsed.first <= parsed.last
        assert parsed.complete is None or parsed.last < parsed.complete
        assert parsed.length == parsed.last - parsed.first + 1


@NO_DEADLINE
@given(st.text())
def test_parse_range_set_raises_only_value_error(text: str) -> None:
    try:
        specs = parse_range_set(text)
    except ValueError:
        return
    assert specs and parse_range_set(range_header(specs)) == specs


@NO_DEADLINE
@given(st.lists(st.text(_CR_ALPHABET + "\xb2\xb3\xb9,"), max_size=3))
def test_content_length_is_a_number_or_none(values: list[str]) -> None:
    exchange = Exchange("GET", "http://t/", (), 200,
                        headers=tuple(("Content-Length", v) for v in values))
    length = exchange.content_length
    assert length is None or (isinstance(length, int) and length >= 0)


@pytest.mark.parametrize("value", ["\xb2", "1" * 5000, "\u0663"],
                         ids=["superscript", "5000 digits", "arabic"])
def test_content_length_rejects_what_is_not_ascii_digits(value: str) -> None:
    exchange = Exchange("GET", "u", (), 200, headers=(("Content-Length", value),))
    assert exchange.content_length is None


# --- multipart/byteranges -----------------------------------------------------------------


def _multipart(parts: list[tuple[str, bytes]], boundary: str, leading_crlf: bool) -> bytes:
    out = b""
    for index, (content_range, data) in enumerate(parts):
        lead = b"\r\n" if (index or leading_crlf) else b""
        out += (lead + b"--" + boundary.encode() + b"\r\nContent-Type: video/mp4\r\n"
                b"Content-Range: " + content_range.encode() + b"\r\n\r\n" + data)
    return out + b"\r\n--" + boundary.encode() + b"--\r\n"


@pytest.mark.parametrize("leading_crlf", [True, False])  # nginx sends one, RFC example not
def test_parse_byteranges(leading_crlf: bool) -> None:
    # part data that contains CRLF, dashes and most of the boundary must survive intact
    tricky = b"\r\n--0000AB\r\n\r\n--"
    body = _multipart([("bytes 0-15/100", tricky), ("bytes 50-52/100", b"xyz")], "0000ABC",
                      leading_crlf)
    parts = parse_byteranges(body, "0000ABC")
    assert [p.header("content-range") for p in parts] == ["bytes 0-15/100", "bytes 50-52/100"]
    assert [p.body for p in parts] == [tricky, b"xyz"]


_PART_BODY = st.binary(max_size=40).filter(lambda b: b"\r\n--BND" not in b)


@NO_DEADLINE
@given(st.lists(st.tuples(st.integers(0, 10**12), _PART_BODY), min_size=1, max_size=8),
       st.booleans())
def test_parse_byteranges_round_trips(parts: list[tuple[int, bytes]], leading_crlf: bool) -> None:
    """Whatever the part data (CRLFs, dashes, most of the boundary), parts come back intact."""
    built = [(f"bytes {a}-{a + len(data)}/*", data) for a, data in parts]
    parsed = parse_byteranges(_multipart(built, "BND", leading_crlf), "BND")
    assert [(p.header("Content-Range"), p.body) for p in parsed] == built


@NO_DEADLINE
@given(st.binary(max_size=300), st.text(max_size=6))
def test_parse_byteranges_raises_only_multipart_error(body: bytes, boundary: str) -> None:
    try:
        parts = parse_byteranges(body, boundary)
    except MultipartError:
        return
    assert all(p.body in body for p in parts)


@NO_DEADLINE
@given(st.lists(st.sampled_from([b"\r\n--B", b"\r\n", b"--", b"Content-Range: bytes 0-0/9",
                                 b"\r\n\r\n", b"x", b" ", b"--B--", b"a:"]), max_size=40))
def test_parse_byteranges_on_near_multipart_raises_only_multipart_error(
        pieces: list[bytes]) -> None:
    with contextlib.suppress(MultipartError):
        parse_byteranges(b"".join(pieces), "B")


def test_parse_byteranges_bounds_parts_and_header_lines() -> None:
    part = b"\r\n--B\r\nContent-Range: bytes 0-0/10\r\n\r\nx"
    with pytest.raises(MultipartError, match="more than 1000 parts"):
        parse_byteranges(part * 1001 + b"\r\n--B--", "B")
    assert len(parse_byteranges(part * 1001 + b"\r\n--B--", "B", max_parts=1001)) == 1001
    headers = b"--B\r\n" + b"a: b\r\n" * 1000 + b"\r\nx\r\n--B--"
    with pytest.raises(MultipartError, match="header lines"):
        parse_byteranges(headers, "B")


def test_parse_byteranges_rejects_a_cut_body() -> None:
    body = _multipart([("bytes 0-2/10", b"abc"), ("bytes 5-7/10", b"fgh")], "B", True)
    with pytest.raises(MultipartError, match="part 2"):
        parse_byteranges(body[:-12], "B")
    with pytest.raises(MultipartError):
        parse_byteranges(b"no delimiter here", "B")


@pytest.mark.parametrize(("content_type", "boundary"), [
    ("multipart/byteranges; boundary=00000000000000000002", "00000000000000000002"),
    ('Multipart/ByteRanges; charset=x; boundary="a b\\"c"', 'a b"c'),
    ("multipart/byteranges", None),
    ("video/mp4; boundary=x", None),
    (None, None),
])
def test_boundary_of(content_type: str | None, boundary: str | None) -> None:
    assert boundary_of(content_type) == boundary


# --- latency -------------------------------------------------------------------------------


@NO_DEADLINE
@given(st.lists(st.floats(0, 10, allow_nan=False), min_size=1, max_size=200),
       st.floats(0, 100))
def test_percentile_matches_statistics_and_is_monotonic(values: list[float], q: float) -> None:
    ordered = sorted(values)
    assert ordered[0] <= percentile(ordered, q) <= ordered[-1]
    assert percentile(ordered, q) <= percentile(ordered, min(100.0, q + 10)) + 1e-12
    if len(values) >= 2:
        # statistics.quantiles(method="inclusive") is the same linear interpolation
        expected = statistics.quantiles(ordered, n=100, method="inclusive")[49]
        assert percentile(ordered, 50) == pytest.approx(expected)


def test_summarise_and_histogram() -> None:
    values = [i / 1000 for i in range(1, 101)]  # 1..100 ms
    summary = summarise(values)
    assert summary is not None
    assert (summary.count, summary.min, summary.max) == (100, 0.001, 0.1)
    assert summary.p50 == pytest.approx(0.0505)
    assert summary.p99 == pytest.approx(0.09901)
    buckets = histogram(values)
    assert sum(b.count for b in buckets) == 100
    assert buckets[0].label == "1–2 ms" and buckets[-1].label == "100–200 ms"
    assert [b.count for b in buckets] == [1, 3, 5, 10, 30, 50, 1]
    assert summarise([]) is None and histogram([]) == []


def test_plan_seeks_covers_the_file_and_repeats_with_the_seed() -> None:
    plan = plan_seeks(1_000_000, 500, 65536, random.Random(3))
    assert plan == plan_seeks(1_000_000, 500, 65536, random.Random(3))
    assert all(b - a + 1 == 65536 and a >= 0 and b < 1_000_000 for a, b in plan)
    assert min(a for a, _ in plan) < 100_000 and max(b for _, b in plan) > 900_000
    assert plan_seeks(100, 3, 65536, random.Random(1)) == [(0, 99)] * 3
