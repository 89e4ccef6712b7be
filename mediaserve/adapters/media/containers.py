"""Cheap structural checks on container headers, without FFmpeg.

FFmpeg opens a truncated file whose index sits at the front without complaint, and it does
not say where the ``moov`` box is. Reading a handful of top-level box headers (MP4) or the
EBML header and Segment size (Matroska/WebM) answers both questions in ~0.01 ms.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import BinaryIO

MAX_BOXES = 10_000  # a corrupt file must not make us loop for long


@dataclass(frozen=True, slots=True)
class BoxLayout:
    """Top-level ISO BMFF boxes in file order."""

    types: tuple[str, ...]
    overrun: bool  # a box's declared size runs past the end of the file (truncated copy)

    @property
    def faststart(self) -> bool:
        """``moov`` before the first ``mdat`` (or no ``mdat`` at all, as in fragmented MP4)."""
        if "moov" not in self.types:
            return False
        if "mdat" not in self.types:
            return True
        return self.types.index("moov") < self.types.index("mdat")


def mp4_boxes(handle: BinaryIO, file_size: int) -> BoxLayout:
    """Walk top-level boxes by their headers only (size, type, 64-bit largesize)."""
    types: list[str] = []
    offset = 0
    overrun = False
    while offset + 8 <= file_size and len(types) < MAX_BOXES:
        handle.seek(offset)
        header = handle.read(16)
        if len(header) < 8:
            break
        size, kind = struct.unpack(">I4s", header[:8])
        if size == 1:
            if len(header) < 16:
                overrun = True
                break
            size = struct.unpack(">Q", header[8:16])[0]
        elif size == 0:  # "extends to the end of the file"
            size = file_size - offset
        if size < 8:  # garbage: stop, the prober will judge the file
            break
        types.append(kind.decode("latin-1"))
        if offset + size > file_size:
            overrun = True
            break
        offset += size
    return BoxLayout(tuple(types), overrun)


def _read_vint(data: bytes, pos: int) -> tuple[int, int, bool] | None:
    """An EBML variable-length integer: (value, length, all-ones i.e. 'unknown size')."""
    if pos >= len(data):
        return None
    first = data[pos]
    length = 1
    mask = 0x80
    while length <= 8 and not first & mask:
        mask >>= 1
        length += 1
    if length > 8 or pos + length > len(data):
        return None
    value = first & (mask - 1)
    for byte in data[pos + 1 : pos + length]:
        value = (value << 8) | byte
    unknown = value == (1 << (7 * length)) - 1
    return value, length, unknown


@dataclass(frozen=True, slots=True)
class EbmlLayout:
    doctype: str | None  # "webm" or "matroska"
    overrun: bool  # the Segment's declared size runs past the end of the file


def ebml_layout(handle: BinaryIO, file_size: int) -> EbmlLayout:
    """Read the EBML header's DocType and the Segment size (4 KiB read at most)."""
    handle.seek(0)
    data = handle.read(4096)
    if not data.startswith(b"\x1a\x45\xdf\xa3"):
        return EbmlLayout(None, False)
    doctype = "webm" if b"webm" in data[:64] else "matroska" if b"matroska" in data[:64] else None
    header_size = _read_vint(data, 4)
    if header_size is None:
        return EbmlLayout(doctype, False)
    pos = 4 + header_size[1] + header_size[0]
    if data[pos : pos + 4] != b"\x18\x53\x80\x67":
        return EbmlLayout(doctype, False)
    seg = _read_vint(data, pos + 4)
    if seg is None:
        return EbmlLayout(doctype, False)
    value, length, unknown = seg
    end = pos + 4 + length + value
    return EbmlLayout(doctype, not unknown and end > file_size)


#: a corrupt moov must not make the rotation reader loop for long
MAX_CHILD_BOXES = 1_000


def _children(handle: BinaryIO, start: int, end: int) -> list[tuple[bytes, int, int]]:
    """(type, payload offset, box end) of the boxes between ``start`` and ``end``."""
    found: list[tuple[bytes, int, int]] = []
    offset = start
    while offset + 8 <= end and len(found) < MAX_CHILD_BOXES:
        handle.seek(offset)
        header = handle.read(16)
        if len(header) < 8:
            break
        size, kind = struct.unpack(">I4s", header[:8])
        payload = offset + 8
        if size == 1 and len(header) == 16:
            size, payload = struct.unpack(">Q", header[8:16])[0], offset + 16
        elif size == 0:
            size = end - offset
        if size < payload - offset or offset + size > end:
            break
        found.append((kind, payload, offset + size))
        offset += size
    return found


def _track_rotation(handle: BinaryIO, start: int, end: int) -> int | None:
    """The clockwise display rotation of one ``trak``, when it is a video track."""
    matrix = None
    video = False
    for kind, payload, box_end in _children(handle, start, end):
        if kind == b"tkhd":
            handle.seek(payload)
            version = handle.read(1)
            # tkhd: version/flags, times and ids (v0: 20 bytes, v1: 32), reserved 8,
            # layer, group, volume, reserved (8), then the 3x3 matrix of 32-bit numbers
            skip = (32 if version == b"\x01" else 20) + 8 + 8
            handle.seek(payload + 4 + skip)
            raw = handle.read(36)
            if len(raw) == 36:
                matrix = struct.unpack(">9i", raw)
        elif kind == b"mdia":
            for sub, sub_payload, _sub_end in _children(handle, payload, box_end):
                if sub == b"hdlr":
                    handle.seek(sub_payload + 8)  # version/flags, pre_defined
                    video = handle.read(4) == b"vide"
    if not video or matrix is None:
        return None
    a, b = matrix[0], matrix[1]
    # the first row (a, b) is (cos θ, sin θ) of a clockwise turn, in 16.16 fixed point
    if abs(a) >= abs(b):
        return 0 if a >= 0 else 180
    return 90 if b > 0 else 270


def mp4_rotation(handle: BinaryIO, file_size: int) -> int | None:
    """Degrees (0, 90, 180 or 270) to turn the first video track clockwise for display, from
    its ``tkhd`` matrix (phones record portrait video as landscape plus this matrix); None
    when there is no readable video track. Reads box headers and two small boxes only."""
    for kind, payload, end in _children(handle, 0, file_size):
        if kind != b"moov":
            continue
        for sub, sub_payload, sub_end in _children(handle, payload, end):
            if sub == b"trak":
                rotation = _track_rotation(handle, sub_payload, sub_end)
                if rotation is not None:
                    return rotation
        return None
    return None
