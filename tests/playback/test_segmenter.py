"""Segments made by producers that started at different segments are interchangeable: the
init segment is byte-identical, and every segment's tfdt (its decode time) is the source's
own, read back from the mp4 boxes."""

from __future__ import annotations

import os
import struct
from fractions import Fraction
from pathlib import Path

import pytest

from mediaserve.adapters.playback import keyframes, segmenter
from mediaserve.adapters.playback.jobs import Job
from mediaserve.core.playback.segments import copy_timeline, fixed_timeline, ladder
from tests.playback.conftest import SECONDS

CONTAINERS = {b"moof", b"traf"}


def boxes(data: bytes, start: int = 0, end: int | None = None):
    end = len(data) if end is None else end
    while start + 8 <= end:
        size, kind = struct.unpack(">I4s", data[start:start + 8])
        yield kind, start, size
        if kind in CONTAINERS:
            yield from boxes(data, start + 8, start + size)
        start += size


def decode_times(segment: bytes) -> list[int]:
    """tfdt of every track fragment, in order."""
    found = []
    for kind, offset, _size in boxes(segment):
        if kind == b"tfdt":
            version = segment[offset + 8]
            raw = segment[offset + 12:offset + (20 if version else 16)]
            found.append(int.from_bytes(raw, "big"))
    return found


def job_for(path: Path, kind: str, out: Path, start: int) -> Job:
    analysis = keyframes.analyse([str(path)])
    if kind == "transcode":
        line = fixed_timeline(analysis["duration"], 2.0)
        rendition = ladder(160, 120)[0]
        extra = {"rendition": {"width": rendition.width, "height": rendition.height,
                               "video_bit_rate": rendition.video_bit_rate,
                               "audio_bit_rate": rendition.audio_bit_rate}}
    else:
        line = copy_timeline(analysis["keyframes"], Fraction(*analysis["time_base"]),
                             analysis["end"], 2.0)
        extra = {}
    out.mkdir(parents=True, exist_ok=True)
    return Job((str(path),), kind, str(out), line.starts,
               (line.time_base.numerator, line.time_base.denominator), line.end,
               key=analysis["key"], convert_audio=kind != "remux", start=start, allow=10**6,
               **extra)


def produce(job: Job) -> list[dict]:
    written: list[dict] = []
    segmenter.produce(job, written.append, lambda _n: True)
    return written


@pytest.mark.parametrize(("name", "kind"), [("h264_aac.mkv", "remux"),
                                            ("h264_aac.mp4", "remux"),
                                            ("h264_ac3.mkv", "audio"),
                                            ("hevc_aac.mkv", "transcode")])
def test_a_restarted_producer_writes_the_same_init_and_timeline(clips, tmp_path, name, kind):
    source = clips.require(name)
    whole = produce(job_for(source, kind, tmp_path / "from0", 0))
    assert [w["segment"] for w in whole] == [0, 1, 2]
    assert sum(w["media_seconds"] for w in whole) == pytest.approx(SECONDS, abs=0.1)
    later = produce(job_for(source, kind, tmp_path / "from1", 1))
    assert [w["segment"] for w in later] == [1, 2]
    first, second = tmp_path / "from0", tmp_path / "from1"
    assert (first / "init.mp4").read_bytes() == (second / "init.mp4").read_bytes()
    for number in (1, 2):
        a = (first / f"seg-{number}.m4s").read_bytes()
        b = (second / f"seg-{number}.m4s").read_bytes()
        assert a[4:8] == b"moof"
        if kind == "remux":
            assert a == b  # stream copy: the very same bytes
        else:  # re-encoded: the picture's decode time is the same (the sound's AAC priming
            # frame starts a restarted run 1024 samples early, by design)
            assert decode_times(a)[0] == decode_times(b)[0]


def test_tfdt_is_the_source_time_of_each_segment(clips, tmp_path):
    source = clips.require("hevc_aac.mkv")
    produce(job_for(source, "transcode", tmp_path, 0))
    # video track: 90 kHz, segments every 2 s
    starts = [decode_times((tmp_path / f"seg-{n}.m4s").read_bytes())[0] for n in range(3)]
    assert starts == [0, 180_000, 360_000]


def test_copy_segments_start_where_the_playlist_says(tmp_path):
    """Keyframes every 0.7 s: a copy cuts at keyframes (not every 4 s), and each segment's
    tfdt is the start its playlist entry promises."""
    import av

    source = tmp_path / "odd.mkv"
    with av.open(str(source), "w") as out:
        stream = out.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.options = {"preset": "ultrafast", "g": "7", "keyint_min": "7",
                          "sc_threshold": "0"}
        for i in range(100):
            frame = av.VideoFrame(64, 48, "yuv420p")
            frame.pts, frame.time_base = i, Fraction(1, 10)
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    job = job_for(source, "remux", tmp_path / "out", 0)
    produce(job)
    line = job.timeline()
    assert [round(line.seconds(t), 3) for t in line.starts] == [0.0, 2.1, 4.2, 6.3, 8.4]
    for number, start in enumerate(line.starts):
        segment = (tmp_path / "out" / f"seg-{number}.m4s").read_bytes()
        assert decode_times(segment)[0] / 90_000 == pytest.approx(line.seconds(start))


@pytest.mark.parametrize(("name", "kind"), [("h264_aac.mkv", "remux"),
                                            ("hevc_aac.mkv", "transcode")])
def test_a_producer_told_to_stop_leaves_no_partial_file(clips, tmp_path, name, kind):
    """A segment is written straight into its temporary file while it is muxed (not into
    memory first): a producer stopped mid-way must leave neither that file nor a segment."""
    source = clips.require(name)
    job = job_for(source, kind, tmp_path / "out", 0)
    written: list[dict] = []
    assert segmenter.produce(job, written.append, lambda number: number < 1) is False
    names = sorted(os.listdir(tmp_path / "out"))
    assert [w["segment"] for w in written] == [0]
    assert names == ["init.mp4", "seg-0.m4s"]  # segment 1 was begun, then dropped whole
    assert written[0]["bytes"] == (tmp_path / "out" / "seg-0.m4s").stat().st_size


def test_the_media_part_is_what_the_muxer_wrote_after_its_moov(tmp_path):
    """The sink splits a muxer's output where the moov box ends, whatever the writes'
    sizes (a box header cut between two calls too)."""
    ftyp = struct.pack(">I4s", 16, b"ftyp") + b"isom\0\0\0\0"
    moov = struct.pack(">I4s", 24, b"moov") + b"x" * 16
    media = struct.pack(">I4s", 12, b"moof") + b"abcd" + b"mdat-bytes"
    whole = ftyp + moov + media
    for cut in range(1, len(whole)):
        sink = segmenter._Sink(str(tmp_path / f"seg-{cut}.m4s"))
        sink.write(whole[:cut])
        sink.write(whole[cut:])
        assert sink.finish() == ftyp + moov
        assert (tmp_path / f"seg-{cut}.m4s").read_bytes() == media
