"""``mediaserve probe`` against ``python -m http.server``: a server with no range support."""

from __future__ import annotations

from tests.probe.conftest import VIDEO_SIZE, cases_by_id

#: http.server answers 200 with the whole file to everything, speaks HTTP/1.0 (one request
#: per connection), sends Last-Modified but no ETag and ignores If-None-Match.
HTTP_SERVER_VERDICTS = {
    "plain-get": "PASS",
    "validators": "WARN",  # no ETag (§8.8.3 SHOULD)
    "head": "PASS",
    "single-range": "FAIL",  # Range ignored: no seeking possible
    "open-ended": "WARN", "suffix": "WARN", "end-beyond": "WARN", "last-byte": "WARN",
    "unsatisfiable": "PASS",  # 200: consistent with no range support at all
    "invalid-order": "PASS", "invalid-syntax": "PASS", "unknown-unit": "PASS",
    "multi-range": "WARN",  # MAY ignore
    "head-range": "PASS",
    "if-range-current": "PASS",  # MUST ignore If-Range when ranges are unsupported
    "if-range-stale": "PASS",
    "if-none-match": "FAIL",  # If-None-Match: * on an existing resource MUST give 304
    "inm-and-ims": "FAIL",
    "keep-alive": "WARN",  # three connections for three requests
}


def test_probe_says_no_range_support_and_exits_1(probe, http_server_url: str) -> None:
    run = probe(http_server_url)
    assert run.code == 1
    assert "Range support: no" in run.out
    assert "Range ignored (200, whole representation)" in run.out

    report = probe(http_server_url, "--json").json
    assert report["ranges_supported"] is False and report["exit_code"] == 1
    assert report["exchanges"][1]["status"] == 200
    assert report["exchanges"][1]["received"] == VIDEO_SIZE


def test_check_fails(probe, http_server_url: str) -> None:
    run = probe(http_server_url, "--check", "--json")
    assert run.code == 1
    cases = cases_by_id(run.json)
    assert {k: v["verdict"] for k, v in cases.items()} == HTTP_SERVER_VERDICTS
    assert "3 connection(s)" in cases["keep-alive"]["did"]
    assert cases["if-range-current"]["request"].startswith("GET Range:")  # a date validator
    assert "If-Range: " in cases["if-range-current"]["request"]


def test_seeks_refuse_without_range_support(probe, http_server_url: str) -> None:
    run = probe(http_server_url, "--seeks", "20", "--json")
    assert run.code == 1
    assert "no range support" in run.json["error"]
