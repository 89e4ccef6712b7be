"""Table-driven tests of mediaserve.core.http.ranges, one RFC 9110 section per case.

Case ids read ``<section>-<what>``: ``14.1.2-suffix`` is RFC 9110 §14.1.2. Every case checks
the status, the spans that would be written, the Content-Range, and that Content-Length is
exactly the number of bytes assembled from the plan.
"""

import calendar
import email.parser
import email.policy
import email.utils
import string
import time
from dataclasses import dataclass, field

import pytest
from multidict import CIMultiDict

from mediaserve.core.http.dates import parse_http_date
from mediaserve.core.http.ranges import (
    Conditionals,
    Plan,
    Validators,
    evaluate,
    make_validators,
)
from tests.complexity import growth

SIZE = 10_000
MTIME_NS = 784_111_777_123_456_789  # 1994-11-06 08:49:37.123456789 UTC
V = make_validators(SIZE, MTIME_NS)
ETAG = V.etag
LM = "Sun, 06 Nov 1994 08:49:37 GMT"  # Last-Modified of V
LM_PLUS_1 = "Sun, 06 Nov 1994 08:49:38 GMT"
LM_MINUS_1 = "Sun, 06 Nov 1994 08:49:36 GMT"
LM_RFC850 = "Sunday, 06-Nov-94 08:49:37 GMT"
LM_ASCTIME = "Sun Nov  6 08:49:37 1994"
DATA = bytes(i % 251 for i in range(SIZE))
BOUNDARY = "mediaserve-test-boundary"
CT = "video/mp4"


def assemble(plan: Plan, data: bytes) -> bytes:
    """The bytes an adapter would write for ``plan``."""
    out = bytearray()
    for part in plan.parts:
        out += part.preamble
        out += data[part.span.first : part.span.last + 1]
    out += plan.epilogue
    return bytes(out)


def parse_multipart(body: bytes, boundary: str) -> list[tuple[dict[str, str], bytes]]:
    """Independent RFC 2046 splitter: the body must be exactly delimiter-framed parts."""
    b = boundary.encode()
    opening, closing = b"--" + b + b"\r\n", b"\r\n--" + b + b"--\r\n"
    assert body.startswith(opening) and body.endswith(closing)
    parts = []
    for chunk in body[len(opening) : -len(closing)].split(b"\r\n--" + b + b"\r\n"):
        head, _, payload = chunk.partition(b"\r\n\r\n")
        headers = dict(line.decode().split(": ", 1) for line in head.split(b"\r\n"))
        parts.append((headers, payload))
    return parts


def hdrs(plan: Plan) -> dict[str, str]:
    names = [name for name, _ in plan.headers]
    assert len(names) == len(set(names)), "duplicate header"
    return dict(plan.headers)


@dataclass
class Case:
    headers: dict[str, str]
    status: int
    spans: list[tuple[int, int]] = field(default_factory=list)
    content_range: str | None = None
    method: str = "GET"
    size: int = SIZE
    kwargs: dict = field(default_factory=dict)


def case(id: str, *args, **kwargs):
    return pytest.param(Case(*args, **kwargs), id=id)


WHOLE = [(0, SIZE - 1)]
R = "Range"
UNSAT = f"bytes */{SIZE}"
D500 = "9" * 500  # a number with 500 digits

CASES = [
    # --- §14.1.2 range syntax --------------------------------------------------------------
    case("14.1.2-closed", {R: "bytes=0-499"}, 206, [(0, 499)], "bytes 0-499/10000"),
    case("14.1.2-open-ended-is-206", {R: "bytes=0-"}, 206, WHOLE, "bytes 0-9999/10000"),
    case(
        "14.1.2-open-ended-tail", {R: "bytes=9500-"}, 206, [(9500, 9999)], "bytes 9500-9999/10000"
    ),
    case("14.1.2-suffix", {R: "bytes=-500"}, 206, [(9500, 9999)], "bytes 9500-9999/10000"),
    case("14.1.1-unit-case-insensitive", {R: "Bytes=0-0"}, 206, [(0, 0)], "bytes 0-0/10000"),
    case("14.1.1-unit-upper", {R: "BYTES=1-2"}, 206, [(1, 2)], "bytes 1-2/10000"),
    case("14.1.2-leading-zeros", {R: "bytes=0009-0010"}, 206, [(9, 10)], "bytes 9-10/10000"),
    case("14.1.2-leading-zeros-suffix", {R: "bytes=-0002"}, 206, [(9998, 9999)]),
    case("5.6.1-empty-element-middle", {R: "bytes=0-1,,2-3"}, 206, [(0, 3)], "bytes 0-3/10000"),
    case("5.6.1-empty-element-first", {R: "bytes=,0-1"}, 206, [(0, 1)], "bytes 0-1/10000"),
    case("5.6.1-empty-element-last", {R: "bytes=0-1,"}, 206, [(0, 1)], "bytes 0-1/10000"),
    case("5.6.1-ows-around-members", {R: "bytes= \t5-6 ,\t7-8 "}, 206, [(5, 8)], "bytes 5-8/10000"),
    case(
        "14.1.2-last-pos-clamped",
        {R: "bytes=9000-99999"},
        206,
        [(9000, 9999)],
        "bytes 9000-9999/10000",
    ),
    case("14.1.2-huge-first-pos-unsatisfiable", {R: f"bytes={D500}-"}, 416, [], UNSAT),
    case("14.1.2-huge-last-pos-clamped", {R: f"bytes=0-{D500}"}, 206, WHOLE, "bytes 0-9999/10000"),
    case("14.1.2-huge-suffix-whole", {R: f"bytes=-{D500}"}, 206, WHOLE, "bytes 0-9999/10000"),
    case("14.1.2-huge-leading-zeros", {R: f"bytes={'0' * 500}5-{'0' * 500}7"}, 206, [(5, 7)]),
    case("14.1.2-beyond-int-str-limit", {R: f"bytes=0-1,{'9' * 5000}-"}, 206, [(0, 1)]),
    case(
        "14.1.2-huge-last-lt-first-invalid", {R: f"bytes=0-1,{'9' * 30}-{'9' * 29}"}, 416, [], UNSAT
    ),
    case("14.1.2-huge-last-gt-first-valid", {R: f"bytes=0-1,{'9' * 29}-{'9' * 30}"}, 206, [(0, 1)]),
    case("14.1.2-huge-equal-valid", {R: f"bytes=0-1,{D500}-{D500}"}, 206, [(0, 1)]),
    # --- §14.2: unknown units are ignored; invalid bytes sets are rejected (our choice) -----
    case("14.2-unknown-unit-ignored", {R: "items=0-1"}, 200, WHOLE),
    case("14.2-no-unit-ignored", {R: "0-1"}, 200, WHOLE),
    case("14.2-lookalike-unit-ignored", {R: "byte\u017f=0-1"}, 200, WHOLE),  # long s
    case("14.2-invalid-abc", {R: "bytes=abc"}, 416, [], UNSAT),
    case("14.2-invalid-member-poisons-set", {R: "bytes=0-1,abc"}, 416, [], UNSAT),
    case("14.2-invalid-last-lt-first", {R: "bytes=5-2"}, 416, [], UNSAT),
    case("14.2-invalid-empty-set", {R: "bytes="}, 416, [], UNSAT),
    case("14.2-invalid-only-commas", {R: "bytes=, ,"}, 416, [], UNSAT),
    case("14.2-invalid-double-dash", {R: "bytes=--1"}, 416, [], UNSAT),
    case("14.2-invalid-three-numbers", {R: "bytes=1-2-3"}, 416, [], UNSAT),
    case("14.2-invalid-space-inside-member", {R: "bytes=0 -1"}, 416, [], UNSAT),
    case("14.2-invalid-non-ascii-digit", {R: "bytes=\u0663-"}, 416, [], UNSAT),
    case("14.2-invalid-hex", {R: "bytes=0x10-"}, 416, [], UNSAT),
    case("14.2-invalid-sign", {R: "bytes=+1-2"}, 416, [], UNSAT),
    case("14.2-invalid-lone-dash", {R: "bytes=-"}, 416, [], UNSAT),
    case("14.2-empty-field-is-absent", {R: "  "}, 200, WHOLE),
    # --- §14.1.1 satisfiability ------------------------------------------------------------
    case("14.1.1-suffix-zero-unsatisfiable", {R: "bytes=-0"}, 416, [], UNSAT),
    case("14.1.1-first-pos-eq-size", {R: "bytes=10000-"}, 416, [], UNSAT),
    case("14.1.1-closed-beyond-size", {R: "bytes=10000-10005"}, 416, [], UNSAT),
    case("14.1.1-last-byte", {R: "bytes=9999-"}, 206, [(9999, 9999)], "bytes 9999-9999/10000"),
    case("14.1.1-unsatisfiable-member-dropped", {R: "bytes=-0,0-0"}, 206, [(0, 0)]),
    case("14.1.1-beyond-member-dropped", {R: "bytes=20000-,0-0"}, 206, [(0, 0)]),
    case("14.1.1-suffix-longer-than-file", {R: "bytes=-20000"}, 206, WHOLE, "bytes 0-9999/10000"),
    case("14.1.1-empty-file-open", {R: "bytes=0-"}, 416, [], "bytes */0", size=0),
    case("14.1.1-empty-file-suffix", {R: "bytes=-5"}, 416, [], "bytes */0", size=0),
    case("14.1.1-empty-file-no-range", {}, 200, [], size=0),
    case("14.1.1-one-byte-file", {R: "bytes=-1"}, 206, [(0, 0)], "bytes 0-0/1", size=1),
    # --- §15.3.7 / §14.6 several ranges -----------------------------------------------------
    case(
        "15.3.7.2-multipart-three",
        {R: "bytes= 0-999, 4500-5499, -1000"},
        206,
        [(0, 999), (4500, 5499), (9000, 9999)],
    ),
    case("15.3.7.2-request-order-kept", {R: "bytes=9000-9099,0-99"}, 206, [(9000, 9099), (0, 99)]),
    case(
        "15.3.7-coalesce-keeps-first-member-order",
        {R: "bytes=500-600,0-99,550-700,100-100"},
        206,
        [(500, 700), (0, 100)],
    ),
    case(
        "15.3.7-coalesced-to-one-is-single",
        {R: "bytes=0-10,5-20,21-30"},
        206,
        [(0, 30)],
        "bytes 0-30/10000",
    ),
    case("15.3.7-contained-span", {R: "bytes=0-100,10-20"}, 206, [(0, 100)], "bytes 0-100/10000"),
    case(
        "15.3.7-descending-one-byte-over-max-ranges",
        {R: "bytes=" + ",".join(f"{i}-{i}" for i in range(199, -1, -1))},
        200,
        WHOLE,
    ),
    case(
        "15.3.7-descending-one-byte-coalesced",
        {R: "bytes=" + ",".join(f"{i}-{i}" for i in range(199, -1, -1))},
        206,
        [(0, 199)],
        "bytes 0-199/10000",
        kwargs={"max_ranges": 200},
    ),
    # The multipart body for these three one-byte parts is exactly 294 bytes long.
    case(
        "14.2-dos-overhead-equal-size-is-200", {R: "bytes=0-0,2-2,4-4"}, 200, [(0, 293)], size=294
    ),
    case(
        "14.2-dos-overhead-smaller-is-206",
        {R: "bytes=0-0,2-2,4-4"},
        206,
        [(0, 0), (2, 2), (4, 4)],
        size=295,
    ),
    case(
        "14.2-dos-max-ranges-exceeded",
        {R: "bytes=" + ",".join(f"{2 * i}-{2 * i}" for i in range(101))},
        200,
        WHOLE,
    ),
    case(
        "14.2-dos-max-ranges-exactly",
        {R: "bytes=" + ",".join(f"{100 * i}-{100 * i}" for i in range(100))},
        206,
        [(100 * i, 100 * i) for i in range(100)],
    ),
    case(
        "14.2-dos-parsing-stops-after-max-ranges",
        {R: "bytes=" + ",".join(f"{2 * i}-{2 * i}" for i in range(101)) + ",abc"},
        200,
        WHOLE,
    ),
    case("14.2-max-ranges-zero-disables", {R: "bytes=0-1"}, 200, WHOLE, kwargs={"max_ranges": 0}),
    # --- open_ended_cap (§14.1.1 / §14.4: shorter, truthful Content-Range) ------------------
    case(
        "14.4-cap-open-ended",
        {R: "bytes=100-"},
        206,
        [(100, 1099)],
        "bytes 100-1099/10000",
        kwargs={"open_ended_cap": 1000},
    ),
    case(
        "14.4-cap-open-ended-general-path",
        {R: "bytes= 100-"},
        206,
        [(100, 1099)],
        "bytes 100-1099/10000",
        kwargs={"open_ended_cap": 1000},
    ),
    case(
        "14.4-cap-not-needed",
        {R: "bytes=9000-"},
        206,
        [(9000, 9999)],
        "bytes 9000-9999/10000",
        kwargs={"open_ended_cap": 1000},
    ),
    case(
        "14.4-cap-not-for-suffix",
        {R: "bytes=-5000"},
        206,
        [(5000, 9999)],
        kwargs={"open_ended_cap": 1000},
    ),
    case(
        "14.4-cap-not-for-closed",
        {R: "bytes=0-8000"},
        206,
        [(0, 8000)],
        kwargs={"open_ended_cap": 1000},
    ),
    case(
        "14.4-cap-not-for-several",
        {R: "bytes=100-,200-300"},
        206,
        [(100, 9999)],
        kwargs={"open_ended_cap": 1000},
    ),
    # --- §13.1.1 If-Match (strong) -----------------------------------------------------------
    case("13.1.1-if-match-equal", {"If-Match": ETAG}, 200, WHOLE),
    case("13.1.1-if-match-star", {"If-Match": "*"}, 200, WHOLE),
    case("13.1.1-if-match-in-list", {"If-Match": f'"a", "b,c" ,{ETAG}'}, 200, WHOLE),
    case("13.1.1-if-match-other", {"If-Match": '"other"'}, 412),
    case("13.1.1-if-match-weak-never-strong", {"If-Match": f"W/{ETAG}"}, 412),
    case("13.1.1-if-match-garbage", {"If-Match": "garbage"}, 412),
    case("13.1.1-if-match-substring-only", {"If-Match": f'"x{ETAG[1:]}'}, 412),
    case("13.1.1-if-match-then-range", {"If-Match": ETAG, R: "bytes=0-0"}, 206, [(0, 0)]),
    case("13.1.1-if-match-fails-before-range", {"If-Match": '"x"', R: "bytes=0-0"}, 412),
    # --- §13.1.4 If-Unmodified-Since -------------------------------------------------------
    case("13.1.4-ius-equal", {"If-Unmodified-Since": LM}, 200, WHOLE),
    case("13.1.4-ius-later", {"If-Unmodified-Since": LM_PLUS_1}, 200, WHOLE),
    case("13.1.4-ius-earlier", {"If-Unmodified-Since": LM_MINUS_1}, 412),
    case("13.1.4-ius-invalid-ignored", {"If-Unmodified-Since": "yesterday"}, 200, WHOLE),
    case(
        "13.1.4-ius-list-ignored",
        {"If-Unmodified-Since": f"{LM_MINUS_1}, {LM_MINUS_1}"},
        200,
        WHOLE,
    ),
    case(
        "13.2.2-ius-ignored-when-if-match",
        {"If-Match": ETAG, "If-Unmodified-Since": LM_MINUS_1},
        200,
        WHOLE,
    ),
    case(
        "13.2.2-if-match-fails-ius-ok", {"If-Match": '"x"', "If-Unmodified-Since": LM_PLUS_1}, 412
    ),
    # --- §13.1.2 If-None-Match (weak) ------------------------------------------------------
    case("13.1.2-inm-equal", {"If-None-Match": ETAG}, 304),
    case("13.1.2-inm-weak-compare", {"If-None-Match": f"W/{ETAG}"}, 304),
    case("13.1.2-inm-star", {"If-None-Match": "*"}, 304),
    case("13.1.2-inm-list", {"If-None-Match": f'"x", W/"y" , W/{ETAG}'}, 304),
    case("13.1.2-inm-other", {"If-None-Match": '"other", W/"x"'}, 200, WHOLE),
    case("13.1.2-inm-garbage", {"If-None-Match": "garbage"}, 200, WHOLE),
    case("13.1.2-inm-head", {"If-None-Match": ETAG}, 304, method="HEAD"),
    case("13.1.2-inm-beats-range", {"If-None-Match": ETAG, R: "bytes=0-0"}, 304),
    case("13.2.2-if-match-before-inm", {"If-Match": '"x"', "If-None-Match": ETAG}, 412),
    case("13.2.2-ius-before-inm", {"If-Unmodified-Since": LM_MINUS_1, "If-None-Match": ETAG}, 412),
    # --- §13.1.3 If-Modified-Since ---------------------------------------------------------
    case("13.1.3-ims-equal", {"If-Modified-Since": LM}, 304),
    case("13.1.3-ims-later", {"If-Modified-Since": LM_PLUS_1}, 304),
    case("13.1.3-ims-earlier", {"If-Modified-Since": LM_MINUS_1}, 200, WHOLE),
    case("13.1.3-ims-rfc850", {"If-Modified-Since": LM_RFC850}, 304),
    case("13.1.3-ims-asctime", {"If-Modified-Since": LM_ASCTIME}, 304),
    case("13.1.3-ims-invalid-ignored", {"If-Modified-Since": "Sun, 06 Nov 1994"}, 200, WHOLE),
    case("13.1.3-ims-lowercase-invalid", {"If-Modified-Since": LM.lower()}, 200, WHOLE),
    case("13.1.3-ims-beats-range", {"If-Modified-Since": LM, R: "bytes=0-0"}, 304),
    case("13.1.3-ims-head", {"If-Modified-Since": LM}, 304, method="HEAD"),
    # §13.2.2 step 4 / §13.1.3: with If-None-Match present, If-Modified-Since is ignored.
    case(
        "13.2.2-inm-wins-over-ims-modified",
        {"If-None-Match": ETAG, "If-Modified-Since": LM_MINUS_1},
        304,
    ),
    case(
        "13.2.2-inm-miss-ignores-ims-not-modified",
        {"If-None-Match": '"other"', "If-Modified-Since": LM},
        200,
        WHOLE,
    ),
    # --- §13.1.5 If-Range ------------------------------------------------------------------
    case(
        "13.1.5-if-range-etag",
        {"If-Range": ETAG, R: "bytes=0-99"},
        206,
        [(0, 99)],
        "bytes 0-99/10000",
    ),
    case("13.1.5-if-range-weak-etag-never", {"If-Range": f"W/{ETAG}", R: "bytes=0-99"}, 200, WHOLE),
    case("13.1.5-if-range-other-etag", {"If-Range": '"other"', R: "bytes=0-99"}, 200, WHOLE),
    case("13.1.5-if-range-date-exact", {"If-Range": LM, R: "bytes=0-99"}, 206, [(0, 99)]),
    case("13.1.5-if-range-date-later", {"If-Range": LM_PLUS_1, R: "bytes=0-99"}, 200, WHOLE),
    case("13.1.5-if-range-date-earlier", {"If-Range": LM_MINUS_1, R: "bytes=0-99"}, 200, WHOLE),
    case(
        "13.1.5-if-range-date-rfc850-same-instant",
        {"If-Range": LM_RFC850, R: "bytes=0-99"},
        206,
        [(0, 99)],
    ),
    case("13.1.5-if-range-neither", {"If-Range": "tomorrow", R: "bytes=0-99"}, 200, WHOLE),
    case("13.1.5-if-range-without-range-ignored", {"If-Range": '"other"'}, 200, WHOLE),
    case("13.1.5-if-range-ok-invalid-range", {"If-Range": ETAG, R: "bytes=abc"}, 416, [], UNSAT),
    case("13.1.5-if-range-miss-invalid-range", {"If-Range": '"x"', R: "bytes=abc"}, 200, WHOLE),
    case(
        "13.1.5-if-range-multipart",
        {"If-Range": ETAG, R: "bytes=0-0,9999-"},
        206,
        [(0, 0), (9999, 9999)],
    ),
    # --- §9.3.2 HEAD + §14.2 (Range defined only for GET) -------------------------------
    case("9.3.2-head", {}, 200, [], method="HEAD"),
    case("14.2-head-ignores-range", {R: "bytes=0-0"}, 200, [], method="HEAD"),
    case("14.2-head-ignores-invalid-range", {R: "bytes=abc"}, 200, [], method="HEAD"),
    case("14.2-head-ignores-if-range", {R: "bytes=0-0", "If-Range": '"x"'}, 200, [], method="HEAD"),
]


@pytest.mark.parametrize("c", CASES)
def test_evaluate(c: Case) -> None:
    v = make_validators(c.size, MTIME_NS)
    data = DATA[: c.size] if c.size <= SIZE else bytes(c.size)
    plan = evaluate(
        c.method, Conditionals.from_headers(c.headers), v, CT, boundary=BOUNDARY, **c.kwargs
    )
    h = hdrs(plan)
    assert plan.status == c.status
    assert [(p.span.first, p.span.last) for p in plan.parts] == c.spans
    assert h.get("Content-Range") == (c.content_range or h.get("Content-Range"))
    if c.status == 206 and not plan.multipart:
        (span,) = c.spans
        assert h["Content-Range"] == f"bytes {span[0]}-{span[1]}/{c.size}"
    if c.status in (416,):
        assert h["Content-Range"] == f"bytes */{c.size}"
    if c.status != 416 and not (c.status == 206 and not plan.multipart):
        assert "Content-Range" not in h
    # Content-Length is exactly what the adapter writes (for HEAD: what GET would write).
    body = assemble(plan, data)
    if c.method == "GET":
        assert plan.content_length == len(body)
    else:
        assert body == b"" and not plan.send_body
        assert plan.content_length == (0 if c.status == 304 else c.size)
    if c.status == 304:
        assert "Content-Length" not in h
    else:
        assert h["Content-Length"] == str(plan.content_length)
    assert plan.multipart == (len(c.spans) > 1)
    assert ("Content-Type" in h) == plan.multipart
    if c.status in (200, 206, 416):
        assert (h["Accept-Ranges"], h["ETag"], h["Last-Modified"]) == ("bytes", v.etag, LM)
    assert plan.send_body == (c.method == "GET" and c.status in (200, 206))
    for part in plan.parts:
        assert 0 <= part.span.first <= part.span.last < c.size
        if not plan.multipart:
            assert part.preamble == b""
    if plan.multipart:
        got = parse_multipart(body, BOUNDARY)
        assert [(p["Content-Type"], p["Content-Range"], payload) for p, payload in got] == [
            (CT, f"bytes {a}-{b}/{c.size}", data[a : b + 1]) for a, b in c.spans
        ]
        assert h["Content-Type"] == f"multipart/byteranges; boundary={BOUNDARY}"


# --- exact headers per status --------------------------------------------------------------


def test_headers_exact_per_status() -> None:
    base = (("Accept-Ranges", "bytes"), ("ETag", ETAG), ("Last-Modified", LM))

    def run(**h: str) -> tuple[tuple[str, str], ...]:
        return evaluate("GET", Conditionals(**h), V, CT).headers

    assert run() == (*base, ("Content-Length", "10000"))  # §15.3.1
    assert run(range="bytes=1-2") == (
        *base,
        ("Content-Range", "bytes 1-2/10000"),
        ("Content-Length", "2"),
    )  # §15.3.7.1
    assert run(range="bytes=-0") == (
        *base,
        ("Content-Range", "bytes */10000"),
        ("Content-Length", "0"),
    )  # §15.5.17
    assert run(if_none_match=ETAG) == (("ETag", ETAG), ("Last-Modified", LM))  # §15.4.5
    assert run(if_match='"x"') == (("Content-Length", "0"),)  # §15.5.13


def test_multipart_exact_bytes_small_example() -> None:
    """§14.6: the whole body, byte for byte, for a 200-byte text file and two ranges."""
    data = (string.ascii_letters * 4)[:200].encode()
    v = make_validators(len(data), MTIME_NS)
    plan = evaluate("GET", Conditionals(range="bytes=0-1,10-11"), v, "text/plain", boundary="B")
    expected = (
        b"--B\r\nContent-Type: text/plain\r\nContent-Range: bytes 0-1/200\r\n\r\nab"
        b"\r\n--B\r\nContent-Type: text/plain\r\nContent-Range: bytes 10-11/200\r\n\r\nkl"
        b"\r\n--B--\r\n"
    )
    body = assemble(plan, data)
    assert body == expected
    assert plan.status == 206 and plan.multipart
    assert plan.content_length == len(expected) == 143  # 65 + 69 + 9
    assert dict(plan.headers)["Content-Length"] == "143"
    assert dict(plan.headers)["Content-Type"] == "multipart/byteranges; boundary=B"
    # A standard MIME parser reads it back.
    msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: multipart/byteranges; boundary=B\r\n\r\n" + body
    )
    parts = [(p["Content-Range"], p.get_payload()) for p in msg.iter_parts()]
    assert parts == [("bytes 0-1/200", "ab"), ("bytes 10-11/200", "kl")]
    assert msg.defects == []


def test_multipart_three_ranges_on_10000_bytes() -> None:
    """The brief's example, `bytes= 0-999, 4500-5499, -1000`, parsed back part by part."""
    plan = evaluate(
        "GET", Conditionals(range="bytes= 0-999, 4500-5499, -1000"), V, CT, boundary=BOUNDARY
    )
    body = assemble(plan, DATA)
    assert plan.content_length == len(body) == 3311  # 1089 + 1095 + 1095 + 32
    got = parse_multipart(body, BOUNDARY)
    assert [p["Content-Range"] for p, _ in got] == [
        "bytes 0-999/10000",
        "bytes 4500-5499/10000",
        "bytes 9000-9999/10000",
    ]
    assert [payload for _, payload in got] == [DATA[0:1000], DATA[4500:5500], DATA[9000:]]


def test_random_boundary() -> None:
    r = Conditionals(range="bytes=0-0,5-5")
    a, b = (evaluate("GET", r, V, CT) for _ in range(2))
    ba = dict(a.headers)["Content-Type"].removeprefix("multipart/byteranges; boundary=")
    bb = dict(b.headers)["Content-Type"].removeprefix("multipart/byteranges; boundary=")
    assert len(ba) == 32 and int(ba, 16) >= 0 and ba != bb
    assert a.parts[0].preamble.startswith(f"--{ba}\r\n".encode())
    assert a.epilogue == f"\r\n--{ba}--\r\n".encode()


@pytest.mark.parametrize(
    ("method", "kwargs"),
    [
        pytest.param("POST", {}, id="9.3-only-get-head"),
        pytest.param("get", {}, id="9.1-method-case-sensitive"),
        pytest.param("GET", {"boundary": ""}, id="rfc2046-boundary-empty"),
        pytest.param("GET", {"boundary": "a b"}, id="rfc2046-boundary-needs-quoting"),
        pytest.param("GET", {"boundary": "x" * 71}, id="rfc2046-boundary-too-long"),
        pytest.param("GET", {"open_ended_cap": 0}, id="config-cap-zero"),
        pytest.param("GET", {"max_ranges": -1}, id="config-max-ranges-negative"),
    ],
)
def test_bad_arguments_raise(method: str, kwargs: dict) -> None:
    with pytest.raises(ValueError):
        evaluate(method, Conditionals(), V, CT, **kwargs)


def test_content_type_with_crlf_rejected_in_multipart() -> None:
    with pytest.raises(ValueError):
        evaluate("GET", Conditionals(range="bytes=0-0,5-5"), V, "text/plain\r\nX-Evil: 1")


# --- HEAD is GET without a body (§9.3.2) -------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({}, id="9.3.2-plain"),
        pytest.param({R: "bytes=0-0"}, id="14.2-range"),
        pytest.param({R: "bytes=0-0,5-5"}, id="14.2-multi-range"),
        pytest.param({"If-None-Match": ETAG}, id="13.1.2-304"),
        pytest.param({"If-Match": '"x"'}, id="13.1.1-412"),
    ],
)
def test_head_headers_equal_get_without_range(headers: dict[str, str]) -> None:
    head = evaluate("HEAD", Conditionals.from_headers(headers), V, CT)
    no_range = {k: val for k, val in headers.items() if k != R}
    get = evaluate("GET", Conditionals.from_headers(no_range), V, CT)
    assert head.status == get.status
    assert head.headers == get.headers
    assert head.content_length == get.content_length
    assert head.parts == () and head.epilogue == b"" and not head.send_body


# --- validators and header access ---------------------------------------------------------


def test_make_validators() -> None:
    assert (
        Validators(
            size=10_000,
            mtime_ns=MTIME_NS,
            etag=f'"{MTIME_NS:x}-2710-0-0"',
            last_modified=LM,
            last_modified_s=784_111_777,
        )
        == V
    )
    assert email.utils.formatdate(784_111_777, usegmt=True) == LM
    # §8.8.3: strong, so it must change with any change of size or mtime (ns resolution).
    assert make_validators(SIZE + 1, MTIME_NS).etag != ETAG
    assert make_validators(SIZE, MTIME_NS + 1).etag != ETAG
    # and with what a same-size copy carrying the mtime (cp -p, rsync -t) cannot fake
    assert make_validators(SIZE, MTIME_NS, inode=7).etag != ETAG
    assert make_validators(SIZE, MTIME_NS, ctime_ns=1).etag != ETAG
    assert make_validators(SIZE, MTIME_NS, 7, 1).etag != make_validators(SIZE, MTIME_NS, 8, 1).etag
    assert make_validators(0, 0).last_modified == "Thu, 01 Jan 1970 00:00:00 GMT"
    assert make_validators(0, 5 * 10**9 + 999_999_999).last_modified_s == 5
    with pytest.raises(ValueError):
        make_validators(-1, 0)


def test_conditionals_from_headers_case_insensitive() -> None:
    raw = [
        ("range", "bytes=0-"),
        ("if-range", ETAG),
        ("IF-MATCH", "*"),
        ("If-None-Match", '"x"'),
        ("if-modified-since", LM),
        ("If-Unmodified-Since", LM),
    ]
    assert Conditionals.from_headers(CIMultiDict(raw)) == Conditionals(
        range="bytes=0-",
        if_range=ETAG,
        if_match="*",
        if_none_match='"x"',
        if_modified_since=LM,
        if_unmodified_since=LM,
    )
    assert Conditionals.from_headers({}) == Conditionals()


# --- §5.6.7 HTTP-date ------------------------------------------------------------------------

T0 = calendar.timegm((1994, 11, 6, 8, 49, 37))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(LM, T0, id="5.6.7-imf-fixdate"),
        pytest.param(f"  {LM} ", T0, id="5.6.7-ows-trimmed"),
        pytest.param(LM_RFC850, T0, id="5.6.7-rfc850"),
        pytest.param(LM_ASCTIME, T0, id="5.6.7-asctime-space-day"),
        pytest.param("Sun Nov 06 08:49:37 1994", T0, id="5.6.7-asctime-2digit-day"),
        pytest.param(
            "Thu, 29 Feb 1996 00:00:00 GMT",
            calendar.timegm((1996, 2, 29, 0, 0, 0)),
            id="5.6.7-leap-day",
        ),
        pytest.param(
            "Wed, 31 Dec 1997 23:59:60 GMT",
            calendar.timegm((1998, 1, 1, 0, 0, 0)),
            id="5.6.7-leap-second",
        ),
        pytest.param("sun, 06 Nov 1994 08:49:37 GMT", None, id="5.6.7-case-sensitive-day"),
        pytest.param("Sun, 06 nov 1994 08:49:37 GMT", None, id="5.6.7-case-sensitive-month"),
        pytest.param("Sun, 06 Nov 1994 08:49:37 UTC", None, id="5.6.7-not-gmt"),
        pytest.param("Sun, 6 Nov 1994 08:49:37 GMT", None, id="5.6.7-one-digit-day"),
        pytest.param("Sun, 31 Nov 1994 08:49:37 GMT", None, id="5.6.7-no-nov-31"),
        pytest.param("Fri, 29 Feb 1995 08:49:37 GMT", None, id="5.6.7-not-leap-year"),
        pytest.param("Sun, 06 Nov 1994 24:00:00 GMT", None, id="5.6.7-hour-24"),
        pytest.param("Sun, 06 Nov 1994 08:60:00 GMT", None, id="5.6.7-minute-60"),
        pytest.param("Sun, 06 Nov 1994 08:49:61 GMT", None, id="5.6.7-second-61"),
        pytest.param("Sun, 06 Nov 0000 08:49:37 GMT", None, id="5.6.7-year-0"),
        pytest.param(f"{LM}, {LM}", None, id="13.1.3-list-of-dates"),
        pytest.param("Sun, 06 Nov 1994 08:49:37 GMT\n", T0, id="5.6.7-trailing-newline-trimmed"),
        pytest.param("Sun, \u0660\u0666 Nov 1994 08:49:37 GMT", None, id="5.6.7-ascii-digits"),
        pytest.param("", None, id="5.6.7-empty"),
        pytest.param("784111777", None, id="5.6.7-epoch-number"),
    ],
)
def test_parse_http_date(text: str, expected: int | None) -> None:
    assert parse_http_date(text) == expected


def test_rfc850_two_digit_year_pivot() -> None:
    """§5.6.7: a two-digit year more than 50 years ahead belongs to the previous century."""
    this_year = time.gmtime().tm_year
    for ahead, expected_year in [
        (10, this_year + 10),
        (50, this_year + 50),
        (51, this_year + 51 - 100),
        (60, this_year + 60 - 100),
    ]:
        text = f"Monday, 01-Jan-{(this_year + ahead) % 100:02d} 00:00:00 GMT"
        assert parse_http_date(text) == calendar.timegm((expected_year, 1, 1, 0, 0, 0)), ahead


# --- DoS and speed (§14.2) ------------------------------------------------------------


def test_ten_thousand_members_linear() -> None:
    size = 10**9
    v = make_validators(size, MTIME_NS)
    members = ",".join(f"{i * 50_000}-{i * 50_000 + 9}" for i in range(10_000))
    cond = Conditionals(range="bytes=" + members)
    plan = evaluate("GET", cond, v, CT, max_ranges=20_000)
    assert plan.status == 206 and len(plan.parts) == 10_000
    assert plan.content_length == sum(len(p.preamble) + p.span.length for p in plan.parts) + len(
        plan.epilogue
    )

    def run(n: int) -> None:
        header = "bytes=" + ",".join(f"{i * 50_000}-{i * 50_000 + 9}" for i in range(n))
        evaluate("GET", Conditionals(range=header), v, CT, max_ranges=50_000)

    assert growth(run, 10_000) < 2.3  # linear (measured 2.0); quadratic would be ~4


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda n: "bytes=" + " " * n + "x", id="14.2-long-whitespace"),
        pytest.param(lambda n: "bytes=" + "1" * n + "x", id="14.2-long-digits"),
        pytest.param(lambda n: "bytes=" + "1" * n + "-" + "1" * n + "x", id="14.2-long-range"),
        pytest.param(lambda n: "bytes=" + ",".join(["0-0"] * n), id="14.2-many-members-ignored"),
        pytest.param(lambda n: "bytes=" + "," * n + "0-0", id="14.2-many-empty-elements"),
    ],
)
def test_pathological_headers_are_linear(make) -> None:
    def run(n: int) -> None:
        value = make(n)
        cond = Conditionals(range=value, if_none_match=value, if_match=None, if_range=None)
        evaluate("GET", cond, V, CT)

    assert growth(run, 100_000) < 2.3  # constant or linear in the header's length
