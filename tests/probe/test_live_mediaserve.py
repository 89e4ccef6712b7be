"""``mediaserve probe`` against ``mediaserve serve`` itself, started as a subprocess."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.probe.conftest import VIDEO_SIZE, cases_by_id, serve_supports_port

pytestmark = pytest.mark.skipif(not serve_supports_port(),
                                reason="mediaserve serve is still a placeholder (no --port)")


def test_probe_and_check_pass(probe, mediaserve_url: str, video: Path) -> None:
    run = probe(mediaserve_url, "--json", "--verify", str(video))
    assert run.code == 0, run.out
    assert run.json["ranges_supported"] is True and run.json["size"] == VIDEO_SIZE

    check = probe(mediaserve_url, "--check", "--json", "--verify", str(video))
    assert check.code == 0, check.out
    cases = cases_by_id(check.json)
    # judged by the RFC, not by our own choices: no row may FAIL, and the rows where
    # mediaserve chose the stricter RFC reading (HEAD ignores Range) must PASS outright
    assert not [c for c in cases.values() if c["verdict"] == "FAIL"]
    assert cases["head-range"]["verdict"] == "PASS" and cases["head-range"]["status"] == 200
    assert cases["if-range-current"]["status"] == 206
    assert cases["inm-and-ims"]["status"] == 304  # where nginx answers 200
    assert cases["keep-alive"]["verdict"] == "PASS"


def test_seeks(probe, mediaserve_url: str, video: Path) -> None:
    run = probe(mediaserve_url, "--seeks", "200", "--concurrency", "8", "--seed", "11",
                "--verify", str(video), "--json")
    assert run.code == 0, run.out
    report = run.json
    assert (report["ok"], report["failed"]) == (200, 0)
    lat = report["latency_ms"]
    assert 0 < lat["p50"] <= lat["p99"] <= lat["max"]


@pytest.mark.parametrize("mode", [[], ["--check"], ["--seeks", "5"], ["--json"]])
def test_a_player_page_url_points_at_the_stream(probe, mediaserve_url: str,
                                                mode: list[str]) -> None:
    """The address bar's /watch/ID is an HTML page: the probe names the stream URL to probe
    (exit 2) instead of reporting "Range support: no" about it."""
    base, vid = mediaserve_url.split("/api/videos/")
    vid = vid.split("/")[0]
    page = f"{base}/watch/{vid}?token=x"
    run = probe(page, *mode)
    assert run.code == 2, run.out + run.err
    stream = f"{base}/api/videos/{vid}/stream?token=x"
    assert "Range support" not in run.out
    if mode == ["--json"]:
        assert run.json["error"]["stream_url"] == stream
        assert run.json["error"]["kind"] == "player-page"
    else:
        assert f"player page (HTML), not the video; probe the video's stream: " \
               f"mediaserve probe {stream}" in " ".join(run.err.split())
    # the stream itself is probed as usual
    assert probe(f"{base}/api/videos/{vid}/stream").code == 0
