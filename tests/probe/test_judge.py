"""The RFC 9110 judge on hand-built exchanges: each rule can PASS and can FAIL.

These cover the behaviours no server at hand exhibits (an off-by-one Content-Range, a
multipart answer to a single range, a 206 that lost its ETag...). The live tests cover the
same code against nginx, http.server and mediaserve.
"""

from __future__ import annotations

import random

import pytest

from mediaserve.core.probe.battery import CaseRequest, judge_case, plan_cases
from mediaserve.core.probe.content_range import ByteRangeSpec, parse_range_set
from mediaserve.core.probe.exchange import Exchange
from mediaserve.core.probe.judges import judge_range_get
from mediaserve.core.probe.partial import judge_partial
from mediaserve.core.probe.rows import judge_keepalive
from mediaserve.core.probe.seeks import classify_seek
from mediaserve.core.probe.verdicts import Level, Resource, verdict

DATA = random.Random(9).randbytes(10_000)
SIZE = len(DATA)
BASE_HEADERS = (("Content-Type", "video/mp4"), ("ETag", '"v1"'), ("Date", "x"),
                ("Last-Modified", "Wed, 01 Jan 2025 00:00:00 GMT"))
RES = Resource(size=SIZE, headers=BASE_HEADERS,
               reference=lambda offset, length: DATA[offset:offset + length])


def partial(first: int, last: int, *, body: bytes | None = None, length: int | None = None,
            content_range: str | None = None, headers: tuple = BASE_HEADERS,
            end: str = "complete") -> Exchange:
    """A 206 as a well-behaved server would send it, with one thing changed."""
    body = DATA[first:last + 1] if body is None else body
    value = f"bytes {first}-{last}/{SIZE}" if content_range is None else content_range
    fields = (*headers, ("Content-Range", value),
              ("Content-Length", str(len(body) if length is None else length)))
    return Exchange("GET", "http://t/", (), 206, "Partial Content", fields, body, end)


def specs(text: str) -> tuple[ByteRangeSpec, ...]:
    return parse_range_set(text)


def levels(findings: list) -> set[str]:
    return {f.level.value for f in findings}


def test_exact_206_passes_and_is_verified() -> None:
    findings = judge_partial(partial(100, 1099), specs("100-1099"), RES)
    assert verdict(findings) is Level.PASS
    assert any("match the reference" in f.message for f in findings)


@pytest.mark.parametrize(("exchange", "expected", "words"), [
    # off by one: says 100-1100 but carries 1000 bytes
    (partial(100, 1099, content_range=f"bytes 100-1100/{SIZE}"), Level.FAIL, "covers 1001"),
    # Content-Length larger than the content actually read
    (partial(100, 1099, length=1001), Level.FAIL, "Content-Length 1001"),
    # always from byte 0, truthfully labelled: not what was asked
    (partial(0, 999), Level.FAIL, "not what was asked"),
    # a truthful subset from the requested first byte: allowed (§15.3.7)
    (partial(100, 599), Level.PASS, "truthful subset"),
    # a subset that does not start at the first byte asked
    (partial(200, 599), Level.WARN, "not from its first byte"),
    # wrong complete length
    (partial(100, 1099, content_range="bytes 100-1099/20000"), Level.FAIL, "complete length"),
    # unknown complete length: SHOULD be given
    (partial(100, 1099, content_range="bytes 100-1099/*"), Level.WARN, "'*'"),
    # right labels, wrong bytes
    (partial(100, 1099, body=DATA[101:1101]), Level.FAIL, "byte 100 is"),
    # lost the ETag the 200 carries (§15.3.7 MUST)
    (partial(100, 1099, headers=(("Content-Type", "video/mp4"), ("Date", "x"),
                                 ("Last-Modified", "Wed, 01 Jan 2025 00:00:00 GMT"))),
     Level.FAIL, "lacks ETag"),
])
def test_single_part_206_rules(exchange: Exchange, expected: Level, words: str) -> None:
    findings = judge_partial(exchange, specs("100-1099"), RES)
    assert verdict(findings) is expected
    assert any(words in f.message for f in findings), findings


def test_206_without_content_range_fails() -> None:
    ex = Exchange("GET", "u", (), 206, "", (*BASE_HEADERS, ("Content-Length", "10")),
                  DATA[:10])
    findings = judge_partial(ex, specs("0-9"), RES)
    assert verdict(findings) is Level.FAIL
    assert findings[-1].section == "§15.3.7.1" or any(
        f.section == "§15.3.7.1" for f in findings)


def _multipart_exchange(spans: list[tuple[int, int]], *, top_range: bool = False) -> Exchange:
    body = b""
    for a, b in spans:
        body += (b"\r\n--XYZ\r\nContent-Type: video/mp4\r\n"
                 + f"Content-Range: bytes {a}-{b}/{SIZE}\r\n\r\n".encode() + DATA[a:b + 1])
    body += b"\r\n--XYZ--\r\n"
    headers = [("Content-Type", "multipart/byteranges; boundary=XYZ"), ("ETag", '"v1"'),
               ("Date", "x"), ("Last-Modified", "Wed, 01 Jan 2025 00:00:00 GMT"),
               ("Content-Length", str(len(body)))]
    if top_range:
        headers.append(("Content-Range", f"bytes 0-9/{SIZE}"))
    return Exchange("GET", "u", (), 206, "", tuple(headers), body)


def test_multipart_rules() -> None:
    asked = specs("0-99,5000-5099")
    good = judge_partial(_multipart_exchange([(0, 99), (5000, 5099)]), asked, RES)
    assert verdict(good) is Level.PASS
    swapped = judge_partial(_multipart_exchange([(5000, 5099), (0, 99)]), asked, RES)
    assert verdict(swapped) is Level.WARN  # order is a SHOULD
    missing = judge_partial(_multipart_exchange([(0, 99)]), asked, RES)
    assert any("1 of 2 requested ranges not answered" in f.message for f in missing)
    single = judge_partial(_multipart_exchange([(0, 99)]), specs("0-99"), RES)
    assert verdict(single) is Level.FAIL  # multipart for a single range: MUST NOT
    top = judge_partial(_multipart_exchange([(0, 99), (5000, 5099)], top_range=True), asked,
                        RES)
    assert any("header section of a multipart" in f.message for f in top)


def test_multi_range_coalesced_into_one_part() -> None:
    near = judge_partial(partial(0, 299), specs("0-99,200-299"), RES)
    assert verdict(near) is Level.PASS  # a 100-byte gap: cheaper than multipart framing
    far = judge_partial(partial(0, 5099), specs("0-99,5000-5099"), RES)
    assert verdict(far) is Level.WARN


@pytest.mark.parametrize(("status", "primary", "expected"), [
    (200, True, Level.FAIL),  # the range-support probe: no seeking possible
    (200, False, Level.WARN),  # §14.2 SHOULD
    (416, False, Level.FAIL),  # 416 for a satisfiable range
    (500, False, Level.FAIL),
])
def test_status_for_a_satisfiable_range(status: int, primary: bool, expected: Level) -> None:
    headers = (("Content-Length", str(SIZE)),) if status == 200 else (
        ("Content-Range", f"bytes */{SIZE}"), ("Content-Length", "0"))
    body = DATA if status == 200 else b""
    ex = Exchange("GET", "u", (), status, "", headers, body)
    assert verdict(judge_range_get(ex, specs("0-0"), RES, primary=primary)) is expected


def test_multi_range_answered_200_is_a_warning_even_as_primary() -> None:
    ex = Exchange("GET", "u", (), 200, "", (("Content-Length", str(SIZE)),), DATA)
    assert verdict(judge_range_get(ex, specs("0-9,50-59"), RES, primary=True)) is Level.WARN


def _case(case_id: str) -> CaseRequest:
    return next(c for c in plan_cases(RES) if c.id == case_id)


@pytest.mark.parametrize(("case_id", "status", "headers", "expected"), [
    ("unsatisfiable", 416, (("Content-Range", f"bytes */{SIZE}"),), Level.PASS),
    ("unsatisfiable", 416, (), Level.WARN),  # Content-Range SHOULD be sent
    ("unsatisfiable", 416, (("Content-Range", "bytes */5"),), Level.FAIL),
    ("invalid-order", 200, (), Level.PASS),  # MAY ignore
    ("invalid-order", 416, (), Level.PASS),  # MAY reject
    ("invalid-syntax", 206, (("Content-Range", "bytes 0-9/10000"),), Level.FAIL),
    ("unknown-unit", 200, (), Level.PASS),
    ("unknown-unit", 416, (), Level.FAIL),  # an origin MUST ignore an unknown unit
    ("head-range", 200, (), Level.PASS),
    ("head-range", 206, (("Content-Range", f"bytes 3333-4332/{SIZE}"),), Level.WARN),
    ("head-range", 206, (("Content-Range", f"bytes 0-999/{SIZE}"),), Level.FAIL),
    ("if-range-stale", 200, (), Level.PASS),
    ("if-range-stale", 206, (("Content-Range", f"bytes 3333-4332/{SIZE}"),), Level.FAIL),
    ("if-range-current", 200, (), Level.WARN),  # SHOULD process the Range
    ("if-none-match", 304, (("ETag", '"v1"'), ("Date", "x")), Level.PASS),
    ("if-none-match", 304, (("Date", "x"),), Level.FAIL),  # 304 MUST carry the ETag
    ("if-none-match", 200, (), Level.FAIL),
    ("inm-and-ims", 304, (("ETag", '"v1"'), ("Date", "x")), Level.PASS),
    ("inm-and-ims", 200, (), Level.FAIL),  # §13.1.3: If-Modified-Since MUST be ignored
])
def test_battery_verdicts(case_id: str, status: int, headers: tuple, expected: Level) -> None:
    case = _case(case_id)
    method = case.method
    full = status == 200 and method == "GET"
    body = DATA if full else (DATA[3333:4333] if status == 206 and method == "GET" else b"")
    base = BASE_HEADERS if method == "HEAD" else ()  # a HEAD repeats GET's fields
    fields = (*base, *headers, ("Content-Length", str(SIZE if status == 200 else len(body))))
    end = "none" if method == "HEAD" or status == 304 else "complete"
    ex = Exchange(method, "u", case.headers, status, "", fields, body, end)
    result = judge_case(ex, case, RES)
    assert result.level is expected, result


def test_plan_avoids_byte_zero_and_stays_small() -> None:
    cases = {c.id: c for c in plan_cases(RES)}
    assert dict(cases["single-range"].headers)["Range"] == "bytes=3333-4332"
    assert dict(cases["if-range-current"].headers)["If-Range"] == '"v1"'
    tiny = {c.id: c for c in plan_cases(Resource(size=2))}
    assert tiny["multi-range"].skip and tiny["single-range"].skip
    assert not tiny["unsatisfiable"].skip


def test_keepalive_counts_connections() -> None:
    asked = [ByteRangeSpec(1000, 1009), ByteRangeSpec(2000, 2009)]
    exchanges = [partial(s.first, s.last) for s in asked if s.first is not None and s.last]
    assert judge_keepalive(exchanges, asked, 1, RES).level is Level.PASS
    assert judge_keepalive(exchanges, asked, 2, RES).level is Level.WARN


@pytest.mark.parametrize(("exchange", "kind"), [
    (partial(100, 1099), None),
    (partial(100, 599), None),  # truthful, shorter: a player reads on
    (partial(0, 999), "content-range"),
    (partial(100, 1099, body=DATA[100:600], end="truncated"), "truncated"),
    (partial(100, 1099, body=DATA[101:1101]), "wrong-bytes"),
    (Exchange("GET", "u", (), 200, "", (), b""), "status 200"),
])
def test_classify_seek(exchange: Exchange, kind: str | None) -> None:
    assert classify_seek(exchange, 100, 1099, RES.reference)[0] == kind
