"""What a producer is asked to make: the job, as JSON between the server and a worker.

No PyAV here: the server builds jobs and reads their results without loading FFmpeg; the
worker (``producer_worker``) turns a job into files with ``segmenter``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from fractions import Fraction
from typing import Any

from mediaserve.core.playback.segments import Rendition, Timeline

#: bumped whenever what a producer writes changes: it is part of every cache key, so bytes
#: made by an older producer are never served
ENGINE_VERSION = 3  # 2: MP3 converted to AAC in renditions; a transcode's first segment 2 s
# 3: a transcode's segments 2 s throughout (the numbers name other times than in 2)

#: FFmpeg's fragmented-MP4 muxer, per segment: the moov (init segment) is written before any
#: packet, from the stream parameters only, so it is byte-identical whichever segment a
#: producer starts at; ``skip_trailer`` drops the mfra index; ``default_base_moof`` is what
#: CMAF and hls.js expect. ``avoid_negative_ts = disabled`` keeps FFmpeg from shifting each
#: run to start at 0: tfdt then carries the source's own decode time, equal across restarts.
MOVFLAGS = "empty_moov+default_base_moof+frag_keyframe+frag_discont+skip_trailer"
VIDEO_TIMESCALE = 90_000


@dataclass(frozen=True, slots=True)
class Job:
    """One producer run: make segments ``start``, ``start + 1``, ... of one variant."""

    source: tuple[str, ...]  # paths the worker may open (first that works)
    kind: str  # "remux", "audio" or "transcode"
    out: str  # the variant's cache folder
    starts: tuple[int, ...]  # segment boundaries in ticks of time_base
    time_base: tuple[int, int]
    end: int
    key: str = "dts"  # copy: which packet timestamp the keyframe index holds (dts or pts)
    audio_track: int | None = 0
    convert_audio: bool = False  # the sound to AAC (else copied)
    rendition: dict[str, Any] | None = None  # transcode: Rendition fields
    rotation: int = 0  # transcode: clockwise degrees to keep in the output's display matrix
    start: int = 0
    allow: int = 0  # make segments up to this one, then wait for more allowance
    threads: int = 0  # encoder threads (0: FFmpeg's choice)
    extra: dict[str, Any] = field(default_factory=dict)

    def timeline(self) -> Timeline:
        return Timeline(self.starts, Fraction(*self.time_base), self.end)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Job:
        doc = dict(doc)
        doc["source"] = tuple(doc["source"])
        doc["starts"] = tuple(doc["starts"])
        doc["time_base"] = tuple(doc["time_base"])
        return cls(**doc)


def rendition_json(rendition: Rendition) -> dict[str, Any]:
    return asdict(rendition)
