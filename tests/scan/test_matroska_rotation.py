"""Matroska's display rotation (a video track's Projection pose), read from the Tracks
element without FFmpeg: on hand-built files (element order, sizes, odd poses, a cut or
hostile file) and, in test_prober_playback_facts.py, on files FFmpeg wrote."""

from __future__ import annotations

import io
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mediaserve.adapters.media.containers import MAX_TOP_LEVEL, matroska_rotation


def vint(value: int) -> bytes:
    for length in range(1, 9):
        if value < (1 << (7 * length)) - 1:
            return ((1 << (7 * length)) | value).to_bytes(length, "big")
    raise ValueError(value)


def element(element_id: int, payload: bytes = b"") -> bytes:
    return element_id.to_bytes((element_id.bit_length() + 7) // 8, "big") + vint(
        len(payload)) + payload


def pose(yaw: float | None = None, pitch: float | None = None, roll: float | None = None,
         fmt: str = ">d") -> bytes:
    parts = [element(eid, struct.pack(fmt, value)) for eid, value in
             ((0x7673, yaw), (0x7674, pitch), (0x7675, roll)) if value is not None]
    return element(0x7670, element(0x7671, b"\x00") + b"".join(parts))  # ProjectionType 0


def track(kind: int, video: bytes | None = None, number: int = 1) -> bytes:
    body = element(0xD7, bytes([number])) + element(0x83, bytes([kind]))
    body += element(0x86, b"V_MPEG4/ISO/AVC" if kind == 1 else b"A_OPUS")
    if video is not None:
        body += element(0xE0, element(0xB0, b"\x02\x80") + element(0xBA, b"\x01\x68") + video)
    return element(0xAE, body)


def mkv(*tracks: bytes, before: bytes = b"", cluster_first: bool = False) -> bytes:
    header = element(0x1A45DFA3, element(0x4282, b"matroska"))
    tracks_element = element(0x1654AE6B, b"".join(tracks))
    cluster = element(0x1F43B675, element(0xE7, b"\x00") + b"\x00" * 40)
    info = element(0x1549A966, element(0x2AD7B1, b"\x0f\x42\x40"))
    body = before + info + (cluster + tracks_element if cluster_first
                            else tracks_element + cluster)
    return header + element(0x18538067, body)


def rotation(data: bytes) -> int | None:
    return matroska_rotation(io.BytesIO(data), len(data))


@pytest.mark.parametrize(("roll", "clockwise"), [
    (90.0, 270), (-90.0, 90), (270.0, 90), (180.0, 180), (-180.0, 180), (0.0, 0),
    (89.6, 270), (44.0, 0), (46.0, 270), (450.0, 270)])
def test_a_roll_is_a_counter_clockwise_rotation(roll: float, clockwise: int) -> None:
    assert rotation(mkv(track(1, pose(roll=roll)))) == clockwise
    assert rotation(mkv(track(1, pose(roll=roll, fmt=">f")))) == clockwise  # 4-byte floats


def test_no_projection_is_upright_and_no_video_is_unknown() -> None:
    assert rotation(mkv(track(1, b""))) == 0
    assert rotation(mkv(track(1))) == 0  # no Video element at all
    assert rotation(mkv(track(2))) is None
    assert rotation(mkv()) is None


def test_the_first_video_track_counts_whatever_comes_before_it() -> None:
    data = mkv(track(2, number=1), track(1, pose(roll=-90.0), number=2),
               track(1, pose(roll=90.0), number=3),
               before=element(0x114D9B74, b"\x00" * 30) + element(0xEC, b"\x00" * 500))
    assert rotation(data) == 90


@pytest.mark.parametrize("odd", [pose(yaw=180.0, roll=90.0), pose(pitch=90.0, roll=90.0),
                                 pose(yaw=30.0), pose(roll=float("nan")),
                                 pose(roll=float("inf")),
                                 element(0x7670, element(0x7675, b"\x00\x00\x5a"))])
def test_mirrors_360_pictures_and_bad_floats_are_shown_as_stored(odd: bytes) -> None:
    assert rotation(mkv(track(1, odd))) == 0


def test_an_empty_float_is_zero() -> None:
    assert rotation(mkv(track(1, element(0x7670, element(0x7675))))) == 0


def test_tracks_after_the_first_cluster_are_not_looked_for() -> None:
    assert rotation(mkv(track(1, pose(roll=90.0)), cluster_first=True)) is None


def test_the_walk_gives_up_after_so_many_top_level_elements() -> None:
    many = element(0xEC, b"") * MAX_TOP_LEVEL
    assert rotation(mkv(track(1, pose(roll=90.0)), before=many)) is None
    assert rotation(mkv(track(1, pose(roll=90.0)), before=many[:-2 * 4])) == 270


def test_cut_files_and_other_files_say_nothing() -> None:
    data = mkv(track(1, pose(roll=90.0)))
    cut_in_tracks = data.index(b"\x16\x54\xae\x6b") + 12
    assert rotation(data[:cut_in_tracks]) in (None, 0, 270)
    assert rotation(b"\x00\x00\x00\x18ftypisom" + b"\x00" * 20) is None
    assert rotation(b"") is None


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300), st.integers(0, 2))
def test_any_bytes_read_without_raising(tail: bytes, where: int) -> None:
    """Hostile bytes in the header, the Segment or the Tracks element."""
    good = mkv(track(1, pose(roll=90.0)))
    cut = (8, good.index(b"\x18\x53\x80\x67") + 8, good.index(b"\x16\x54\xae\x6b") + 6)[where]
    assert rotation(good[:cut] + tail) in (None, 0, 90, 180, 270)
