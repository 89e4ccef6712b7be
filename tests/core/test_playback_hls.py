"""Segment boundaries, renditions and the playlist text, read back by the m3u8 package."""

from __future__ import annotations

from fractions import Fraction

import m3u8
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mediaserve.core.playback.hls import (
    Variant,
    avc_codecs,
    codec_string,
    hevc_codecs,
    master_playlist,
    media_playlist,
)
from mediaserve.core.playback.segments import copy_timeline, fixed_timeline, ladder


def test_copy_timeline_cuts_at_the_first_keyframe_past_the_target():
    tb = Fraction(1, 1000)
    line = copy_timeline([0, 2000, 4000, 5000, 9000, 9500], tb, end=10_000, target=4.0)
    assert line.starts == (0, 4000, 9000)
    assert line.durations() == [4.0, 5.0, 1.0]
    assert line.bounds(1) == (4000, 9000) and line.bounds(2) == (9000, None)


def test_copy_timeline_keeps_negative_first_keyframes_and_ignores_order():
    line = copy_timeline([24064, -1024, 49152], Fraction(1, 12800), end=128000, target=1.0)
    assert line.starts == (-1024, 24064, 49152)


def test_copy_timeline_needs_a_keyframe():
    with pytest.raises(ValueError):
        copy_timeline([], Fraction(1, 1000), 10)


def test_a_short_first_segment_for_a_quick_first_picture():
    assert fixed_timeline(12.5, 4.0, first=2.0).durations() == pytest.approx(
        [2.0, 2.0, 4.0, 4.5])
    assert fixed_timeline(3.0, 4.0, first=2.0).durations() == pytest.approx([2.0, 1.0])
    assert fixed_timeline(2.5, 4.0, first=2.0).durations() == pytest.approx([2.5])  # no sliver
    assert fixed_timeline(8.0, 4.0, first=4.0).durations() == pytest.approx([4.0, 4.0])


def test_fixed_timeline_joins_a_tiny_last_piece():
    assert fixed_timeline(12.5, 4.0).durations() == pytest.approx([4.0, 4.0, 4.5])
    assert fixed_timeline(13.0, 4.0).durations() == pytest.approx([4.0, 4.0, 4.0, 1.0])
    assert fixed_timeline(1.0, 4.0).durations() == pytest.approx([1.0])


@settings(max_examples=40)
@given(st.floats(0.1, 7_200), st.floats(1.0, 10.0), st.one_of(st.none(), st.floats(0.1, 10)))
def test_fixed_timeline_covers_the_duration(duration, target, first):
    line = fixed_timeline(duration, target, first=first)
    assert sum(line.durations()) == pytest.approx(duration, abs=1e-4)
    assert all(d > 0 for d in line.durations())


def test_ladder_is_the_source_height_and_the_steps_below():
    assert [r.name for r in ladder(1920, 1080)] == ["1080p", "720p", "480p", "360p"]
    assert next(r.name for r in ladder(3840, 2160)) == "1080p"
    assert [(r.name, r.width) for r in ladder(1280, 536)] == [("536p", 1280), ("480p", 1146),
                                                               ("360p", 860)]
    assert [r.name for r in ladder(160, 120)] == ["120p"]
    assert ladder(None, None) == []
    first = ladder(1920, 1080)
    assert first[0].bandwidth > first[1].bandwidth > first[-1].bandwidth


def test_media_playlist_parses_with_m3u8():
    text = media_playlist([4.0, 4.0, 2.5])
    playlist = m3u8.loads(text)
    assert playlist.is_endlist and playlist.playlist_type == "vod"
    assert playlist.version == 7 and playlist.target_duration == 4
    assert [s.uri for s in playlist.segments] == ["seg-0.m4s", "seg-1.m4s", "seg-2.m4s"]
    assert sum(s.duration for s in playlist.segments) == pytest.approx(10.5)
    assert playlist.segment_map[0].uri == "init.mp4"
    assert "#EXT-X-INDEPENDENT-SEGMENTS" in text


def test_segment_uris_carry_the_file_version():
    """Immutable URLs: a cache may keep a segment forever; a replaced file's are new URLs."""
    playlist = m3u8.loads(media_playlist([4.0, 1.0], "0123abcd"))
    assert [s.uri for s in playlist.segments] == ["seg-0.m4s?v=0123abcd", "seg-1.m4s?v=0123abcd"]
    assert playlist.segment_map[0].uri == "init.mp4?v=0123abcd"
    with pytest.raises(ValueError):
        media_playlist([4.0], 'x"\n#EXT-X-ENDLIST')


def test_target_duration_rounds_to_nearest():
    assert "#EXT-X-TARGETDURATION:5\n" in media_playlist([4.5, 3.0])
    assert "#EXT-X-TARGETDURATION:4\n" in media_playlist([4.49])


def test_master_playlist_parses_with_m3u8():
    text = master_playlist([Variant("720p/index.m3u8", 3_000_000, "avc1.640029,mp4a.40.2",
                                    1280, 720, 25.0),
                            Variant("360p/index.m3u8", 900_000, "avc1.640029,mp4a.40.2",
                                    640, 360, 25.0)])
    playlist = m3u8.loads(text)
    assert playlist.is_variant
    first = playlist.playlists[0]
    assert first.uri == "720p/index.m3u8"
    assert first.stream_info.resolution == (1280, 720)
    assert first.stream_info.codecs == "avc1.640029,mp4a.40.2"
    assert first.stream_info.frame_rate == 25.0 and first.stream_info.bandwidth == 3_000_000


def test_codec_strings():
    assert avc_codecs(bytes([1, 0x64, 0x00, 0x1F, 0xFF])) == "avc1.64001f"
    assert avc_codecs(b"\x00\x67") is None  # Annex B, not avcC
    # an HEVC Main, level 3.1 hvcC (profile space 0, tier Main, compat flag bits 1 and 2)
    hvcc = bytes([1, 0x01, 0x60, 0, 0, 0, 0x90, 0, 0, 0, 0, 0, 93]) + bytes(10)
    assert hevc_codecs(hvcc) == "hvc1.1.6.L93.90"
    assert codec_string("aac", bytes([0x12, 0x10])) == "mp4a.40.2"
    assert codec_string("mp3") == "mp4a.40.34" and codec_string("mpeg4") is None


def test_avc_codecs_from_an_avcc_record_or_annex_b_parameter_sets():
    assert avc_codecs(bytes([1, 0x64, 0x00, 0x28, 0xFF])) == "avc1.640028"
    # MPEG-TS: no avcC, the SPS (NAL type 7) after a start code, as FFmpeg hands it over
    ts = b"\x00\x00\x00\x01\x67\x42\xc0\x0a\xda" + b"\x00\x00\x00\x01\x68\xce"
    assert avc_codecs(ts) == "avc1.42c00a"
    assert avc_codecs(b"\x00\x00\x01\x68\xce\x0f") is None  # a PPS only
    assert avc_codecs(b"") is None and avc_codecs(b"\x00\x00\x01\x67\x42") is None


@settings(max_examples=200)
@given(st.binary(max_size=300))
def test_avc_codecs_never_fails_on_any_bytes(data):
    found = avc_codecs(data)
    assert found is None or (found.startswith("avc1.") and len(found) == 11)
