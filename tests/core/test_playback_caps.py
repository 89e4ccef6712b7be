"""The client capability descriptor: strict, bounded syntax; lenient vocabulary."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mediaserve.core.playback.caps import (
    DEFAULT_CAPS,
    MAX_LENGTH,
    CapsError,
    ClientCaps,
    parse_caps,
)

SAFARI = "v1;mp4=h264,hevc,hevc.10,aac,ac3,eac3,mp3,alac;mov=h264,hevc,aac;hls=1"


def test_a_full_descriptor_parses():
    caps = parse_caps("v1;mp4=h264,aac;mkv=h264,aac;webm=vp9,opus;mse=h264,aac;hls=0")
    assert caps.containers["mkv"] == {"h264", "aac"}
    assert caps.mse == {"h264", "aac"} and not caps.native_hls
    assert caps.plays("mkv", "h264") and not caps.plays("mov", "h264")


def test_safari_without_mse_streams_through_native_hls_with_its_mp4_codecs():
    caps = parse_caps(SAFARI)
    assert caps.mse is None and caps.native_hls and caps.streams_hls
    assert "hevc" in caps.hls_codecs


def test_no_mse_and_no_hls_streams_nothing():
    assert not parse_caps("v1;mp4=h264").streams_hls
    assert parse_caps("v1;mp4=h264").hls_codecs == frozenset()


def test_empty_lists_and_unknown_keys_and_tokens_are_accepted():
    caps = parse_caps("v1;mp4=;future=x;mse=h264,zz9-new")
    assert caps.containers["mp4"] == frozenset() and "zz9-new" in (caps.mse or ())


@pytest.mark.parametrize("text", [
    "", "v2;mp4=h264", "mp4=h264", "v1;mp4", "v1;mp4=h264;mp4=aac", "v1;hls=2",
    "v1;mp4=H264", "v1;mp4=h264,,aac", "v1;mp4=h264 ", "v1; mp4=h264", "v1;mp4=.h264",
    "v1;mp4=" + ",".join(f"c{i}" for i in range(33)), "v1;mp4=" + "a" * 17,
    "v1;" + "x" * MAX_LENGTH, "v1;mp4=h264\n", "v1;mp4=h264;",
])
def test_everything_else_is_refused(text: str):
    with pytest.raises(CapsError):
        parse_caps(text)


def test_text_round_trips():
    for caps in (DEFAULT_CAPS, parse_caps(SAFARI), ClientCaps()):
        assert parse_caps(caps.text()) == caps


_tokens = st.frozensets(st.from_regex(r"[a-z0-9][a-z0-9.\-]{0,15}", fullmatch=True),
                        max_size=6)


@settings(max_examples=40)
@given(containers=st.dictionaries(st.sampled_from(["mp4", "mov", "webm", "mkv"]), _tokens),
       mse=st.none() | _tokens, hls=st.booleans())
def test_any_descriptor_round_trips(containers, mse, hls):
    caps = ClientCaps(containers, mse, hls)
    assert parse_caps(caps.text()) == caps


@given(st.text(max_size=300))
def test_arbitrary_text_parses_or_raises_caps_error(text: str):
    with contextlib.suppress(CapsError):
        parse_caps(text)


@given(st.text(alphabet="v1;=,.-abcmp4hlsek0", max_size=200))
def test_near_misses_parse_or_raise_caps_error(text: str):
    with contextlib.suppress(CapsError):
        parse_caps(text)
