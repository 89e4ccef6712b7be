"""Cheap structural checks on container headers, without FFmpeg.

FFmpeg opens a truncated file whose index sits at the front without complaint, and it does
not say where the ``moov`` box is. Reading a handful of top-level box headers (MP4) or the
EBML header and Segment size (Matroska/WebM) answers both questions in ~0.01 ms.
"""

from __future__ import annotations

import math
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


# -------------------------------------------------------------------- Matroska rotation
#
# PyAV 18 gives no access to a stream's side data (FFmpeg's display matrix, which its
# Matroska demuxer builds from the track's Projection element); only a decoded frame carries
# it (``VideoFrame.rotation``), and decoding a frame per file would cost a scan 10-100x its
# ~1 ms a file. So the Projection is read here, from the Tracks element near the start.

_SEGMENT, _TRACKS, _CLUSTER = 0x18538067, 0x1654AE6B, 0x1F43B675
_TRACK_ENTRY, _TRACK_TYPE, _VIDEO_SETTINGS = 0xAE, 0x83, 0xE0
_PROJECTION, _POSE_YAW, _POSE_PITCH, _POSE_ROLL = 0x7670, 0x7673, 0x7674, 0x7675
_VIDEO_TRACK = 1
#: top-level elements looked at before giving up on Tracks (muxers write it before the first
#: Cluster, after a SeekHead, Info and perhaps Void, Tags or Chapters)
MAX_TOP_LEVEL = 64
#: the most of a Tracks element read: every track's codec private data lives there (a few
#: KiB, rarely more); a longer one is read this far
MAX_TRACKS_BYTES = 256 * 1024


def _read_id(data: bytes, pos: int) -> tuple[int, int] | None:
    """An EBML element id (1 to 4 bytes, marker bits kept, as the spec writes ids) and its
    length; None when the bytes cannot be one."""
    if pos >= len(data):
        return None
    first = data[pos]
    length = 1
    while length <= 4 and not first & (0x80 >> (length - 1)):
        length += 1
    if length > 4 or pos + length > len(data):
        return None
    return int.from_bytes(data[pos:pos + length], "big"), length


def _header(data: bytes, pos: int) -> tuple[int, int, int | None] | None:
    """(id, payload offset, payload size or None when unknown) of the element at ``pos``."""
    found = _read_id(data, pos)
    if found is None:
        return None
    element, id_length = found
    size = _read_vint(data, pos + id_length)
    if size is None:
        return None
    value, size_length, unknown = size
    return element, pos + id_length + size_length, None if unknown else value


def _ebml_children(data: bytes, start: int, end: int) -> list[tuple[int, int, int]]:
    """(id, payload start, payload end) of the elements between ``start`` and ``end``; stops
    at one of unknown size or running past ``end`` (a cut or corrupt file)."""
    found: list[tuple[int, int, int]] = []
    pos = start
    while pos < end and len(found) < MAX_CHILD_BOXES:
        header = _header(data, pos)
        if header is None:
            break
        element, payload, size = header
        if size is None or payload + size > end:
            break
        found.append((element, payload, payload + size))
        pos = payload + size
    return found


def _float(data: bytes) -> float | None:
    if not data:
        return 0.0  # an empty float element is its default, 0
    if len(data) == 4:
        return float(struct.unpack(">f", data)[0])
    if len(data) == 8:
        return float(struct.unpack(">d", data)[0])
    return None


def _projection_rotation(data: bytes, start: int, end: int) -> int:
    """Clockwise degrees from a Projection's pose, read as FFmpeg's demuxer reads it: a pure
    roll (counter-clockwise, in degrees) is a rotation; a yaw or pitch makes it a 360-degree
    or mirrored picture, which is shown as stored (0)."""
    pose = {_POSE_YAW: 0.0, _POSE_PITCH: 0.0, _POSE_ROLL: 0.0}
    for element, payload, payload_end in _ebml_children(data, start, end):
        if element in pose:
            value = _float(data[payload:payload_end])
            if value is None or not math.isfinite(value):
                return 0
            pose[element] = value
    if pose[_POSE_YAW] != 0.0 or pose[_POSE_PITCH] != 0.0:
        return 0
    return round(-pose[_POSE_ROLL] / 90) * 90 % 360


def _tracks_rotation(data: bytes) -> int | None:
    """The rotation of the first video track in a Tracks element's payload; None when it
    has no video track."""
    for element, start, end in _ebml_children(data, 0, len(data)):
        if element != _TRACK_ENTRY:
            continue
        kind, rotation = None, 0
        for child, payload, payload_end in _ebml_children(data, start, end):
            if child == _TRACK_TYPE and payload_end - payload <= 8:
                kind = int.from_bytes(data[payload:payload_end], "big")
            elif child == _VIDEO_SETTINGS:
                for setting, at, until in _ebml_children(data, payload, payload_end):
                    if setting == _PROJECTION:
                        rotation = _projection_rotation(data, at, until)
        if kind == _VIDEO_TRACK:
            return rotation
    return None


def matroska_rotation(handle: BinaryIO, file_size: int) -> int | None:
    """Degrees (0, 90, 180 or 270) to turn the first video track clockwise for display, from
    its Projection element (what FFmpeg writes for a display matrix, and reads back as one);
    None when no Tracks element with a video track is found before the first Cluster. Reads
    element headers and the Tracks element only (at most :data:`MAX_TRACKS_BYTES`)."""
    handle.seek(0)
    data = handle.read(64)
    header = _header(data, 0)
    if header is None or header[0] != 0x1A45DFA3 or header[2] is None:
        return None
    pos = header[1] + header[2]  # the EBML header's end: the Segment follows
    return _find_tracks(handle, pos, file_size)


def _find_tracks(handle: BinaryIO, pos: int, file_size: int) -> int | None:
    """The rotation in the Tracks element of the Segment at ``pos``, if found in time."""
    handle.seek(pos)
    segment = _header(handle.read(12), 0)
    if segment is None or segment[0] != _SEGMENT:
        return None
    pos += segment[1]
    for _ in range(MAX_TOP_LEVEL):
        if pos >= file_size:
            return None
        handle.seek(pos)
        element = _header(handle.read(12), 0)
        if element is None:
            return None
        kind, payload, size = element
        if kind == _CLUSTER or size is None:
            return None
        if kind == _TRACKS:
            handle.seek(pos + payload)
            return _tracks_rotation(handle.read(min(size, MAX_TRACKS_BYTES)))
        pos += payload + size
    return None
