"""Subtitle files beside videos: matching, labels, SRT to WebVTT."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmarks.subtitles_bench import SHAPES
from mediaserve.core.web.subtitles import (
    match_subtitles,
    normalise_vtt,
    srt_to_vtt,
    track_info,
)
from tests.complexity import growth


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


# --- the old converter: the reference the linear one must agree with --------------------
# (its regular expressions rescan a line from every unclosed ``<font``: quadratic)

_OLD_TIME = re.compile(
    r"^\s*(\d{1,3}):(\d{1,2}):(\d{1,2})(?:[,.](\d{1,3}))?\s*-->\s*"
    r"(\d{1,3}):(\d{1,2}):(\d{1,2})(?:[,.](\d{1,3}))?")
_OLD_FONT = re.compile(r"</?font[^>]*>", re.IGNORECASE)
_OLD_ASS = re.compile(r"\{\\[^}]*\}")


def _old_stamp(h: str, m: str, s: str, ms: str | None) -> str:
    # the one deliberate change: milliseconds in ASCII digits (a browser refuses others)
    millis = "".join(str(int(c)) for c in (ms or "0")).ljust(3, "0")
    return f"{int(h):02d}:{int(m):02d}:{int(s):02d}.{millis}"


def old_srt_to_vtt(text: str) -> str:
    text = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    out = ["WEBVTT", ""]
    for block in re.split(r"\n\s*\n", text):
        lines = [line for line in block.split("\n") if line.strip() != ""]
        timing_at = next((i for i, line in enumerate(lines) if _OLD_TIME.match(line)), None)
        if timing_at is None:
            continue
        match = _OLD_TIME.match(lines[timing_at])
        assert match is not None
        g = match.groups()
        cue: list[str] = []
        ident = " ".join(lines[:timing_at]).strip()
        if ident and "-->" not in ident:
            cue.append(ident)
        cue.append(f"{_old_stamp(*g[0:4])} --> {_old_stamp(*g[4:8])}")
        for line in lines[timing_at + 1:]:
            line = _OLD_ASS.sub("", _OLD_FONT.sub("", line)).replace("-->", "→")
            if line.strip():
                cue.append(line)
        out.extend([*cue, ""])
    return "\n".join(out)


#: the characters the converter treats specially, and a few that look like them
_TRICKY = [*"0123456789:,.-> <{}\\/fontFONTib\n\r \t\ufeff", "١", "٢", "３", "\u2028", "\x85",
           "\x0b", "\x1c", "\xa0", "İ", "K"]
_STAMP = st.builds(
    lambda ws, h, m, s, sep, ms: f"{ws}{h}:{m}:{s}{sep}{ms}",
    st.sampled_from(["", " ", "\t", "\xa0"]), st.text("0123456789١", min_size=0, max_size=4),
    st.text("0123456789", min_size=0, max_size=3), st.text("0123456789３", max_size=3),
    st.sampled_from(["", ",", ".", ";"]), st.text("0123456789", max_size=4))
_LINE = st.one_of(
    st.builds(lambda a, gap, b, tail: f"{a}{gap}-->{gap}{b}{tail}", _STAMP,
              st.sampled_from(["", " ", "  ", "\t"]), _STAMP,
              st.sampled_from(["", " X1:10", "-->", " <b>"])),
    st.text(st.sampled_from(_TRICKY), max_size=40),
    st.lists(st.sampled_from(["<font", "</font", "<FoNt a=1", ">", "{\\", "}", "{\\an8}",
                              "-->", "<", "x", " ", "<font color=red>", "</font>"]),
             max_size=12).map("".join),
    st.sampled_from(["", " ", "\t", "\xa0", "\u2028"]))
_SRT_TEXT = st.lists(_LINE, max_size=14).map("\n".join)


@given(_SRT_TEXT)
def test_the_linear_converter_agrees_with_the_old_one_on_srt_like_text(text: str) -> None:
    assert srt_to_vtt(text) == old_srt_to_vtt(text)


@given(st.text(st.sampled_from(_TRICKY), max_size=200) | st.text(max_size=200))
def test_the_linear_converter_agrees_with_the_old_one_on_any_text(text: str) -> None:
    assert srt_to_vtt(text) == old_srt_to_vtt(text)


def test_tags_are_removed_as_the_old_patterns_removed_them() -> None:
    cases = {
        "<font<b>x": "x",  # [^>]* runs over another '<'
        "{\\a{\\b}c}": "c}",
        "<fo{\\x}nt>": "<font>",  # font tags go first, one pass each
        "{\\<font>an8}": "",
        "a <font color=red>b</font> c <font": "a b c <font",
        "</FONT>x<Font size=2>y": "xy",
        "<fontx>y<foot>": "y<foot>",
        "{\\an8}": "",
    }
    for line, expected in cases.items():
        text = f"1\n00:00:01,000 --> 00:00:02,000\n{line}\n"
        assert srt_to_vtt(text) == old_srt_to_vtt(text), line
        assert srt_to_vtt(text).split("\n")[4:5] == ([expected] if expected else [""]), line


def test_non_ascii_digits_in_a_timing_become_ascii() -> None:
    out = srt_to_vtt("١:٢:٣,٤٥ --> ３:0:0\nx\n")
    assert out == "WEBVTT\n\n01:02:03.450 --> 03:00:00.000\nx\n"


# --- work grows linearly with hostile input -----------------------------------------------

#: pieces of hostile input: tag openers without closers, arrows, digits and colons, blanks
_HOSTILE_UNITS = ["<font", "</font", "<font a", "<", "{\\", "{", "\\", "-->", "->", "-", "1",
                  "1:", ":", ",", "0:0:0,0 --> ", "1:1:1 -->", " ", "\t", "\n", " \n", "\r",
                  "\r\n", ">", "}", "x", "\ufeff", "\xa0"]
_CUE = "1\n00:00:01,000 --> 00:00:02,000\n"


@settings(max_examples=60)
@given(unit=st.lists(st.sampled_from(_HOSTILE_UNITS), min_size=1, max_size=4).map("".join),
       prefix=st.sampled_from(["", _CUE, "00:00:01,000 --> 00:00:02,000 "]),
       suffix=st.sampled_from(["", ">", "}", "\n\n" + _CUE + "x"]))
def test_doubling_a_hostile_input_at_most_doubles_the_calls(unit: str, prefix: str,
                                                             suffix: str) -> None:
    def run(n: int) -> None:
        srt_to_vtt(prefix + unit * n + suffix)

    assert growth(run, 1000) < 2.3  # linear: ~2 (or ~1 when a C call does it all)


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_the_benchmark_shapes_are_linear_in_calls(shape: str) -> None:
    assert growth(lambda n: srt_to_vtt(SHAPES[shape](n)), 20_000) < 2.3
