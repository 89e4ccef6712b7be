"""Where the poster frame is taken and how seek-preview sprites are laid out.

A sprite is one JPEG holding small frames in a grid, one every ``interval`` seconds; a
WebVTT "thumbnails" track maps each time span to a tile (``sprite.jpg#xywh=x,y,w,h``), as
YouTube, Jellyfin's trickplay and most web players do. One image instead of a hundred keeps
the hover instant after a single request. The layout is a pure function of the duration and
the picture size as shown (a phone's portrait video, stored as landscape with a rotation,
gets portrait tiles), so the VTT can be served before the sprite exists.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

#: intervals people find natural; the smallest one that keeps the tile count in bounds wins
NICE_INTERVALS = (1, 2, 5, 10, 15, 20, 30, 60, 120, 300, 600)
MAX_TILES = 100
TILE_WIDTH = 160
COLUMNS = 10


@dataclass(frozen=True, slots=True)
class SpriteLayout:
    """``count`` tiles of ``tile_width`` x ``tile_height``, ``columns`` per row."""

    duration: float
    interval: float
    count: int
    columns: int
    tile_width: int
    tile_height: int

    @property
    def rows(self) -> int:
        return math.ceil(self.count / self.columns)

    @property
    def width(self) -> int:
        return min(self.count, self.columns) * self.tile_width

    @property
    def height(self) -> int:
        return self.rows * self.tile_height

    def position(self, index: int) -> tuple[int, int]:
        """(x, y) of tile ``index`` in the sprite."""
        row, column = divmod(index, self.columns)
        return column * self.tile_width, row * self.tile_height

    def sample_time(self, index: int) -> float:
        """The moment tile ``index`` shows: the middle of its span, so the first tile is
        not the (often black) very first frame."""
        start = index * self.interval
        end = min(start + self.interval, self.duration)
        return round((start + end) / 2, 3)

    def signature(self) -> str:
        """Identifies the layout in cache file names: a change of rules makes new sprites."""
        return f"{self.interval:g}x{self.count}-{self.tile_width}x{self.tile_height}"


def _even(value: float) -> int:
    return max(2, round(value / 2) * 2)


def plan_sprite(duration: float | None, width: int | None = None, height: int | None = None,
                *, max_tiles: int = MAX_TILES, tile_width: int = TILE_WIDTH,
                columns: int = COLUMNS) -> SpriteLayout | None:
    """The sprite for a video, or None when it has no known positive duration."""
    if duration is None or not math.isfinite(duration) or duration <= 0:
        return None
    wanted = duration / max_tiles
    interval = next((float(i) for i in NICE_INTERVALS if i >= wanted),
                    float(math.ceil(wanted)))
    count = max(1, math.ceil(duration / interval))
    tile_w, tile_h = _fit(width, height, tile_width)
    return SpriteLayout(duration, interval, count, columns, tile_w, tile_h)


def _fit(width: int | None, height: int | None, side: int) -> tuple[int, int]:
    """The picture's aspect in a box of ``side`` x ``side``, even numbers: a landscape
    picture ``side`` wide, a portrait one (a phone's, rotated for display) ``side`` tall,
    so a tile or poster never has more pixels than a square of ``side``. Unknown: 16:9."""
    if not width or not height or width <= 0 or height <= 0:
        return side, _even(side * 9 / 16)
    if width >= height:
        return _even(side), _even(side * height / width)
    return _even(side * width / height), _even(side)


def vtt_timestamp(seconds: float) -> str:
    millis = max(0, round(seconds * 1000))
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}.{millis:03d}"


def thumbnails_vtt(layout: SpriteLayout, image_url: str) -> str:
    """The WebVTT thumbnails track: one cue per tile, the last one ending at the end."""
    lines = ["WEBVTT", ""]
    for index in range(layout.count):
        start = index * layout.interval
        end = min(start + layout.interval, layout.duration)
        x, y = layout.position(index)
        lines += [f"{vtt_timestamp(start)} --> {vtt_timestamp(end)}",
                  f"{image_url}#xywh={x},{y},{layout.tile_width},{layout.tile_height}", ""]
    return "\n".join(lines)


def poster_times(duration: float | None) -> list[float]:
    """Candidate moments for the poster: about 10 % in, then later ones in case that frame
    is black (a fade, a title card). Without a duration: the start."""
    if duration is None or not math.isfinite(duration) or duration <= 0:
        return [0.0]
    return [round(duration * share, 3) for share in (0.10, 0.25, 0.40)]


def poster_size(width: int | None, height: int | None, max_side: int = 480) -> tuple[int, int]:
    """Poster dimensions for a picture shown ``width`` x ``height``: its aspect, even numbers,
    neither side over ``max_side`` (a landscape poster is at most ``max_side`` wide, a
    portrait one at most ``max_side`` tall), never enlarged."""
    if width and height and 0 < width <= max_side and 0 < height <= max_side:
        return _even(width), _even(height)
    return _fit(width, height, max_side)
