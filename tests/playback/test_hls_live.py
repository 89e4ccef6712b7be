"""HLS through a real server on loopback: ffmpeg (Debian's, as an HLS client) decodes every
playlist whole with the source's duration; the m3u8 package reads the playlists; the plan
shows in the video's JSON; segments are served like streams (ranges, validators)."""

from __future__ import annotations

import os

import aiohttp
import m3u8
import pytest

from tests.playback.conftest import FRAMES, SECONDS, ffmpeg_play, get

# (file, the variant the default browser's master lists)
HLS_KINDS = [
    ("h264_ac3.mkv", "audio"),
    ("hevc_aac.mp4", "120p"),
    ("hevc_aac.mkv", "120p"),
    ("mpeg4_mp3.avi", "120p"),
]


@pytest.mark.parametrize(("name", "variant"), HLS_KINDS)
async def test_ffmpeg_plays_every_kind_whole(hls_server, ffmpeg, name, variant):
    served = await hls_server([name])
    async with aiohttp.ClientSession() as session:
        status, headers, body = await get(session, served.hls(name, "master.m3u8"))
        assert status == 200 and headers["Content-Type"].startswith(
            "application/vnd.apple.mpegurl")
        master = m3u8.loads(body.decode())
        assert [p.uri for p in master.playlists] == [f"{variant}/index.m3u8"]
        info = master.playlists[0].stream_info
        assert info.resolution == (160, 120) and info.bandwidth > 0
        assert info.codecs.startswith("avc1.") and "mp4a.40." in info.codecs
        status, _, body = await get(session, served.hls(name, f"{variant}/index.m3u8"))
        playlist = m3u8.loads(body.decode())
        assert playlist.is_endlist and playlist.segment_map[0].uri.startswith("init.mp4?v=")
        assert sum(s.duration for s in playlist.segments) == pytest.approx(SECONDS, abs=0.1)
    progress = await ffmpeg_play(ffmpeg, served.hls(name, f"{variant}/index.m3u8"))
    assert abs(int(progress["out_time_us"]) / 1e6 - SECONDS) <= 1.0, progress
    assert abs(int(progress["frame"]) - FRAMES) <= 1, progress  # AVI pads one empty packet


async def test_remux_of_h264_aac_matroska_plays_whole(hls_server, ffmpeg):
    """Direct in Chromium, so its master is refused; the remux variant is there for a
    browser that does not play Matroska (Safari)."""
    served = await hls_server(["h264_aac.mkv"])
    progress = await ffmpeg_play(ffmpeg, served.hls("h264_aac.mkv", "remux/index.m3u8"))
    assert abs(int(progress["out_time_us"]) / 1e6 - SECONDS) <= 1.0
    assert int(progress["frame"]) == FRAMES
    assert served.service.snapshot()["started"]["remux"] == 1


async def test_an_audio_only_file_gets_its_sound_converted(hls_server, ffmpeg):
    served = await hls_server(["ac3_only.mkv"])
    async with aiohttp.ClientSession() as session:
        status, _, body = await get(session, served.hls("ac3_only.mkv", "master.m3u8"))
        assert status == 200
        (variant,) = m3u8.loads(body.decode()).playlists
        assert (variant.uri, variant.stream_info.codecs) == ("audio/index.m3u8", "mp4a.40.2")
    progress = await ffmpeg_play(ffmpeg, served.hls("ac3_only.mkv", "audio/index.m3u8"))
    assert abs(int(progress["out_time_us"]) / 1e6 - SECONDS) <= 1.0


async def test_direct_kinds_never_get_hls_and_the_plan_says_why(hls_server):
    served = await hls_server(["h264_aac.mp4", "h264_aac.mkv", "vp9_opus.webm"])
    async with aiohttp.ClientSession() as session:
        for name in ("h264_aac.mp4", "h264_aac.mkv", "vp9_opus.webm"):
            status, _, doc = await get(session, served.url(f"/api/videos/{served.id(name)}"))
            assert status == 200 and doc["playback"]["mode"] == "direct", doc["playback"]
            assert doc["playback"]["master_url"] is None
            status, _, doc = await get(session, served.hls(name, "master.m3u8"))
            assert status == 404 and doc["playback"]["mode"] == "direct"
    assert served.service.snapshot()["started"] == {"remux": 0, "audio": 0, "transcode": 0}


async def test_the_plan_follows_the_browser_descriptor(hls_server):
    served = await hls_server(["hevc_aac.mp4"])
    video = served.url(f"/api/videos/{served.id('hevc_aac.mp4')}")
    async with aiohttp.ClientSession() as session:
        _, _, doc = await get(session, video)
        assert doc["playback"]["mode"] == "transcode"
        assert doc["playback"]["reasons"] == [
            "the picture: HEVC is not decoded by this browser, converted to H.264"]
        assert doc["playback"]["master_url"].endswith("/hls/master.m3u8")
        assert doc["audio_tracks"] == [{"codec": "aac", "channels": 2, "language": None}]
        _, _, doc = await get(session, video, params={"caps": "v1;mp4=hevc,aac;hls=1"})
        assert doc["playback"]["mode"] == "direct"
        status, _, doc = await get(session, video, params={"caps": "v2;mp4=hevc"})
        assert status == 400 and "caps" in doc["error"]


async def test_segments_are_served_with_ranges_and_validators(hls_server):
    served = await hls_server(["h264_ac3.mkv"])
    url = served.hls("h264_ac3.mkv", "audio/seg-0.m4s")
    async with aiohttp.ClientSession() as session:
        status, headers, whole = await get(session, url)
        assert status == 200 and headers["Content-Type"] == "video/iso.segment"
        etag = headers["ETag"]
        assert etag.startswith('"') and headers["Accept-Ranges"] == "bytes"
        status, headers, part = await get(session, url, headers={"Range": "bytes=8-99"})
        assert status == 206 and part == whole[8:100]
        assert headers["Content-Range"] == f"bytes 8-99/{len(whole)}"
        status, _, _ = await get(session, url, headers={"If-None-Match": etag})
        assert status == 304
        status, headers, init = await get(session, served.hls("h264_ac3.mkv",
                                                              "audio/init.mp4"))
        assert status == 200 and headers["Content-Type"] == "video/mp4"
        assert init[4:8] == b"ftyp" and whole[4:8] == b"moof"
        _, _, stats = await get(session, served.url("/api/stats"))
        _, _, metrics = await get(session, served.url("/metrics"))
    cache = stats["playback"]["cache"]
    assert cache["misses"] == 1 and cache["hits"] >= 2
    assert stats["playback"]["started"]["audio"] == 1 and stats["playback"]["segments"] >= 1
    assert b"mediaserve_segment_cache_misses_total 1.0" in metrics
    assert b'mediaserve_transcodes_started_total{mode="audio"} 1.0' in metrics


@pytest.mark.parametrize(("settings", "why"), [
    ({"transcode": False}, "--no-transcode"),
    ({"live_transcode": False}, "--no-live-transcode"),
])
async def test_switched_off_conversion_says_so(hls_server, settings, why):
    served = await hls_server(["hevc_aac.mkv"], **settings)
    async with aiohttp.ClientSession() as session:
        _, _, doc = await get(session, served.url(f"/api/videos/{served.id('hevc_aac.mkv')}"))
        assert (doc["playback"]["mode"], doc["playback"]["wanted"]) == ("off", "transcode")
        assert why in doc["playback"]["reasons"][-1]
        status, _, doc = await get(session, served.hls("hevc_aac.mkv", "master.m3u8"))
        assert status == 404 and why in doc["error"]
        status, _, doc = await get(session, served.hls("hevc_aac.mkv", "120p/seg-0.m4s"))
        assert status == 404
    assert served.service.snapshot()["started"]["transcode"] == 0


async def test_the_quality_menu_gets_converted_renditions_of_any_video(hls_server):
    """A file that plays as it is still offers smaller converted renditions (the quality
    menu), from its own master playlist with ?convert=1; not when converting is off."""
    served = await hls_server(["h264_aac.mp4"])
    vid = served.id("h264_aac.mp4")
    async with aiohttp.ClientSession() as session:
        _, _, doc = await get(session, served.url(f"/api/videos/{vid}"))
        playback = doc["playback"]
        assert playback["mode"] == "direct" and playback["master_url"] is None
        assert [r["name"] for r in playback["renditions"]] == ["120p"]
        assert playback["converted_url"] == f"/api/videos/{vid}/hls/master.m3u8?convert=1"
        status, _, body = await get(session, served.url(playback["converted_url"]))
        assert status == 200
        (variant,) = m3u8.loads(body.decode()).playlists
        assert variant.uri == "120p/index.m3u8"
        assert variant.stream_info.codecs == "avc1.640029,mp4a.40.2"
        status, _, doc = await get(session, served.hls("h264_aac.mp4", "master.m3u8"),
                                   params={"convert": "yes"})
        assert status == 400 and "convert" in doc["error"]
    off = await hls_server(["hevc_aac.mkv"], transcode=False)
    async with aiohttp.ClientSession() as session:
        _, _, doc = await get(session, off.url(f"/api/videos/{off.id('hevc_aac.mkv')}"))
        assert doc["playback"]["renditions"] == [] and doc["playback"]["converted_url"] is None
        assert doc["playback"]["off"] == "no-transcode"


async def test_a_segment_url_names_one_version_of_the_file(hls_server):
    """Segment URIs carry the file's version (?v=), so they never change meaning: after the
    file is replaced, an old playlist's segment URL is a 404, never the new file's bytes."""
    served = await hls_server(["h264_ac3.mkv"], copies={"other.mkv": "hevc_aac.mkv"})
    async with aiohttp.ClientSession() as session:
        _, _, body = await get(session, served.hls("h264_ac3.mkv", "audio/index.m3u8"))
        uri = m3u8.loads(body.decode()).segments[0].uri
        assert uri.startswith("seg-0.m4s?v=")
        status, _, first = await get(session, served.hls("h264_ac3.mkv", f"audio/{uri}"))
        assert status == 200 and first[4:8] == b"moof"
        other = served.root / "other.mkv"
        os.replace(other, served.root / "h264_ac3.mkv")  # same path, same id, new file
        status, _, doc = await get(session, served.hls("h264_ac3.mkv", f"audio/{uri}"))
        assert status == 404 and "changed" in doc["error"]
        _, _, body = await get(session, served.hls("h264_ac3.mkv", "120p/index.m3u8"))
        assert m3u8.loads(body.decode()).segments[0].uri != uri
