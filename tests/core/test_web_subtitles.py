"""Subtitle files beside videos: matching, labels, SRT to WebVTT."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from mediaserve.core.web.subtitles import (
    match_subtitles,
    normalise_vtt,
    srt_to_vtt,
    track_info,
)


def test_match_subtitles_by_name_and_language_tag() -> None:
    found = match_subtitles(
        ["movie.mp4", "movie.part2.mp4", "other.mkv"],
        ["movie.mp4", "movie.srt", "movie.en.srt", "Movie.FR.vtt", "movie.part2.srt",
         "movie2.srt", ".movie.srt", "notes.txt", "other.srt.bak", "OTHER.SRT"])
    assert found == {
        "movie.mp4": ("Movie.FR.vtt", "movie.en.srt", "movie.srt"),
        "movie.part2.mp4": ("movie.part2.srt",),
        "other.mkv": ("OTHER.SRT",),
    }


def test_no_videos_no_matches() -> None:
    assert match_subtitles([], ["a.srt"]) == {}


def info(video: str, sub: str) -> tuple[str, str]:
    found = track_info(video, sub)
    return found.srclang, found.label


def test_track_labels() -> None:
    assert info("movie.mp4", "movie.srt") == ("", "Subtitles")
    assert info("movie.mp4", "movie.en.srt") == ("en", "English")
    assert info("movie.mp4", "movie.fr.forced.vtt") == ("fr", "Français (forced)")
    assert info("movie.mp4", "movie.pt-BR.srt") == ("pt-br", "Português")
    assert info("movie.mp4", "movie.Director Commentary.srt") == (
        "", "Director Commentary")
    assert info("movie.mp4", "movie.en.sdh.srt") == ("en", "English (SDH)")


SRT = ("\ufeff1\r\n00:00:01,000 --> 00:00:02,500\r\nHello <font color=red>red</font>\r\n\r\n"
       "2\r\n0:00:03,5 --> 0:00:04,25 X1:10 X2:20\r\n{\\an8}Top --> line\r\n<i>two</i>\r\n\r\n"
       "garbage block without timing\r\n\r\n")


def test_srt_to_vtt() -> None:
    assert srt_to_vtt(SRT) == (
        "WEBVTT\n\n"
        "1\n00:00:01.000 --> 00:00:02.500\nHello red\n\n"
        "2\n00:00:03.500 --> 00:00:04.250\nTop → line\n<i>two</i>\n")


def test_srt_without_cues_is_an_empty_vtt() -> None:
    assert srt_to_vtt("") == "WEBVTT\n"
    assert srt_to_vtt("just text\n") == "WEBVTT\n"


@given(st.text(max_size=300))
def test_any_srt_text_gives_a_vtt_with_no_stray_arrows(text: str) -> None:
    out = srt_to_vtt(text)
    assert out.startswith("WEBVTT\n")
    for block in out.split("\n\n")[1:]:
        lines = block.split("\n")
        arrows = [line for line in lines if "-->" in line]
        assert len(arrows) <= 1  # only the timing line of each cue


def test_normalise_vtt_adds_a_missing_header_and_drops_bom() -> None:
    assert normalise_vtt("\ufeffWEBVTT\r\n\r\n00:01.000 --> 00:02.000\r\nx") == (
        "WEBVTT\n\n00:01.000 --> 00:02.000\nx")
    assert normalise_vtt("00:01.000 --> 00:02.000\nx").startswith("WEBVTT\n\n00:01")
