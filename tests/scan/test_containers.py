"""Container header checks: MP4 top-level boxes (faststart, overrun) and the EBML
DocType / Segment size, on hand-built bytes and on the generated corpus."""

from __future__ import annotations

import io
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mediaserve.adapters.media.containers import (
    MAX_BOXES,
    BoxLayout,
    _read_vint,
    ebml_layout,
    mp4_boxes,
)
from tests.conftest import TRUNCATED, Corpus

# ------------------------------------------------------------------------------- MP4 boxes


def box(kind: str, payload: bytes = b"") -> bytes:
    return struct.pack(">I4s", 8 + len(payload), kind.encode()) + payload


def large_box(kind: str, payload: bytes = b"", declared: int | None = None) -> bytes:
    size = 16 + len(payload) if declared is None else declared
    return struct.pack(">I4sQ", 1, kind.encode(), size) + payload


def walk(data: bytes) -> BoxLayout:
    return mp4_boxes(io.BytesIO(data), len(data))


def test_faststart_file():
    layout = walk(box("ftyp", b"isom") + box("moov", b"x" * 40) + box("mdat", b"y" * 100))
    assert layout == BoxLayout(("ftyp", "moov", "mdat"), overrun=False)
    assert layout.faststart is True


def test_moov_at_end():
    layout = walk(box("ftyp") + box("free") + box("mdat", b"y" * 100) + box("moov", b"x"))
    assert layout.types == ("ftyp", "free", "mdat", "moov")
    assert layout.faststart is False and layout.overrun is False


def test_no_moov_is_not_faststart():
    assert walk(box("ftyp") + box("mdat", b"y")).faststart is False
    assert walk(b"").faststart is False


def test_fragmented_mp4_is_faststart():
    frag = box("ftyp") + box("moov") + box("moof") + box("mdat", b"z") + box("moof")
    assert walk(frag).faststart is True
    assert walk(box("ftyp") + box("moov") + box("moof")).faststart is True  # no mdat at all


def test_64_bit_largesize_is_followed():
    layout = walk(box("ftyp") + large_box("mdat", b"y" * 50) + box("moov"))
    assert layout.types == ("ftyp", "mdat", "moov")
    assert layout.overrun is False and layout.faststart is False


def test_largesize_past_the_end_is_an_overrun():
    layout = walk(box("ftyp") + box("moov") + large_box("mdat", b"y" * 50, declared=2**40))
    assert layout == BoxLayout(("ftyp", "moov", "mdat"), overrun=True)


def test_largesize_header_cut_short_is_an_overrun():
    data = box("ftyp") + struct.pack(">I4s", 1, b"mdat") + b"\x00\x00"  # 10 of 16 bytes
    assert walk(data) == BoxLayout(("ftyp",), overrun=True)


def test_size_zero_extends_to_the_end_of_the_file():
    data = box("ftyp") + box("moov") + struct.pack(">I4s", 0, b"mdat") + b"y" * 1000
    assert walk(data) == BoxLayout(("ftyp", "moov", "mdat"), overrun=False)


def test_declared_size_past_the_end_is_an_overrun():
    full = box("ftyp") + box("moov", b"x" * 10) + box("mdat", b"y" * 1000)
    layout = walk(full[: len(full) // 2])
    assert layout == BoxLayout(("ftyp", "moov", "mdat"), overrun=True)
    assert layout.faststart is True  # the index is intact, only the media is cut


def test_garbage_size_stops_the_walk_without_overrun():
    data = box("ftyp") + struct.pack(">I4s", 4, b"junk") + box("moov")
    assert walk(data) == BoxLayout(("ftyp",), overrun=False)


def test_trailing_bytes_shorter_than_a_header_are_ignored():
    assert walk(box("ftyp") + box("moov") + b"\x00" * 7) == BoxLayout(("ftyp", "moov"), False)


def test_walk_stops_after_max_boxes():
    data = box("free") * (MAX_BOXES + 5)
    layout = walk(data)
    assert len(layout.types) == MAX_BOXES and layout.overrun is False


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=256))
def test_any_bytes_walk_without_raising(data: bytes):
    layout = walk(data)
    assert len(layout.types) <= MAX_BOXES
    assert all(len(t) == 4 for t in layout.types)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["ftyp", "moov", "mdat", "free", "moof"]),
                          st.binary(max_size=20), st.booleans()), max_size=8),
       st.integers(min_value=0, max_value=400))
def test_well_formed_boxes_round_trip(boxes, cut):
    data = b"".join(large_box(k, p) if big else box(k, p) for k, p, big in boxes)
    kinds = tuple(k for k, _, _ in boxes)
    assert walk(data) == BoxLayout(kinds, overrun=False)
    if cut < len(data):  # cutting anywhere inside a box's header or body
        short = walk(data[:cut])
        assert short.types == kinds[: len(short.types)]


# ------------------------------------------------------------------------------------ EBML


def vint(value: int, length: int = 8) -> bytes:
    return ((1 << (7 * length)) | value).to_bytes(length, "big")


UNKNOWN_SIZE = b"\x01\xff\xff\xff\xff\xff\xff\xff"


def ebml(doctype: bytes | None = b"webm", segment_size: int | bytes | None = None,
         body: bytes = b"\x00" * 100) -> bytes:
    header_body = b"\x42\x86\x81\x01"  # EBMLVersion 1
    if doctype is not None:
        header_body += b"\x42\x82" + vint(len(doctype), 1) + doctype
    head = b"\x1a\x45\xdf\xa3" + vint(len(header_body)) + header_body
    if isinstance(segment_size, bytes):
        size = segment_size
    else:
        size = vint(len(body) if segment_size is None else segment_size)
    return head + b"\x18\x53\x80\x67" + size + body


def layout_of(data: bytes):
    return ebml_layout(io.BytesIO(data), len(data))


@pytest.mark.parametrize("doctype,expected", [(b"webm", "webm"), (b"matroska", "matroska"),
                                              (None, None)])
def test_ebml_doctype(doctype, expected):
    layout = layout_of(ebml(doctype))
    assert layout.doctype == expected and layout.overrun is False


def test_segment_past_the_end_is_an_overrun():
    data = ebml(b"webm")
    assert layout_of(data[:-1]).overrun is True
    assert layout_of(ebml(b"matroska", segment_size=10**9)).overrun is True


def test_segment_of_unknown_size_is_not_an_overrun():
    # a live recording: the size was never written back
    assert layout_of(ebml(b"webm", segment_size=UNKNOWN_SIZE)).overrun is False
    assert layout_of(ebml(b"webm", segment_size=b"\xff")).overrun is False


def test_segment_size_in_a_short_vint():
    data = ebml(b"webm", segment_size=b"\x40\x64", body=b"\x00" * 100)  # 2-byte vint = 100
    assert layout_of(data).overrun is False
    assert layout_of(data[:-1]).overrun is True


def test_not_ebml():
    assert layout_of(b"\x00\x00\x00\x18ftypisom") == layout_of(b"")
    assert layout_of(b"RIFF....AVI ").doctype is None


def test_ebml_without_a_segment_after_the_header():
    data = ebml(b"webm")
    head_len = data.index(b"\x18\x53\x80\x67")
    assert layout_of(data[:head_len] + b"\x11\x22\x33\x44" * 8).overrun is False
    assert layout_of(data[: head_len + 2]).overrun is False  # cut inside the Segment ID
    assert layout_of(data[:6]).overrun is False  # cut inside the EBML header


@pytest.mark.parametrize("data,pos,expected", [
    (b"\x81", 0, (1, 1, False)),
    (b"\xff", 0, (127, 1, True)),
    (b"\x40\x02", 0, (2, 2, False)),
    (b"\x7f\xff", 0, (2**14 - 1, 2, True)),
    (b"\x00\x81", 1, (1, 1, False)),
    (b"\x01" + b"\x00" * 6 + b"\x05", 0, (5, 8, False)),
    (UNKNOWN_SIZE, 0, (2**56 - 1, 8, True)),
    (b"\x00" * 9, 0, None),  # no length marker in the first byte
    (b"\x40", 0, None),  # says 2 bytes, has 1
    (b"", 0, None),
    (b"\x81", 1, None),
])
def test_read_vint(data, pos, expected):
    assert _read_vint(data, pos) == expected


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_any_ebml_bytes_without_raising(tail: bytes):
    layout = layout_of(b"\x1a\x45\xdf\xa3" + tail)
    assert layout.doctype in (None, "webm", "matroska")


# ---------------------------------------------------------------------- the real corpus


def test_corpus_mp4_layouts(corpus: Corpus):
    expectations = {
        "h264_aac_faststart.mp4": (True, False),
        "h264_aac_moov_at_end.mp4": (False, False),
        "three_frames.mp4": (True, False),
        TRUNCATED: (True, True),
    }
    for name, (faststart, overrun) in expectations.items():
        corpus.require(name)
        path = corpus.path(name)
        with open(path, "rb") as handle:
            layout = mp4_boxes(handle, path.stat().st_size)
        assert {"ftyp", "moov", "mdat"} <= set(layout.types), name
        assert (layout.faststart, layout.overrun) == (faststart, overrun), name


def test_corpus_ebml_layouts(corpus: Corpus):
    for name, doctype in (("vp9_opus.webm", "webm"), ("h264_aac.mkv", "matroska")):
        corpus.require(name)
        path = corpus.path(name)
        data = path.read_bytes()
        assert (layout_of(data).doctype, layout_of(data).overrun) == (doctype, False)
        assert layout_of(data[: len(data) // 2]).overrun is True
