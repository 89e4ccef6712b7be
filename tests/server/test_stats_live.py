"""Statistics on a real server: a known sequence of requests, then the exact counters in
``/api/stats``, the per-video endpoint and ``/metrics`` (parsed with prometheus-client)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from mediaserve.adapters.media.clips import ClipSpec, encode_clip
from mediaserve.core.stats.analytics import MAX_BODY_BYTES
from tests.server.conftest import MIB, Lib, blob, fds_open_on
from tests.server.rawhttp import read_head

UNKNOWN = "/api/videos/000000000000/stream"


@pytest.fixture(scope="module")
def clip_bytes(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A real 4 s clip (so the index knows its duration), encoded once for the module."""
    folder = tmp_path_factory.mktemp("clip")
    return encode_clip(folder, ClipSpec("clip.mp4", seconds=4.0)).read_bytes()


@pytest.fixture
def stats_lib(tmp_path: Path, library_maker: Callable[[Path, dict], Lib],
              clip_bytes: bytes) -> Lib:
    return library_maker(tmp_path / "lib", {"clip.mp4": clip_bytes,
                                            "big.mp4": blob(12 * MIB, seed=4)})


async def _wait(predicate: Callable[[], bool], what: str) -> None:
    for _ in range(500):
        if predicate():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


def _metrics(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


async def test_exact_counters_in_all_three_views(serve, stats_lib: Lib) -> None:
    served = await serve(stats_lib)
    clip, big = stats_lib.ids["clip.mp4"], stats_lib.ids["big.mp4"]
    clip_url, big_url = stats_lib.stream("clip.mp4"), stats_lib.stream("big.mp4")
    size = len(stats_lib.data["clip.mp4"])

    # -------- a known sequence of stream requests
    full = await served.fetch("GET", clip_url)
    assert full.status == 200 and len(full.body) == size
    first = await served.fetch("GET", clip_url, {"Range": "bytes=0-999"})
    assert first.status == 206
    multi = await served.fetch("GET", clip_url, {"Range": f"bytes=0-9,{size - 100}-"})
    assert multi.status == 206 and "multipart" in multi.headers["Content-Type"]
    unsatisfiable = await served.fetch("GET", clip_url, {"Range": f"bytes={size + 10}-"})
    assert unsatisfiable.status == 416
    head = await served.fetch("HEAD", clip_url)
    assert head.status == 200
    cached = await served.fetch("GET", clip_url, {"If-None-Match": full.headers["ETag"]})
    assert cached.status == 304
    unknown = await served.fetch("GET", UNKNOWN)
    assert unknown.status == 404

    # an aborted stream: the client reads 300 kB of a 12 MB answer, then resets
    conn = await served.connect(rcvbuf=16 * 1024)
    conn.send("GET", big_url, {"Range": "bytes=1000-"})
    assert (await asyncio.wait_for(read_head(conn.reader), 10)).status == 206
    await asyncio.wait_for(conn.reader.readexactly(300_000), 10)
    during = (await served.get_json("/api/stats"))[1]["global"]
    assert during["active_streams"] == 1 and during["bytes_sent"] >= 300_000  # while it runs
    conn.abort()
    await _wait(lambda: sum(r["path"] == big_url for r in served.records) == 1
                and fds_open_on(stats_lib.path("big.mp4")) == 0, "the aborted stream to end")

    # -------- player seek reports, good and bad
    async with aiohttp.ClientSession() as session:
        async def post(vid: str, body: bytes | str) -> tuple[int, Any]:
            async with session.post(served.url(f"/api/videos/{vid}/seek-analytics"),
                                    data=body) as resp:
                return resp.status, await resp.json()

        assert await post(clip, '{"positions": [0, 2.0, 3.99]}') == (202, {"accepted": 3})
        assert await post(clip, b'{"positions": [0.1]}') == (202, {"accepted": 1})
        status, doc = await post(clip, "{not json")
        assert status == 400 and "not valid JSON" in doc["error"]
        status, doc = await post(clip, '{"positions": [-1]}')
        assert status == 400 and "outside the video" in doc["error"]
        status, doc = await post(big, '{"positions": [1]}')  # random bytes: no duration
        assert status == 400 and "duration is unknown" in doc["error"]
        assert (await post("000000000000", '{"positions": [1]}'))[0] == 404
        status, doc = await post(clip, json.dumps({"positions": [1] * 5000}))
        assert status == 413 and str(MAX_BODY_BYTES) in doc["error"]

    # -------- the counters, exactly
    stream_records = [r for r in served.records if r["path"].endswith("/stream")]
    assert len(stream_records) == 8
    aborted = next(r for r in stream_records if r["path"] == big_url)
    assert 300_000 <= aborted["sent"] < 12 * MIB
    sent = sum(r["sent"] or 0 for r in stream_records)
    assert sent == size + 1000 + len(multi.body) + aborted["sent"]

    status, snap = await served.get_json("/api/stats")
    assert status == 200
    glob = snap["global"]
    assert glob["requests"] == 8
    assert glob["status"] == {"200": 2, "206": 3, "304": 1, "404": 1, "416": 1}
    assert glob["bytes_sent"] == sent
    assert glob["ranges_served"] == 4  # 0-999, two multipart parts, 1000-
    assert glob["range_bytes"] == 1000 + 10 + 100 + (12 * MIB - 1000)
    assert glob["aborts"] == 1 and glob["active_streams"] == 0
    assert glob["player_seeks"] == 4
    assert glob["response_ms"]["count"] == 7 and glob["ttfb_ms"]["count"] == 7
    assert sum(glob["range_size_histogram"]["counts"]) == 4
    assert glob["throughput_bytes"]["60s"] == sent
    assert [row["id"] for row in snap["videos"]] == [big, clip]  # by bytes sent
    assert snap["other"] is None

    status, row = await served.get_json(f"/api/videos/{clip}/streaming-stats")
    assert status == 200
    assert row["title"] == "clip.mp4" and row["requests"] == 6
    assert row["status"] == {"200": 2, "206": 2, "304": 1, "416": 1}
    assert row["bytes_sent"] == size + 1000 + len(multi.body)
    assert row["ranges_served"] == 3 and row["aborts"] == 0
    assert row["seek_heatmap"][0] == 2 and row["seek_heatmap"][49] == 1
    duration = stats_lib.index.videos[clip].facts.duration
    expected = [0] * 50
    for position in (0, 2.0, 3.99, 0.1):
        expected[min(49, int(position / duration * 50))] += 1
    assert row["player_seeks"] == 4 and row["player_seek_heatmap"] == expected
    listed = next(r for r in snap["videos"] if r["id"] == clip)
    # each read turns the monotonic last_seen into wall time with both clocks read then:
    # two reads may round a millisecond apart (a CI run saw .741 against .74)
    assert abs(row.pop("last_seen") - listed.pop("last_seen")) <= 0.002
    assert row == listed

    status, row = await served.get_json(f"/api/videos/{big}/streaming-stats")
    assert row["requests"] == 1 and row["aborts"] == 1 and row["status"] == {"206": 1}
    assert row["bytes_sent"] == aborted["sent"] and row["seek_heatmap"][0] == 1

    metrics = await served.fetch("GET", "/metrics")
    assert metrics.status == 200 and metrics.headers["Content-Type"].startswith("text/plain")
    samples = _metrics(metrics.body.decode())
    for code, count in glob["status"].items():
        assert samples[("mediaserve_requests_total", (("status", code),))] == count
    assert samples[("mediaserve_bytes_sent_total", ())] == sent
    assert samples[("mediaserve_ranges_served_total", ())] == 4
    assert samples[("mediaserve_aborts_total", ())] == 1
    assert samples[("mediaserve_player_seeks_total", ())] == 4
    assert samples[("mediaserve_active_streams", ())] == 0
    assert samples[("mediaserve_response_seconds_count", ())] == 7
    assert samples[("mediaserve_range_size_bytes_count", ())] == 4
    assert samples[("mediaserve_range_size_bytes_sum", ())] == glob["range_bytes"]
    assert samples[("mediaserve_range_size_bytes_bucket", (("le", "1024.0"),))] == 3
    assert samples[("mediaserve_video_requests_total", (("video", clip),))] == 6
    assert samples[("mediaserve_video_bytes_sent_total", (("video", big),))] == aborted["sent"]


async def test_unknown_ids_bad_queries_and_rate_limits(serve, stats_lib: Lib) -> None:
    served = await serve(stats_lib)
    clip = stats_lib.ids["clip.mp4"]
    status, doc = await served.get_json("/api/videos/000000000000/streaming-stats")
    assert status == 404 and doc["error"] == "unknown video id"
    status, row = await served.get_json(f"/api/videos/{clip}/streaming-stats")
    assert status == 200 and row["requests"] == 0 and row["last_seen"] is None
    for bad in ("-1", "x", "1e3", "100000", ""):
        status, doc = await served.get_json(f"/api/stats?top={bad}")
        assert status == 400 and "top must be" in doc["error"], bad
    status, snap = await served.get_json("/api/stats?top=0")
    assert status == 200 and snap["videos"] == [] and snap["other"] is None

    url = served.url(f"/api/videos/{clip}/seek-analytics")
    accepted = 0
    async with aiohttp.ClientSession() as session:
        for _ in range(5):  # 100 positions a report: the bucket (120) holds one report
            async with session.post(url, json={"positions": [1.0] * 100}) as resp:
                if resp.status == 429:
                    assert int(resp.headers["Retry-After"]) >= 1
                    assert "slow down" in (await resp.json())["error"]
                    break
                assert resp.status == 202
                accepted += (await resp.json())["accepted"]
        else:
            raise AssertionError("never rate-limited")
    assert accepted == 100
    assert (await served.get_json("/api/stats"))[1]["global"]["player_seeks"] == 100


async def test_stats_off(serve, stats_lib: Lib) -> None:
    """``stats = false``: streams still work, the statistics endpoints say they are off."""
    served = await serve(stats_lib, stats=False)
    clip = stats_lib.ids["clip.mp4"]
    response = await served.fetch("GET", stats_lib.stream("clip.mp4"), {"Range": "bytes=0-9"})
    assert response.status == 206 and len(response.body) == 10
    for path in ("/api/stats", f"/api/videos/{clip}/streaming-stats"):
        status, doc = await served.get_json(path)
        assert status == 404 and "turned off" in doc["error"], path
    assert (await served.fetch("GET", "/metrics")).status == 404
    async with aiohttp.ClientSession() as session, session.post(
            served.url(f"/api/videos/{clip}/seek-analytics"), json={"positions": [1]}) as resp:
        assert resp.status == 404 and "turned off" in (await resp.json())["error"]
