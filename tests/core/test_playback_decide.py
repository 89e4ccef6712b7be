"""The playback decision, table-tested: every kind of file the issue lists, in the default
(Chromium) browser, in a browser that decodes HEVC, and under the settings that switch
conversion off."""

from __future__ import annotations

import pytest

from mediaserve.core.library.facts import AudioTrack, MediaFacts
from mediaserve.core.playback.caps import DEFAULT_CAPS, parse_caps
from mediaserve.core.playback.decide import Mode, PlaybackSettings, converted, decide


def facts(container: str, video: str | None, *audio: str, depth: int = 8) -> MediaFacts:
    return MediaFacts(container=container, video_codec=video, bit_depth=depth if video else None,
                      audio_codec=audio[0] if audio else None,
                      audio_tracks=tuple(AudioTrack(a, 2) for a in audio))


HEVC_MSE = parse_caps("v1;mp4=h264,hevc,aac;mse=h264,hevc,aac;hls=0")
SAFARI = parse_caps("v1;mp4=h264,hevc,aac,ac3,eac3,mp3;mov=h264,hevc,aac;hls=1")

# (what, facts, caps, mode, video action, audio action)
TABLE = [
    ("H.264/AAC MP4", facts("mp4", "h264", "aac"), None, Mode.DIRECT, "direct", "direct"),
    ("VP9/Opus WebM", facts("webm", "vp9", "opus"), None, Mode.DIRECT, "direct", "direct"),
    ("AV1 MP4", facts("mp4", "av1", "aac"), None, Mode.DIRECT, "direct", "direct"),
    ("10-bit H.264 MP4", facts("mp4", "h264", "aac", depth=10), None, Mode.DIRECT, "direct",
     "direct"),
    ("H.264/AAC MKV", facts("matroska", "h264", "aac"), None, Mode.DIRECT, "direct", "direct"),
    ("H.264/AC-3 MKV", facts("matroska", "h264", "ac3"), None, Mode.AUDIO, "copy", "aac"),
    ("H.264/DTS MKV", facts("matroska", "h264", "dts"), None, Mode.AUDIO, "copy", "aac"),
    ("H.264/E-AC-3 MP4", facts("mp4", "h264", "eac3"), None, Mode.AUDIO, "copy", "aac"),
    ("H.264/FLAC MP4", facts("mp4", "h264", "flac"), None, Mode.DIRECT, "direct", "direct"),
    ("HEVC MP4", facts("mp4", "hevc", "aac"), None, Mode.TRANSCODE, "h264", "copy"),
    ("HEVC MKV", facts("matroska", "hevc", "aac"), None, Mode.TRANSCODE, "h264", "copy"),
    ("HEVC MKV/AC-3", facts("matroska", "hevc", "ac3"), None, Mode.TRANSCODE, "h264", "aac"),
    ("HEVC MP4, HEVC browser", facts("mp4", "hevc", "aac"), HEVC_MSE, Mode.DIRECT, "direct",
     "direct"),
    ("HEVC MKV, HEVC browser", facts("matroska", "hevc", "aac"), HEVC_MSE, Mode.REMUX, "copy",
     "copy"),
    ("HEVC MKV, Safari", facts("matroska", "hevc", "aac"), SAFARI, Mode.REMUX, "copy", "copy"),
    ("H.264/AC-3 MKV, Safari", facts("matroska", "h264", "ac3"), SAFARI, Mode.AUDIO, "copy",
     "aac"),
    ("H.264/AC-3 MP4, Safari", facts("mp4", "h264", "ac3"), SAFARI, Mode.DIRECT, "direct",
     "direct"),
    ("H.264/AAC MKV, Safari", facts("matroska", "h264", "aac"), SAFARI, Mode.REMUX, "copy",
     "copy"),
    ("MPEG-4 Part 2/MP3 AVI", facts("avi", "mpeg4", "mp3"), None, Mode.TRANSCODE, "h264",
     "aac"),
    ("H.264/MP3 AVI", facts("avi", "h264", "mp3"), None, Mode.AUDIO, "copy", "aac"),
    ("H.264/MP3 AVI, Safari", facts("avi", "h264", "mp3"), SAFARI, Mode.REMUX, "copy", "copy"),
    ("MPEG-4 Part 2/MP3 AVI, Safari", facts("avi", "mpeg4", "mp3"), SAFARI, Mode.TRANSCODE,
     "h264", "aac"),
    ("H.264/AAC TS", facts("mpegts", "h264", "aac"), None, Mode.AUDIO, "copy", "aac"),
    ("H.264/MP2 TS", facts("mpegts", "h264", "mp2"), None, Mode.AUDIO, "copy", "aac"),
    ("H.264/Opus TS", facts("mpegts", "h264", "opus"), None, Mode.REMUX, "copy", "copy"),
    ("no audio MP4", facts("mp4", "h264"), None, Mode.DIRECT, "direct", None),
    ("no audio HEVC MKV", facts("matroska", "hevc"), None, Mode.TRANSCODE, "h264", None),
    ("audio-only MP3 in MP4", facts("mp4", None, "mp3"), None, Mode.DIRECT, None, "direct"),
    ("audio-only AC-3 MKV", facts("matroska", None, "ac3"), None, Mode.AUDIO, None, "aac"),
    ("10-bit HEVC, 8-bit-only HEVC browser", facts("mp4", "hevc", "aac", depth=10), HEVC_MSE,
     Mode.TRANSCODE, "h264", "copy"),
]


@pytest.mark.parametrize(("what", "f", "caps", "mode", "video", "audio"), TABLE,
                         ids=[row[0] for row in TABLE])
def test_decision_table(what, f, caps, mode, video, audio):
    plan = decide(f, caps)
    assert (plan.mode, plan.video, plan.audio) == (mode, video, audio), plan.reasons
    assert plan.reasons, "every plan says why"
    assert plan.audio_track == (0 if f.audio_tracks else None)


def test_reasons_name_the_stream_and_the_codec_in_plain_words():
    assert decide(facts("matroska", "h264", "ac3")).reasons == (
        "the sound: AC-3 is not decoded by this browser, converted to AAC",)
    assert decide(facts("mp4", "hevc", "aac")).reasons == (
        "the picture: HEVC is not decoded by this browser, converted to H.264",)
    assert "the file: AVI is not played by this browser" in decide(
        facts("avi", "mpeg4", "mp3")).reasons
    assert decide(facts("mp4", "hevc", "aac", depth=10), HEVC_MSE).reasons == (
        "the picture: 10-bit HEVC is not decoded by this browser, converted to H.264",)


def test_the_first_audio_track_is_played_even_when_a_later_one_would_play():
    two = MediaFacts(container="matroska", video_codec="h264", audio_codec="ac3",
                     audio_tracks=(AudioTrack("ac3", 6, "eng"), AudioTrack("aac", 2, "eng")))
    plan = decide(two)
    assert (plan.mode, plan.audio_track) == (Mode.AUDIO, 0)


def test_an_entry_probed_before_audio_tracks_uses_its_audio_codec():
    old = MediaFacts(container="matroska", video_codec="h264", audio_codec="ac3")
    assert decide(old).mode is Mode.AUDIO


def test_no_descriptor_means_the_default_browser():
    f = facts("matroska", "hevc", "aac")
    assert decide(f) == decide(f, DEFAULT_CAPS)


def test_nothing_readable_is_unplayable():
    assert decide(MediaFacts()).mode is Mode.UNPLAYABLE


def test_a_browser_without_mse_or_hls_gets_direct_or_nothing():
    bare = parse_caps("v1;mp4=h264,aac")
    assert decide(facts("mp4", "h264", "aac"), bare).mode is Mode.DIRECT
    plan = decide(facts("matroska", "h264", "ac3"), bare)
    assert plan.mode is Mode.UNPLAYABLE
    assert plan.reasons[-1] == "the browser: it has neither Media Source Extensions nor HLS"


def test_a_browser_that_decodes_neither_the_source_nor_h264_is_unplayable():
    odd = parse_caps("v1;webm=vp9,opus;mse=vp9,opus")
    assert decide(facts("avi", "mpeg4", "mp3"), odd).mode is Mode.UNPLAYABLE


@pytest.mark.parametrize(("settings", "off"), [(PlaybackSettings(transcode=False), "no-transcode"),
                                             (PlaybackSettings(live=False), "not-prepared")])
def test_settings_switch_conversion_off_and_say_so(settings, off):
    plan = decide(facts("matroska", "hevc", "aac"), None, settings)
    assert (plan.mode, plan.wanted, plan.off) == (Mode.OFF, Mode.TRANSCODE, off)
    assert plan.as_json()["off"] == off
    assert plan.reasons[-1].startswith("the server: ")
    assert decide(facts("mp4", "h264", "aac"), None, settings).mode is Mode.DIRECT


def test_prepared_videos_play_without_live_transcoding():
    plan = decide(facts("matroska", "hevc", "aac"), None,
                  PlaybackSettings(live=False, prepared=True))
    assert plan.mode is Mode.TRANSCODE


def test_plan_json():
    doc = decide(facts("matroska", "h264", "ac3")).as_json()
    assert doc == {"mode": "audio", "video": "copy", "audio": "aac", "audio_track": 0,
                   "reasons": ["the sound: AC-3 is not decoded by this browser, converted to "
                               "AAC"], "wanted": None, "off": None}


# (what, facts, caps, settings, mode, video action, audio action)
CONVERTED = [
    ("H.264/AAC MP4", facts("mp4", "h264", "aac"), None, None, Mode.TRANSCODE, "h264", "copy"),
    ("VP9/Opus WebM", facts("webm", "vp9", "opus"), None, None, Mode.TRANSCODE, "h264", "aac"),
    ("H.264/MP3 AVI", facts("avi", "h264", "mp3"), None, None, Mode.TRANSCODE, "h264", "aac"),
    ("HEVC MKV, Safari", facts("matroska", "hevc", "aac"), SAFARI, None, Mode.TRANSCODE,
     "h264", "copy"),
    ("no sound", facts("mp4", "h264"), None, None, Mode.TRANSCODE, "h264", None),
    ("sound only", facts("mp4", None, "aac"), None, None, Mode.UNPLAYABLE, None, None),
    ("no MSE nor HLS", facts("mp4", "h264", "aac"), parse_caps("v1;mp4=h264,aac"), None,
     Mode.UNPLAYABLE, None, None),
    ("--no-transcode", facts("mp4", "h264", "aac"), None, PlaybackSettings(transcode=False),
     Mode.OFF, None, None),
    ("--no-live-transcode", facts("mp4", "h264", "aac"), None, PlaybackSettings(live=False),
     Mode.OFF, None, None),
    ("prepared", facts("mp4", "h264", "aac"), None,
     PlaybackSettings(live=False, prepared=True), Mode.TRANSCODE, "h264", "copy"),
]


@pytest.mark.parametrize(("what", "f", "caps", "settings", "mode", "video", "audio"),
                         CONVERTED, ids=[row[0] for row in CONVERTED])
def test_a_converted_rendition_on_request(what, f, caps, settings, mode, video, audio):
    """What the quality menu's renditions play for a video that would play without them."""
    plan = converted(f, caps, settings)
    assert (plan.mode, plan.video, plan.audio) == (mode, video, audio), plan.reasons
    assert plan.reasons
    if mode is Mode.OFF:
        assert plan.wanted is Mode.TRANSCODE and plan.reasons[-1].startswith("the server: ")


def test_mp3_is_converted_for_chromium_whose_mse_refuses_it_in_fmp4():
    assert "mp3" in DEFAULT_CAPS.containers["mp4"] and "mp3" not in DEFAULT_CAPS.hls_codecs
    assert decide(facts("avi", "mpeg4", "mp3")).reasons[-1] == (
        "the sound: MP3 plays in this browser from a file, not when streamed, converted to AAC")


def test_aac_in_mpeg_ts_is_converted_because_adts_cannot_be_copied():
    assert decide(facts("mpegts", "h264", "aac")).reasons[-1] == (
        "the sound: AAC framed for MPEG-TS (ADTS) cannot be carried in the streaming "
        "format, converted to AAC")


def test_a_picture_without_parameter_sets_is_converted_not_refused():
    """The analysis found no codec string for the picture (H.264 whose SPS is nowhere in
    its header): copying is impossible, so the picture is converted."""
    plan = decide(facts("mpegts", "h264", "aac"), copyable=False)
    assert (plan.mode, plan.video, plan.audio) == (Mode.TRANSCODE, "h264", "aac")
    assert plan.reasons[1] == ("the picture: H.264 without its parameter sets cannot be "
                               "copied, converted to H.264")
    assert decide(facts("mp4", "h264", "aac"), copyable=False).mode is Mode.DIRECT
