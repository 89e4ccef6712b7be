"""``mediaserve probe`` against a real nginx 1.22 (Debian package) with default settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.probe.conftest import VIDEO_SIZE, cases_by_id

pytestmark = pytest.mark.nginx

#: nginx's known behaviour, judged by RFC 9110. Everything passes except two rows:
#: nginx answers HEAD + Range with 206 (its range filter does not look at the method), where
#: §14.2 says Range is defined for GET only; the headers it sends are consistent: WARN.
#: nginx evaluates If-None-Match and If-Modified-Since independently, so a matching ETag
#: with an old date gets 200 where §13.2.2 (and §13.1.3's MUST ignore) require 304: FAIL.
NGINX_VERDICTS = {
    "plain-get": "PASS", "validators": "PASS", "head": "PASS", "single-range": "PASS",
    "open-ended": "PASS", "suffix": "PASS", "end-beyond": "PASS", "last-byte": "PASS",
    "unsatisfiable": "PASS", "invalid-order": "PASS", "invalid-syntax": "PASS",
    "unknown-unit": "PASS", "multi-range": "PASS", "head-range": "WARN",
    "if-range-current": "PASS", "if-range-stale": "PASS", "if-none-match": "PASS",
    "inm-and-ims": "FAIL", "keep-alive": "PASS",
}


def test_probe_reports_range_support(probe, nginx_url: str) -> None:
    run = probe(nginx_url, "--json")
    assert run.code == 0, run.out
    report = run.json
    assert report["ranges_supported"] is True and report["size"] == VIDEO_SIZE
    head, one_byte = report["exchanges"]
    assert (head["method"], head["status"]) == ("HEAD", 200)
    assert one_byte["status"] == 206 and one_byte["received"] == 1
    assert dict(map(tuple, one_byte["headers"]))["Content-Range"] == f"bytes 0-0/{VIDEO_SIZE}"
    assert 0 < one_byte["ttfb_ms"] <= one_byte["total_ms"]


def test_probe_table_shows_the_headers_that_matter(probe, nginx_url: str) -> None:
    run = probe(nginx_url, "--range", "1000-1999", "--range", "0-99,1000000-1000099")
    assert run.code == 0
    for words in ("206 Partial Content", f"bytes 1000-1999/{VIDEO_SIZE}", "Accept-Ranges",
                  "multipart/byteranges", "2 parts: 0-99, 1000000-1000099", "nginx/",
                  "Time to first byte", "Range support: yes"):
        assert words in run.out, words


def test_check_rows_match_nginx_behaviour(probe, nginx_url: str, video: Path) -> None:
    run = probe(nginx_url, "--check", "--json", "--verify", str(video))
    assert run.code == 1, run.out  # the If-None-Match + If-Modified-Since row FAILs
    cases = cases_by_id(run.json)
    assert {k: v["verdict"] for k, v in cases.items()} == NGINX_VERDICTS
    assert cases["head-range"]["status"] == 206
    assert cases["unsatisfiable"]["did"].startswith(f"416, bytes */{VIDEO_SIZE}")
    assert cases["if-none-match"]["status"] == 304
    assert cases["inm-and-ims"]["status"] == 200
    assert "§13.2.2" in cases["inm-and-ims"]["section"]
    assert "1 connection(s)" in cases["keep-alive"]["did"]
    # the bytes of every partial answer were compared with the file, not just counted
    verified = [f for c in cases.values() for f in c["findings"]
                if "match the reference" in f["message"]]
    assert len(verified) >= 8


def test_check_table(probe, nginx_url: str) -> None:
    run = probe(nginx_url, "--check")
    assert run.code == 1
    assert "17 PASS · 1 WARN · 1 FAIL · 0 SKIP" in run.out
    assert "206 to HEAD" in run.out and "§14.2" in run.out


def test_seeks(probe, nginx_url: str, video: Path) -> None:
    run = probe(nginx_url, "--seeks", "300", "--concurrency", "8", "--size", "32KiB",
                "--seed", "7", "--verify", str(video), "--json")
    assert run.code == 0, run.out
    report = run.json
    assert (report["requested"], report["ok"], report["failed"]) == (300, 300, 0)
    assert report["bytes"] == 300 * 32 * 1024
    lat = report["latency_ms"]
    assert 0 < lat["min"] <= lat["p50"] <= lat["p90"] <= lat["p99"] <= lat["max"]
    assert lat["count"] == 300  # statistics over every seek; how fast is benchmarks/' job
    assert sum(b["count"] for b in report["histogram"]) == 300
    assert 1 <= report["connections"] <= 8  # keep-alive: the pool, not one per request
    assert report["seed"] == 7


def test_seeks_table(probe, nginx_url: str) -> None:
    run = probe(nginx_url, "--seeks", "50", "--concurrency", "4", "--seed", "1")
    assert run.code == 0
    for words in ("latency (ms)", "p99", "histogram", "50 (50 ok, 0 failed)", "Seed", "1",
                  "Design targets"):
        assert words in run.out, words
