"""Issue 19's statistics through a real server: live conversions by mode, the queue, the
real-time factor and the segment cache's hit ratio in ``/api/stats``, ``/metrics`` (read with
prometheus-client's own parser) and ``mediaserve stats`` (``--once``, a log line, ``--json``)."""

from __future__ import annotations

import asyncio
import json

import aiohttp
from click.testing import CliRunner
from prometheus_client.parser import text_string_to_metric_families

from mediaserve.cli import cli
from tests.playback.conftest import get


def _stats_cli(*args: str) -> str:
    result = CliRunner().invoke(cli, ["stats", *args], catch_exceptions=False,
                                env={"COLUMNS": "100"})
    assert result.exit_code == 0, result.output
    return result.stdout


async def test_conversions_show_in_every_statistics_view(hls_server):
    served = await hls_server(["hevc_aac.mkv", "h264_ac3.mkv"], transcode_workers=2)
    async with aiohttp.ClientSession() as session:
        for name, variant in (("hevc_aac.mkv", "120p"), ("h264_ac3.mkv", "audio")):
            for _ in range(2):  # made once (a miss), then read from the cache (a hit)
                status, _, body = await get(session, served.hls(name, f"{variant}/seg-0.m4s"))
                assert status == 200 and body[4:8] == b"moof"
        # while they run, the producers are counted by mode (they work ahead of the viewer)
        running = served.service.snapshot()["running"]
        _, _, stats = await get(session, served.url("/api/stats"))
        _, _, metrics = await get(session, served.url("/metrics"))
    play = stats["playback"]
    assert set(play["running"]) == {"remux", "audio", "transcode"}
    assert play["started"] == {"remux": 0, "audio": 1, "transcode": 1}
    assert play["queued"] == 0 and play["busy_refusals"] == 0
    assert play["segments"] >= 2 and play["realtime_factor"] > 0
    cache = play["cache"]
    assert (cache["hits"], cache["misses"]) == (2, 2) and cache["hit_ratio"] == 0.5
    assert cache["bytes"] > 0

    families = {f.name: f for f in text_string_to_metric_families(metrics.decode())}
    by_mode = {s.labels["mode"]: s.value
               for s in families["mediaserve_transcodes_running"].samples}
    assert set(by_mode) == {"remux", "audio", "transcode"}
    assert sum(by_mode.values()) <= sum(running.values()) + 2
    started = {s.labels["mode"]: s.value
               for s in families["mediaserve_transcodes_started"].samples
               if s.name.endswith("_total")}
    assert started == {"remux": 0, "audio": 1, "transcode": 1}
    assert families["mediaserve_transcodes_queued"].samples[0].value == 0
    assert families["mediaserve_transcode_realtime_factor"].samples[0].value > 0
    hits = families["mediaserve_segment_cache_hits"].samples[0].value
    misses = families["mediaserve_segment_cache_misses"].samples[0].value
    assert (hits, misses) == (2, 2)

    loop = asyncio.get_running_loop()
    once = await loop.run_in_executor(None, _stats_cli, served.base, "--once")
    assert "converting" in once and "transcode" in once and "queued 0" in once
    assert "x real time" in once and "cache hits 50% of 4" in once
    line = await loop.run_in_executor(None, _stats_cli, served.base, "--count", "1")
    assert "converting [" in line and "cache hits 50% of 4" in line
    snap = json.loads(await loop.run_in_executor(None, _stats_cli, served.base, "--json"))
    assert snap["playback"]["cache"]["hit_ratio"] == 0.5
