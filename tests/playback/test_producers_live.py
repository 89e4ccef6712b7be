"""The producers' limits through a real server: a worker killed mid-segment, the cache's
size cap, a changed file, and many viewers of different transcodes at once (queue, 503 past
it, every producer gone once they leave)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal

import aiohttp

from tests.playback.conftest import alive, get, until


async def test_a_worker_killed_mid_segment_costs_one_request_not_the_server(hls_server):
    served = await hls_server(["hevc_aac.mkv", "h264_aac.mp4"])
    service = served.service
    async with aiohttp.ClientSession() as session:
        # the keyframe index first (it takes a worker of its own), then a spare worker that
        # is stopped before it is handed the job: a warm worker makes a 120p segment in
        # milliseconds, faster than a kill sent when its pid shows (a race the CI lost)
        assert (await get(session, served.hls("hevc_aac.mkv", "120p/index.m3u8")))[0] == 200
        service.spares.warm()
        await until(lambda: bool(service.spares.pids))
        stopped = service.spares.pids
        for pid in stopped:
            os.kill(pid, signal.SIGSTOP)
        request = asyncio.ensure_future(
            get(session, served.hls("hevc_aac.mkv", "120p/seg-1.m4s")))
        await until(lambda: any(p.pid for p in service.running))
        (producer,) = service.running
        assert producer.pid in stopped  # it cannot have made the segment
        os.kill(producer.pid, signal.SIGKILL)
        status, _, doc = await request
        assert status == 500 and doc["error"].startswith("cannot convert this video")
        assert not service.running and not service.by_folder  # its slot is free again
        status, _, _ = await get(session, served.url("/api/videos"))
        assert status == 200
        stream = served.url(f"/api/videos/{served.id('h264_aac.mp4')}/stream")
        assert (await get(session, stream))[0] == 200
    assert service.snapshot()["failures"] == 1



async def test_a_killed_worker_leaves_no_temporary_file_in_the_cache(hls_server):
    """A segment is muxed straight into ``seg-N.m4s.PID.tmp``: a worker killed mid-segment
    (preempted, over its budget, past its stop's grace) must not leave that file behind.
    The worker is frozen before its job, and a file of its pid stands for the one it was
    writing when the kill came (a tiny clip's segment is written in milliseconds)."""
    served = await hls_server(["hevc_aac.mkv"])
    service = served.service
    async with aiohttp.ClientSession() as session:
        assert (await get(session, served.hls("hevc_aac.mkv", "120p/index.m3u8")))[0] == 200
        service.spares.warm()
        await until(lambda: bool(service.spares.pids))
        for pid in service.spares.pids:
            os.kill(pid, signal.SIGSTOP)
        request = asyncio.ensure_future(
            get(session, served.hls("hevc_aac.mkv", "120p/seg-1.m4s")))
        await until(lambda: any(p.pid for p in service.running))
        (producer,) = service.running
        producer.folder.mkdir(parents=True, exist_ok=True)
        leftover = producer.folder / f"seg-1.m4s.{producer.pid}.tmp"
        leftover.write_bytes(b"half a segment")
        other = producer.folder / "seg-2.m4s.1.tmp"  # not this worker's: left alone
        other.write_bytes(b"")
        os.kill(producer.pid, signal.SIGKILL)
        assert (await request)[0] == 500
        await until(lambda: not service.running)
        assert not leftover.exists() and other.exists()


async def test_the_cache_evicts_the_least_recently_used_segments(hls_server):
    served = await hls_server(["hevc_aac.mkv", "h264_ac3.mkv"], cache_size=1)
    cache = served.service.cache
    cache.keep = 1  # the default keeps the 4 newest, more than this test makes
    async with aiohttp.ClientSession() as session:
        first = served.hls("h264_ac3.mkv", "audio/seg-0.m4s")
        assert (await get(session, first))[0] == 200
        for url in (served.hls("h264_ac3.mkv", "audio/seg-1.m4s"),
                    served.hls("hevc_aac.mkv", "120p/seg-0.m4s"),
                    served.hls("hevc_aac.mkv", "120p/seg-1.m4s")):
            assert (await get(session, url))[0] == 200
        await until(lambda: len(list(cache.root.rglob("seg-*.m4s"))) == 1)
        (left,) = cache.root.rglob("seg-*.m4s")
        assert left.parent.name == "120p"  # the oldest went first: the newest variant's stays
        status, _, body = await get(session, first)  # evicted: made again on demand
        assert status == 200 and body[4:8] == b"moof"
    assert cache.snapshot()["evicted"] >= 3


async def test_a_changed_file_never_gets_its_old_segments(hls_server, clips):
    served = await hls_server(["h264_ac3.mkv"])
    url = served.hls("h264_ac3.mkv", "audio/seg-0.m4s")
    async with aiohttp.ClientSession() as session:
        status, headers, before = await get(session, url)
        assert status == 200
        old = {p.parent.parent for p in served.service.cache.root.rglob("seg-0.m4s")}
        target = served.root / "h264_ac3.mkv"
        replacement = target.with_name("new.tmp")
        shutil.copy(clips.require("hevc_aac.mkv"), replacement)  # same name, other content
        os.replace(replacement, target)
        status, headers2, after = await get(session, url)
        assert status == 200 and headers2["ETag"] != headers["ETag"] and after != before
    assert not any(folder.exists() for folder in old)  # the old version is gone


async def test_twenty_viewers_of_twenty_different_transcodes(hls_server):
    """Issue 19: 20 viewers at once, each of another film. Two convert, two wait in the
    queue, the rest get a 503 with Retry-After at once (no meltdown: never more producers
    than workers), and once they leave every producer process is gone."""
    names = {f"film{i}.mkv": "hevc_aac.mkv" for i in range(20)}
    served = await hls_server([], copies=names, transcode_workers=2, transcode_queue=2,
                              transcode_idle=0.5)
    service = served.service
    pids: set[int] = set()

    def note_pids() -> bool:
        pids.update(p.pid for p in service.running if p.pid)
        return False

    async with aiohttp.ClientSession() as session:
        requests = [asyncio.ensure_future(get(session, served.hls(name, "120p/seg-0.m4s")))
                    for name in names]
        while not all(r.done() for r in requests):
            note_pids()
            assert len(service.running) <= 2 and len(service.queue) <= 2
            await asyncio.sleep(0.02)
        answers = [r.result() for r in requests]
    statuses = sorted(status for status, _, _ in answers)
    errors = [doc for status, _, doc in answers if status not in (200, 503)]
    assert statuses.count(200) >= 4 and set(statuses) <= {200, 503}, errors
    assert statuses.count(503) >= 1
    for status, headers, doc in answers:
        if status == 503:
            assert int(headers["Retry-After"]) >= 1 and "busy" in doc["error"]
    await until(lambda: not service.by_folder and not service.running)
    await until(lambda: not any(alive(pid) for pid in pids))
    snapshot = service.snapshot()
    assert snapshot["busy_refusals"] == statuses.count(503)
    assert snapshot["running"] == {"remux": 0, "audio": 0, "transcode": 0}
    assert snapshot["queued"] == 0


async def test_a_producer_whose_viewers_left_stops(hls_server, clips, tmp_path):
    from mediaserve.adapters.media.clips import ClipSpec, encode_clip

    encode_clip(tmp_path, ClipSpec("long.mkv", audio_codec="ac3", seconds=40, fps=5))
    shutil.copy2(tmp_path / "long.mkv", clips.root / "long.mkv")
    served = await hls_server(["long.mkv"], transcode_idle=2.0)
    service = served.service
    async with aiohttp.ClientSession() as session:
        assert (await get(session, served.hls("long.mkv", "audio/seg-0.m4s")))[0] == 200
        (producer,) = service.running
        await until(lambda: not service.running)
        # it ran ahead as far as allowed (4 past the request), waited, and was stopped
        assert producer.next == 5 and not producer.done
        assert len(list(service.cache.root.rglob("seg-*.m4s"))) == 5
        assert not alive(producer.pid)
        assert service.snapshot()["idle_stops"] == 1
        # a viewer coming back far ahead gets a producer of its own at that segment
        assert (await get(session, served.hls("long.mkv", "audio/seg-8.m4s")))[0] == 200
        assert service.snapshot()["started"]["audio"] == 2


async def test_a_segment_asked_while_its_producer_starts_is_made(hls_server):
    """hls.js asks for the init segment and segment 0 at once: the first request starts the
    producer, the second raises its allowance while the process is still being spawned.
    That allowance must reach the worker, or it stops after segment 0 and the player stalls
    at the first boundary (found by the Chromium tests: playback froze at 3.94 s)."""
    served = await hls_server(["h264_ac3.mkv"])
    async with aiohttp.ClientSession() as session:
        assert (await get(session, served.hls("h264_ac3.mkv", "audio/index.m3u8")))[0] == 200
        first = await asyncio.gather(get(session, served.hls("h264_ac3.mkv", "audio/init.mp4")),
                                     get(session, served.hls("h264_ac3.mkv", "audio/seg-0.m4s")))
        assert [status for status, _, _ in first] == [200, 200]
        status, _, body = await asyncio.wait_for(
            get(session, served.hls("h264_ac3.mkv", "audio/seg-1.m4s")), 15)
        assert status == 200 and body[4:8] == b"moof"
    assert served.service.snapshot()["started"]["audio"] == 1


async def test_a_seek_takes_the_converter_from_the_prefetch_of_where_the_viewer_was(
        hls_server, clips, tmp_path):
    """One converter: a viewer plays from the start (its producer runs ahead of what it
    asked), then seeks far ahead. The new producer must not wait for the old one's idle
    time (60 s here): the old one only works ahead of every request, so it is stopped at
    once, and that is not a failure (no remembered error, no failure count)."""
    from mediaserve.adapters.media.clips import ClipSpec, encode_clip

    encode_clip(tmp_path, ClipSpec("long.mkv", audio_codec="ac3", seconds=40, fps=5))
    shutil.copy2(tmp_path / "long.mkv", clips.root / "long.mkv")
    served = await hls_server(["long.mkv"], transcode_workers=1, transcode_idle=60.0)
    service = served.service
    async with aiohttp.ClientSession() as session:
        assert (await get(session, served.hls("long.mkv", "audio/seg-0.m4s")))[0] == 200
        (first,) = service.running
        await until(lambda: first.next >= 2)  # working ahead of the viewer
        status, _, body = await asyncio.wait_for(
            get(session, served.hls("long.mkv", "audio/seg-8.m4s")), 15)
        assert status == 200 and body[4:8] == b"moof"
        assert first.preempted and not alive(first.pid)
        (second,) = service.running
        assert second is not first and second.job.start == 8
        # the viewer going back to the start is served (no failure remembered for it)
        assert (await get(session, served.hls("long.mkv", "audio/seg-1.m4s")))[0] == 200
    snapshot = service.snapshot()
    assert snapshot["preempted"] >= 1 and snapshot["failures"] == 0


async def test_an_aborted_wait_hands_the_converter_to_the_queued_seek(
        hls_server, clips, tmp_path):
    """The seek's request arrives while the old position's request still waits (the player
    aborts it a moment later): the seek queues. When the old request goes, its producer
    works for nobody, and the queued seek takes its converter at once. The old producer is
    frozen (SIGSTOP) so that its request is certain to be waiting."""
    from mediaserve.adapters.media.clips import ClipSpec, encode_clip

    encode_clip(tmp_path, ClipSpec("longer.mkv", audio_codec="ac3", seconds=80, fps=5))
    shutil.copy2(tmp_path / "longer.mkv", clips.root / "longer.mkv")
    served = await hls_server(["longer.mkv"], transcode_workers=1, transcode_idle=60.0)
    service = served.service
    async with aiohttp.ClientSession() as session:
        assert (await get(session, served.hls("longer.mkv", "audio/seg-0.m4s")))[0] == 200
        (first,) = service.running
        await until(lambda: first.next >= 5)  # made what it may, waiting for allowance
        os.kill(first.pid, signal.SIGSTOP)
        try:
            old = asyncio.ensure_future(
                get(session, served.hls("longer.mkv", "audio/seg-5.m4s")))
            await until(lambda: not first.speculative)  # the old request waits on it
            seek = asyncio.ensure_future(
                get(session, served.hls("longer.mkv", "audio/seg-16.m4s")))
            await until(lambda: len(service.queue) == 1)
            old.cancel()  # the player aborts the old request
            status, _, body = await asyncio.wait_for(seek, 15)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.kill(first.pid, signal.SIGCONT)
        assert status == 200 and body[4:8] == b"moof"
        assert first.preempted
    assert service.snapshot()["failures"] == 0
