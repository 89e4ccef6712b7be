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
