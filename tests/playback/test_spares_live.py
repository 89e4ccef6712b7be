"""Issue 19's first-frame and seek latency, as structure rather than wall-clock: the player's
plan request starts the keyframe index and a spare worker before the first HLS request, the
producer is handed that spare, a transcode's segments (and so a seek's first one) are 2 s,
and a seek two segments past a transcode's producer gets a producer of its own."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import pytest

from mediaserve.adapters.playback.jobs import Job
from mediaserve.adapters.playback.producers import Producer
from mediaserve.adapters.playback.spares import Spares
from mediaserve.adapters.playback.variants import variant_job
from mediaserve.core.library.index import MediaFacts
from mediaserve.core.playback.segments import TRANSCODE_SEGMENT_SECONDS
from tests.playback.conftest import alive, get, until


async def test_the_plan_request_reads_the_index_and_starts_a_spare_before_play(hls_server):
    served = await hls_server(["hevc_aac.mkv"])
    service = served.service
    spares: Spares = service.spares
    async with aiohttp.ClientSession() as session:
        status, _, doc = await get(session, served.url(f"/api/videos/{served.id('hevc_aac.mkv')}"))
        assert status == 200 and doc["playback"]["mode"] == "transcode"
        # no HLS request yet: the index is read (cached on disk) and a worker waits
        await until(lambda: any(service.cache.root.rglob("analysis.json")))
        await until(lambda: len(spares.pids) == 1)
        (spare,) = spares.pids
        before = spares.taken
        status, _, _ = await get(session, served.hls("hevc_aac.mkv", "master.m3u8"))
        assert status == 200 and spares.taken == before  # the index came from the cache
        assert spares.pids == [spare]
        request = asyncio.ensure_future(get(session, served.hls("hevc_aac.mkv", "120p/init.mp4")))
        await until(lambda: bool(service.running) or request.done())
        producers = list(service.running)
        assert (await request)[0] == 200
        # the producer is the spare that was waiting, and another spare replaces it
        assert [p.pid for p in producers] == [spare] and spares.taken == before + 1
        await until(lambda: len(spares.pids) == 1 and spares.pids != [spare])
    spares.idle = 0.0
    left = spares.pids
    spares.tick()
    await until(lambda: not any(alive(pid) for pid in left))


async def test_a_direct_video_starts_no_worker(hls_server):
    served = await hls_server(["h264_aac.mp4"])
    async with aiohttp.ClientSession() as session:
        status, _, doc = await get(session, served.url(f"/api/videos/{served.id('h264_aac.mp4')}"))
    assert status == 200 and doc["playback"]["mode"] == "direct"
    await asyncio.sleep(0)
    assert served.service.spares.pids == [] and served.service.spares.taken == 0
    assert not any(served.service.cache.root.rglob("analysis.json"))


async def test_spares_are_gone_when_the_server_stops(hls_server):
    served = await hls_server(["hevc_aac.mkv"])
    service = served.service
    service.warm()
    await until(lambda: len(service.spares.pids) == 1)
    (pid,) = service.spares.pids
    await service.close()
    await until(lambda: not alive(pid))


def test_every_transcode_segment_is_two_seconds_so_a_seek_encodes_two_seconds():
    """A seek anywhere starts a producer at that segment: what the viewer waits for is one
    segment's encoding, so the plan bounds it by the segment's duration."""
    facts = MediaFacts(container="matroska", duration=600.0, video_codec="hevc", width=1280,
                       height=720, frame_rate=25.0, audio_codec="aac")
    analysis = {"duration": 600.0, "keyframes": [], "time_base": [1, 90_000]}
    job = variant_job(facts, analysis, "720p", ("/dev/null",), Path("/nonexistent"))
    durations = job.timeline().durations()
    assert job.kind == "transcode" and len(durations) == 300
    assert max(durations) == pytest.approx(TRANSCODE_SEGMENT_SECONDS) == 2.0
    # the playlist is a fixed grid: the same at every request
    again = variant_job(facts, analysis, "720p", ("/dev/null",), Path("/nonexistent"))
    assert again.starts == job.starts


async def test_a_transcode_seek_two_segments_ahead_gets_its_own_producer():
    job = Job(source=("/dev/null",), kind="transcode", out="/nonexistent",
              starts=tuple(range(0, 20 * 180_000, 180_000)), time_base=(1, 90_000),
              end=20 * 180_000, start=3, allow=7)

    def make(mode: str) -> Producer:
        producer = Producer(Path("/nonexistent"), job, mode, -1, lambda *_: None)
        producer.next = 3
        return producer

    transcode, copy = make("transcode"), make("remux")
    # the segment it makes and the next wait for it; further on, a new producer is sooner
    assert [transcode.near(n) for n in (2, 3, 4, 5, 7)] == [False, True, True, False, False]
    # a copy makes segments in milliseconds: waiting for it is always sooner
    assert [copy.near(n) for n in (2, 3, 5, 9, 10)] == [False, True, True, True, False]


async def test_a_copy_plan_request_makes_the_init_segment_before_play(hls_server):
    """A copy (remux, or picture copied and sound converted) is one variant made at ~50x real
    time: its producer starts with the plan request, as prefetch, so the player's first
    requests find the init segment and the first segments made or under way."""
    served = await hls_server(["h264_ac3.mkv"])
    service = served.service
    async with aiohttp.ClientSession() as session:
        status, _, doc = await get(session, served.url(f"/api/videos/{served.id('h264_ac3.mkv')}"))
        assert status == 200 and doc["playback"]["mode"] == "audio"
        await until(lambda: any(service.cache.root.rglob("audio/init.mp4")))
        assert service.snapshot()["started"]["audio"] == 1
        for rest in ("master.m3u8", "audio/index.m3u8", "audio/init.mp4", "audio/seg-0.m4s"):
            assert (await get(session, served.hls("h264_ac3.mkv", rest)))[0] == 200
        assert service.snapshot()["started"]["audio"] == 1  # the same producer served them
