"""Turning a picture's plane by quarter turns, for posters and seek-preview tiles.

A phone records a portrait video as landscape frames plus a rotation in the container (MP4's
``tkhd`` matrix, Matroska's Projection); FFmpeg hands the frames over as stored. A poster
or tile is made small first and turned afterwards, so the turn costs a few hundred KB of
byte copies and never touches the decoder's pixel budget. The copies are Python slices of
whole rows and columns (``bytes[start:stop:stride]`` runs in C): ~480 slices for a poster
instead of ~130,000 pixel assignments, with no filter graph and no dependency.
"""

from __future__ import annotations

#: the turns a picture can be given: clockwise degrees
TURNS = (0, 90, 180, 270)


def turned_size(width: int, height: int, turn: int) -> tuple[int, int]:
    """The size of a ``width`` x ``height`` picture after turning it ``turn`` degrees."""
    return (height, width) if turn in (90, 270) else (width, height)


def rotate_plane(data: bytes | bytearray | memoryview, width: int, height: int, stride: int,
                 turn: int) -> bytes:
    """The ``width`` x ``height`` samples of a plane (one byte each, rows ``stride`` bytes
    apart, padding ignored) turned clockwise by ``turn`` degrees (0, 90, 180 or 270), as
    packed rows of the new width.

    Raises ValueError when ``data`` is too short for the size and stride, or ``turn`` is
    not a quarter turn."""
    if turn not in TURNS:
        raise ValueError(f"{turn} is not a quarter turn")
    if width <= 0 or height <= 0:
        return b""
    if stride < width or len(data) < (height - 1) * stride + width:
        raise ValueError(f"{len(data)} bytes cannot hold {width}x{height} at stride {stride}")
    raw = bytes(data)
    last_row = (height - 1) * stride
    if turn == 0:
        return b"".join(raw[row:row + width] for row in range(0, last_row + 1, stride))
    if turn == 180:
        return b"".join(raw[row:row + width][::-1]
                        for row in range(last_row, -1, -stride))
    if turn == 90:  # new row c: column c, read from the bottom up
        return b"".join(raw[column:last_row + column + 1:stride][::-1]
                        for column in range(width))
    # 270: new row r is column width-1-r, read from the top down
    return b"".join(raw[column:last_row + column + 1:stride]
                    for column in range(width - 1, -1, -1))
