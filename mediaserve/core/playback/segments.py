"""Where segments start, and which renditions a transcode offers.

The playlist must be complete at the first request (the seek bar shows the whole duration
and a seek anywhere fetches the right segment at once), so every boundary is known before a
single segment exists:

* **stream copy** cuts only at keyframes: the boundaries are keyframe timestamps from the
  container's own index (MP4's stss/stts, Matroska's Cues, AVI's idx1, read by FFmpeg), the
  first keyframe at least ``target`` seconds after the previous boundary. Timestamps stay
  integers in the stream's time base, so a producer that restarts at segment N recognises
  its first packet exactly (no float rounding).
* **transcode** places a forced keyframe at every ``target`` seconds: fixed boundaries.

A segment N always spans [boundary N, boundary N+1) of the source's timeline, whichever
producer made it, which is what keeps segments from different producer runs interchangeable.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

SEGMENT_SECONDS = 4.0
#: a transcode's segments: 2 s throughout, so pressing play *and* a seek anywhere (a new
#: producer there) wait for 2 s of video to be encoded, not 4 (issue 19's targets: first
#: frame and seek within 3 s at 720p). A fixed grid keeps the playlist the same at every
#: request (RFC 8216 §6.2.1); the cost is a forced keyframe every 2 s (~2-3 % bytes)
TRANSCODE_SEGMENT_SECONDS = 2.0
#: a short first segment (``fixed_timeline``'s ``first``) for grids coarser than that
FIRST_SEGMENT_SECONDS = 2.0
#: never more segments than this in one playlist (a 24 h file at 4 s is 21,600)
MAX_SEGMENTS = 50_000
STANDARD_HEIGHTS = (1080, 720, 480, 360)
MAX_TRANSCODE_HEIGHT = 1080


@dataclass(frozen=True, slots=True)
class Timeline:
    """Segment boundaries in integer ticks of ``time_base``, and the end of the media."""

    starts: tuple[int, ...]
    time_base: Fraction
    end: int  # ticks: the end of the last segment

    def seconds(self, ticks: int) -> float:
        return float(ticks * self.time_base)

    def durations(self) -> list[float]:
        edges = (*self.starts, self.end)
        return [float((b - a) * self.time_base) for a, b in itertools.pairwise(edges)]

    def bounds(self, number: int) -> tuple[int, int | None]:
        """[start, stop) of segment ``number`` in ticks; stop None for the last one."""
        stop = self.starts[number + 1] if number + 1 < len(self.starts) else None
        return self.starts[number], stop

    def __len__(self) -> int:
        return len(self.starts)


def copy_timeline(keyframes: Sequence[int], time_base: Fraction, end: int,
                  target: float = SEGMENT_SECONDS) -> Timeline:
    """Boundaries at keyframes (ticks, any order, duplicates allowed), each at least
    ``target`` seconds after the previous one; the first keyframe starts segment 0."""
    ordered = sorted(set(keyframes))
    if not ordered:
        raise ValueError("no keyframes")
    step = max(1, round(Fraction(target) / time_base)) if time_base > 0 else 1
    starts = [ordered[0]]
    for tick in ordered[1:]:
        if tick - starts[-1] >= step and tick < end:
            starts.append(tick)
            if len(starts) >= MAX_SEGMENTS:
                break
    return Timeline(tuple(starts), time_base, max(end, starts[-1] + 1))


def fixed_timeline(duration: float, target: float = SEGMENT_SECONDS,
                   time_base: Fraction = Fraction(1, 90_000),
                   first: float | None = None) -> Timeline:
    """Boundaries every ``target`` seconds from 0 (the transcoder forces a keyframe at each);
    a last piece shorter than a fifth of ``target`` joins the segment before it. ``first``
    (shorter than ``target``) splits the first segment: the first picture of a transcode
    waits for ``first`` seconds of video to be encoded, not ``target``."""
    end = max(1, round(Fraction(duration) / time_base))
    step = round(Fraction(target) / time_base)
    count = max(1, min(MAX_SEGMENTS - 1, -(-end // step)))
    if count > 1 and end - (count - 1) * step < step // 5:
        count -= 1
    starts = [i * step for i in range(count)]
    if first is not None and 0 < first < target:
        head = round(Fraction(first) / time_base)
        second_start = starts[1] if count > 1 else end
        if second_start - head >= step // 5:  # no sliver after the short head
            starts.insert(1, head)
    return Timeline(tuple(starts), time_base, end)


@dataclass(frozen=True, slots=True)
class Rendition:
    """One quality of a transcode: its name in URLs, picture size and bit rates."""

    name: str  # "720p"
    width: int
    height: int
    video_bit_rate: int  # x264's maxrate, bits per second
    audio_bit_rate: int

    @property
    def bandwidth(self) -> int:
        """Peak bits per second for the master playlist's BANDWIDTH (maxrate plus audio,
        plus ~5 % of container overhead)."""
        return round((self.video_bit_rate + self.audio_bit_rate) * 1.05)


#: bits per pixel per second at 30 fps for x264 at the quality we aim for (5 Mb/s at 1080p)
_BITS_PER_PIXEL = 5_000_000 / (1920 * 1080)


def _even(value: float) -> int:
    return max(2, round(value / 2) * 2)


def ladder(width: int | None, height: int | None) -> list[Rendition]:
    """The source's height (at most 1080) and the standard steps below it, largest first.
    Sizes keep the source's aspect ratio, rounded to even numbers (x264 needs them). Coded
    sizes: a rotated picture keeps its display matrix, so it is named by its coded height."""
    if not width or not height:
        return []
    top = min(height, MAX_TRANSCODE_HEIGHT)
    heights = [top, *(h for h in STANDARD_HEIGHTS if h < top)]
    renditions = []
    for h in heights:
        scaled_h = _even(h)
        scaled_w = _even(width * h / height)
        rate = max(300_000, round(scaled_w * scaled_h * _BITS_PER_PIXEL / 10_000) * 10_000)
        audio = 128_000 if h >= 480 else 96_000
        renditions.append(Rendition(f"{scaled_h}p", scaled_w, scaled_h, rate, audio))
    return renditions
