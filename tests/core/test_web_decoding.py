"""The pixel budget and decoder plan for posters and sprites (core/web/decoding.py)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mediaserve.core.web.decoding import (
    HEAVY_PIXELS,
    MAX_FRAME_BYTES,
    MAX_LOWRES,
    MAX_PIXELS,
    WORKER_MEMORY_LIMIT,
    DecodePlan,
    decodes_heavy,
    lowres_level,
    open_options,
    pixel_refusal,
    plan_decode,
)


@pytest.mark.parametrize(("width", "height"), [(7680, 4320), (8192, 4320), (4320, 8192),
                                               (3840, 2160), (1, 1), (35_389_440, 1)])
def test_every_real_picture_up_to_dci_8k_is_decoded(width: int, height: int) -> None:
    assert pixel_refusal(width, height) is None
    assert isinstance(plan_decode(width, height, 480), DecodePlan)


@pytest.mark.parametrize(("width", "height"), [(16000, 16000), (8193, 4320), (8192, 4321),
                                               (65535, 65535), (35_389_441, 1)])
def test_a_larger_picture_is_refused_with_its_size(width: int, height: int) -> None:
    reason = pixel_refusal(width, height)
    assert reason is not None and f"{width}x{height}" in reason and "budget" in reason
    assert plan_decode(width, height, 480) == reason


@pytest.mark.parametrize(("width", "height"), [(None, None), (0, 0), (None, 99999),
                                               (-5, 100_000)])
def test_an_unknown_size_is_left_to_the_decoders_own_cap(width: int | None,
                                                         height: int | None) -> None:
    assert pixel_refusal(width, height) is None
    plan = plan_decode(width, height, 480)
    assert isinstance(plan, DecodePlan) and plan.lowres == 0
    assert plan.codec_options()["max_pixels"] == str(MAX_PIXELS)


def test_the_decoder_options() -> None:
    plan = plan_decode(7680, 4320, 480)
    assert plan == DecodePlan(lowres=3, threads=2, max_pixels=MAX_PIXELS)
    assert plan.codec_options() == {"max_pixels": "35389440", "threads": "2", "lowres": "3"}
    assert open_options() == {"max_pixels": "35389440"}
    assert open_options(100) == {"max_pixels": "100"}
    assert plan_decode(300, 200, 480, budget=100) != plan_decode(300, 200, 480)
    assert WORKER_MEMORY_LIMIT >= 1024 ** 3  # an 8K 10-bit HEVC poster needs ~1.1 GB


@pytest.mark.parametrize(("width", "wanted", "level"), [
    (1920, 480, 2), (1921, 480, 2), (1919, 480, 1), (7680, 480, 3), (7680, 160, 3),
    (640, 160, 2), (480, 480, 0), (320, 480, 0), (960, 480, 1), (None, 480, 0), (0, 480, 0),
    (1920, 0, 0)])
def test_lowres_keeps_the_picture_at_least_as_wide_as_wanted(width: int | None, wanted: int,
                                                              level: int) -> None:
    assert lowres_level(width, wanted) == level


@given(st.integers(min_value=-10, max_value=1 << 20), st.integers(min_value=-10,
                                                                   max_value=1 << 20))
def test_refused_exactly_when_over_budget(width: int, height: int) -> None:
    known = width > 0 and height > 0
    assert (pixel_refusal(width, height) is not None) == (known and width * height > MAX_PIXELS)


@given(st.integers(min_value=1, max_value=1 << 20), st.integers(min_value=1, max_value=4096))
def test_lowres_is_the_deepest_level_that_still_fits(width: int, wanted: int) -> None:
    level = lowres_level(width, wanted)
    assert 0 <= level <= MAX_LOWRES
    assert level == 0 or width >> level >= wanted
    assert level == MAX_LOWRES or width >> (level + 1) < wanted


@pytest.mark.parametrize(("width", "height", "bits", "refused"), [
    (7680, 4320, 24, False),   # 8K 4:2:0 10-bit (stored in 16-bit words), or 8-bit RGB
    (8192, 4320, 24, False),   # exactly the byte budget
    (8192, 4320, 25, True),
    (7680, 4320, 32, True),    # 8K 4:2:2 10-bit: 133 MB a picture
    (8192, 4320, 64, True),    # 16-bit RGBA: 283 MB
    (3840, 2160, 64, False),   # any format at 4K: 66 MB at most
    (7680, 4320, None, False),  # format unknown: the pixel budget alone
    (7680, 4320, 0, False)])
def test_the_bytes_of_a_picture_are_budgeted_too(width: int, height: int, bits: int | None,
                                                 refused: bool) -> None:
    reason = pixel_refusal(width, height, bits_per_pixel=bits)
    assert (reason is not None) == refused
    if reason is not None:
        assert f"{bits} bits a pixel" in reason and "MB a picture" in reason
        assert plan_decode(width, height, 480, bits_per_pixel=bits) == reason


@pytest.mark.parametrize(("width", "height", "heavy"), [
    (3840, 2160, False), (4096, 2160, False), (4097, 2160, True), (7680, 4320, True),
    (None, None, True), (0, 1080, True), (1920, None, True), (320, 180, False)])
def test_big_or_unknown_pictures_are_heavy(width: int | None, height: int | None,
                                           heavy: bool) -> None:
    assert decodes_heavy(width, height) == heavy


@given(st.integers(min_value=1, max_value=1 << 16), st.integers(min_value=1, max_value=1 << 16),
       st.integers(min_value=1, max_value=128))
def test_refused_exactly_over_the_pixel_or_byte_budget(width: int, height: int,
                                                       bits: int) -> None:
    over = width * height > MAX_PIXELS or width * height * bits // 8 > MAX_FRAME_BYTES
    assert (pixel_refusal(width, height, bits_per_pixel=bits) is not None) == over
    assert decodes_heavy(width, height) == (width * height > HEAVY_PIXELS)
