"""Quarter turns of a picture plane (posters and tiles of rotated phone videos): against a
pixel-by-pixel reference, as a group (four quarter turns are none), and on bad input."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mediaserve.core.web.rotate import TURNS, rotate_plane, turned_size


def _reference(data: bytes, width: int, height: int, stride: int, turn: int) -> bytes:
    """Pixel by pixel: the shown picture's (x, y) takes the stored picture's sample."""
    shown_w, shown_h = turned_size(width, height, turn)
    out = bytearray()
    for y in range(shown_h):
        for x in range(shown_w):
            source = {0: (x, y), 90: (y, height - 1 - x), 180: (width - 1 - x, height - 1 - y),
                      270: (width - 1 - y, x)}[turn]
            out.append(data[source[1] * stride + source[0]])
    return bytes(out)


@st.composite
def planes(draw: st.DrawFn) -> tuple[bytes, int, int, int]:
    width, height = draw(st.integers(1, 12)), draw(st.integers(1, 12))
    stride = width + draw(st.integers(0, 5))
    data = draw(st.binary(min_size=stride * height, max_size=stride * height))
    return data, width, height, stride


@given(planes(), st.sampled_from(TURNS))
def test_each_turn_matches_the_pixel_reference(plane, turn: int) -> None:
    data, width, height, stride = plane
    turned = rotate_plane(data, width, height, stride, turn)
    assert turned == _reference(data, width, height, stride, turn)
    shown_w, shown_h = turned_size(width, height, turn)
    assert len(turned) == shown_w * shown_h


@given(planes())
def test_turns_compose(plane) -> None:
    data, width, height, stride = plane
    packed = rotate_plane(data, width, height, stride, 0)
    once = rotate_plane(data, width, height, stride, 90)
    twice = rotate_plane(once, height, width, height, 90)
    assert twice == rotate_plane(data, width, height, stride, 180)
    thrice = rotate_plane(twice, width, height, width, 90)
    assert thrice == rotate_plane(data, width, height, stride, 270)
    assert rotate_plane(thrice, height, width, height, 90) == packed  # four: none


def test_a_2x3_picture_by_hand() -> None:
    # 1 2        90: 5 3 1    180: 6 5    270: 2 4 6
    # 3 4            6 4 2         4 3         1 3 5
    # 5 6                          2 1
    data = bytes([1, 2, 9, 3, 4, 9, 5, 6, 9])  # stride 3: one byte of padding a row
    assert rotate_plane(data, 2, 3, 3, 90) == bytes([5, 3, 1, 6, 4, 2])
    assert rotate_plane(data, 2, 3, 3, 180) == bytes([6, 5, 4, 3, 2, 1])
    assert rotate_plane(data, 2, 3, 3, 270) == bytes([2, 4, 6, 1, 3, 5])


@pytest.mark.parametrize(("size", "turn"), [((4, 4, 4), 45), ((4, 4, 3), 90), ((4, 5, 4), 0)])
def test_bad_input_is_refused(size: tuple[int, int, int], turn: int) -> None:
    with pytest.raises(ValueError):
        rotate_plane(bytes(16), *size, turn)


def test_an_empty_picture_is_empty() -> None:
    assert rotate_plane(b"", 0, 5, 0, 90) == b""
