"""What the playback decision needs from a probe, against files generated here: every audio
track with its codec, channels and language; the profile and bit depth; the rotation of a
phone's portrait video (its tkhd matrix)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import pytest

from mediaserve.adapters.media.prober import probe
from mediaserve.core.library.facts import AudioTrack


def _need(*codecs: str) -> None:
    missing = [c for c in codecs if c not in av.codecs_available]
    if missing:
        pytest.skip(f"encoder {', '.join(missing)} not in this PyAV build")


def _write(path: Path, *, rotation: int | None = None, audio: tuple = (),
           pix_fmt: str = "yuv420p") -> Path:
    with av.open(str(path), "w") as out:
        video = out.add_stream("libx264", rate=10)
        video.width, video.height, video.pix_fmt = 64, 48, pix_fmt
        if rotation is not None:
            video.set_display_rotation(rotation)  # counter-clockwise, as FFmpeg counts
        streams = []
        for codec, layout, language in audio:
            stream = out.add_stream(codec, rate=48000, layout=layout)
            if language:
                stream.metadata["language"] = language
            streams.append(stream)
        for i in range(3):
            frame = av.VideoFrame(64, 48, pix_fmt)
            frame.pts, frame.time_base = i, Fraction(1, 10)
            out.mux(video.encode(frame))
        out.mux(video.encode(None))
        for stream in streams:
            out.mux(stream.encode(None))
    return path


@pytest.mark.parametrize("ext", ["mp4", "mov", "mkv"])
@pytest.mark.parametrize(("ccw", "clockwise"), [(0, 0), (90, 270), (180, 180), (270, 90)])
def test_rotation_comes_from_the_tkhd_matrix_or_the_projection(tmp_path: Path, ccw: int,
                                                               clockwise: int, ext: str):
    """MP4's tkhd matrix, Matroska's Projection (FFmpeg writes a display matrix as one)."""
    _need("libx264")
    path = _write(tmp_path / f"phone.{ext}", rotation=ccw)
    assert probe(path).facts.rotation == clockwise
    with av.open(str(path)) as container:  # FFmpeg's own reading of the same matrix
        assert (-next(container.decode(video=0)).rotation) % 360 == clockwise


def test_a_file_without_a_rotation_is_upright_and_an_avi_unknown(tmp_path: Path):
    _need("libx264")
    assert probe(_write(tmp_path / "plain.mkv")).facts.rotation == 0
    assert probe(_write(tmp_path / "plain.avi")).facts.rotation is None


def test_every_audio_track_is_recorded_in_order(tmp_path: Path):
    _need("libx264", "aac", "ac3")
    path = _write(tmp_path / "film.mkv", audio=(("ac3", "5.1", "eng"), ("aac", "stereo", "fra"),
                                                ("aac", "mono", None)))
    facts = probe(path).facts
    assert facts.audio_tracks == (AudioTrack("ac3", 6, "eng"), AudioTrack("aac", 2, "fra"),
                                  AudioTrack("aac", 1, None))
    assert facts.audio_codec == "ac3"  # the first track, as before
    assert facts.rotation == 0  # Matroska's Projection is read: none, upright


def test_ten_bit_h264_reports_its_profile_and_depth(tmp_path: Path):
    _need("libx264")
    path = _write(tmp_path / "ten.mp4", pix_fmt="yuv420p10le")
    facts = probe(path).facts
    assert (facts.pixel_format, facts.bit_depth, facts.video_profile) == (
        "yuv420p10le", 10, "High 10")
