"""Poster moments, sprite layout and the WebVTT thumbnails track."""

from __future__ import annotations

import math
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mediaserve.core.web.sprites import (
    MAX_TILES,
    TILE_WIDTH,
    plan_sprite,
    poster_size,
    poster_times,
    thumbnails_vtt,
    vtt_timestamp,
)


@pytest.mark.parametrize("duration", [None, 0.0, -1.0, math.nan, math.inf])
def test_no_sprite_without_a_duration(duration: float | None) -> None:
    assert plan_sprite(duration, 640, 360) is None


def test_layout_for_a_short_and_a_long_video() -> None:
    short = plan_sprite(24.0, 320, 240)
    assert short is not None
    assert (short.interval, short.count, short.tile_width, short.tile_height) == (1.0, 24, 160,
                                                                                  120)
    assert (short.columns, short.rows, short.width, short.height) == (10, 3, 1600, 360)
    assert short.position(13) == (480, 120)
    film = plan_sprite(2 * 3600 + 5.0, 1920, 1080)
    assert film is not None
    assert film.interval == 120.0 and film.count == 61 and film.tile_height == 90
    assert film.sample_time(0) == 60.0 and film.sample_time(60) == 7202.5  # mid-span


@given(st.floats(min_value=0.01, max_value=1e6), st.integers(1, 8000), st.integers(1, 8000))
def test_layout_bounds(duration: float, width: int, height: int) -> None:
    layout = plan_sprite(duration, width, height)
    assert layout is not None
    assert 1 <= layout.count <= MAX_TILES
    assert layout.count * layout.interval >= duration
    assert layout.tile_height % 2 == 0 and layout.tile_width % 2 == 0
    # the picture's aspect in a box of TILE_WIDTH: a portrait picture gets a portrait tile
    assert max(layout.tile_width, layout.tile_height) == TILE_WIDTH
    assert min(layout.tile_width, layout.tile_height) >= 2
    if width >= height:
        assert layout.tile_width == TILE_WIDTH
    assert all(0 <= layout.sample_time(i) <= duration for i in range(layout.count))


def test_thumbnails_vtt_covers_the_video() -> None:
    layout = plan_sprite(12.5, 160, 90)
    assert layout is not None
    text = thumbnails_vtt(layout, "/s.jpg?v=1")
    cues = re.findall(r"(\S+) --> (\S+)\n(\S+)", text)
    assert text.startswith("WEBVTT\n\n")
    assert len(cues) == layout.count == 13
    assert cues[0] == ("00:00:00.000", "00:00:01.000", "/s.jpg?v=1#xywh=0,0,160,90")
    assert cues[-1] == ("00:00:12.000", "00:00:12.500", "/s.jpg?v=1#xywh=320,90,160,90")


def test_vtt_timestamp() -> None:
    assert vtt_timestamp(0) == "00:00:00.000"
    assert vtt_timestamp(3725.4567) == "01:02:05.457"


def test_poster_times_and_size() -> None:
    assert poster_times(100.0) == [10.0, 25.0, 40.0]
    assert poster_times(None) == [0.0]
    assert poster_size(1920, 1080) == (480, 270)
    assert poster_size(320, 240) == (320, 240)
    assert poster_size(None, None) == (480, 270)
    assert poster_size(1080, 1920) == (270, 480)  # portrait: as many pixels as landscape
    assert poster_size(360, 640) == (270, 480)
    assert poster_size(240, 320) == (240, 320)  # never enlarged
    assert poster_size(400, 1000) == (192, 480)


def test_a_portrait_picture_gets_portrait_tiles() -> None:
    phone = plan_sprite(60.0, 360, 640)  # a 640x360 phone video turned 90 degrees
    assert phone is not None
    assert (phone.tile_width, phone.tile_height) == (90, 160)
    assert phone.position(11) == (90, 160) and phone.width == 900
