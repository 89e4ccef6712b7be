"""The collector turned off (``stats = false``): the same interface, every hook a no-op."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from mediaserve.core.stats.collector import StatsCollector
from mediaserve.core.stats.tally import Hit, PartLike, Tally


class DisabledCollector(StatsCollector):
    """The collector turned off (``stats = false``): every hook returns at once, so the
    cost of statistics can be measured against the same handler code."""

    enabled = False

    def begin(self, video_id: str) -> Hit:
        return _NULL_HIT

    def planned(self, hit: Hit, status: int, size: int, parts: Sequence[PartLike],
                body_bytes: int) -> None:
        return None

    def first_byte(self, hit: Hit) -> None:
        return None

    def end(self, hit: Hit, status: int | None = None) -> None:
        return None

    def served(self, video_id: str, status: int, size: int, parts: Sequence[PartLike],
               sent: int, started: float) -> None:
        return None

    def now(self) -> float:
        return 0.0

    def unknown_video(self, status: int = 404) -> None:
        return None

    def tick(self) -> None:
        return None

    def player_seeks(self, video_id: str, positions: Iterable[float], duration: float) -> int:
        return 0


_NULL_HIT = Hit()
_NULL_HIT.tally = Tally()
_NULL_HIT.started = 0.0
