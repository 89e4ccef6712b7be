"""Encode small synthetic video clips with PyAV.

Used for the demo library that ``mediaserve serve`` builds when it is given no folder, and by
the test suite, which generates its corpus at test time instead of committing media files.
The picture is a moving gradient with a bar whose position tracks time, so a person looking
at the demo can see that a seek landed where it should.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import cast

import av

MP4_LIKE = (".mp4", ".m4v", ".mov")


@dataclass(frozen=True, slots=True)
class ClipSpec:
    """What to encode. ``frames`` overrides ``seconds * fps``."""

    name: str
    video_codec: str | None = "libx264"
    audio_codec: str | None = "aac"
    seconds: float = 2.0
    fps: int = 10
    width: int = 160
    height: int = 120
    faststart: bool = True
    frames: int | None = None
    container_format: str | None = None
    bit_rate: int | None = None
    noise: bool = False  # random luma: incompressible, so a few seconds make a big file


    @property
    def frame_count(self) -> int:
        return self.frames if self.frames is not None else round(self.seconds * self.fps)


def _luma(width: int, height: int, index: int, total: int) -> bytes:
    """A diagonal gradient that moves with ``index`` plus a bright time-position bar."""
    row = bytes((x * 2 + index * 4) & 0xFF for x in range(width * 2))
    plane = bytearray()
    for y in range(height):
        shift = y % width
        plane += row[shift : shift + width]
    bar_x = int((width - 8) * index / max(total - 1, 1))
    for y in range(height - 12, height - 4):
        start = y * width + bar_x
        plane[start : start + 8] = b"\xeb" * 8
    return bytes(plane)


def encode_clip(folder: Path, spec: ClipSpec) -> Path:
    """Write one clip into ``folder`` and return its path."""
    path = Path(folder) / spec.name
    path.parent.mkdir(parents=True, exist_ok=True)
    options = {"movflags": "+faststart"} if spec.faststart and path.suffix in MP4_LIKE else {}
    total = spec.frame_count
    with av.open(str(path), "w", format=spec.container_format, options=options) as out:
        video = None
        if spec.video_codec:
            video = cast("av.VideoStream", out.add_stream(spec.video_codec, rate=spec.fps))
            video.width, video.height, video.pix_fmt = spec.width, spec.height, "yuv420p"
            opts: dict[str, object] = {"g": str(spec.fps * 2)}
            if spec.video_codec == "libx264":
                opts["preset"] = "ultrafast"
                if spec.noise:
                    opts["crf"] = "18"
            elif spec.video_codec in ("libvpx-vp9", "libvpx"):
                opts.update({"deadline": "realtime", "cpu-used": "8"})
            elif spec.video_codec == "libx265":
                opts.update({"preset": "ultrafast", "x265-params": "log-level=none"})
            video.options = dict(opts)
            if spec.bit_rate:
                video.bit_rate = spec.bit_rate
        audio = None
        if spec.audio_codec:
            audio = cast("av.AudioStream", out.add_stream(spec.audio_codec, rate=48000))
        if video is not None:
            chroma = bytes([128]) * ((spec.width // 2) * (spec.height // 2))
            for i in range(total):
                frame = av.VideoFrame(spec.width, spec.height, "yuv420p")
                luma = (os.urandom(spec.width * spec.height) if spec.noise
                        else _luma(spec.width, spec.height, i, total))
                frame.planes[0].update(luma)
                frame.planes[1].update(chroma)
                frame.planes[2].update(chroma)
                frame.pts = i
                frame.time_base = Fraction(1, spec.fps)
                out.mux(video.encode(frame))
            out.mux(video.encode(None))
        if audio is not None:
            _encode_silence(out, audio, total / spec.fps)
    return path


def _encode_silence(out: av.container.OutputContainer, audio: av.audio.stream.AudioStream,
                    seconds: float) -> None:
    rate = 48000
    samples = audio.codec_context.frame_size or 1024
    fmt = audio.codec_context.format.name if audio.codec_context.format else "fltp"
    layout = "stereo" if audio.codec_context.layout.nb_channels == 2 else "mono"
    pts = 0
    end = int(rate * seconds)
    while pts < end:
        frame = av.AudioFrame(format=fmt, layout=layout, samples=samples)
        for plane in frame.planes:
            plane.update(bytes(plane.buffer_size))
        frame.sample_rate = rate
        frame.pts = pts
        pts += samples
        out.mux(audio.encode(frame))
    out.mux(audio.encode(None))


DEMO_CLIPS = (
    ClipSpec("Gradient Sunrise.mp4", seconds=60, fps=25, width=640, height=360,
             bit_rate=2_000_000),
    ClipSpec("Moving Bars.webm", video_codec="libvpx-vp9", audio_codec="libopus", seconds=20,
             fps=25, width=320, height=180),
    ClipSpec("Camera Roll/IMG_0001 (moov at end).mp4", seconds=10, fps=25, width=320,
             height=180, faststart=False),
)


def make_demo_library(folder: Path) -> list[Path]:
    """A small library of real clips so a newcomer sees mediaserve work within a minute."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    made = []
    for spec in DEMO_CLIPS:
        if spec.video_codec and spec.video_codec not in av.codecs_available:
            continue  # a PyAV build without this encoder: the demo is smaller, not broken
        target = folder / spec.name
        if not target.exists():
            tmp_spec = spec
            encode_clip(folder, tmp_spec)
        made.append(target)
    return made


def default_demo_folder() -> Path:
    """Where ``serve`` without a folder puts its demo library (see adapters/data_dir.py)."""
    from mediaserve.adapters.data_dir import default_demo_folder as where

    return where()
