"""What the collector keeps per video, and the token a request carries through the hooks."""

from __future__ import annotations

from collections.abc import Sequence
from operator import add
from typing import Protocol

HEATMAP_BUCKETS = 50


class SupportsSent(Protocol):
    """A byte meter: the handler's count of body bytes handed to the socket so far."""

    sent: int


class SpanLike(Protocol):
    @property
    def first(self) -> int: ...

    @property
    def last(self) -> int: ...


class PartLike(Protocol):
    @property
    def span(self) -> SpanLike: ...


class Tally:
    """Everything counted for one video (or for the ``other`` row, or for all videos)."""

    __slots__ = ("aborts", "active", "bytes_sent", "folded", "last_seen", "player_heatmap",
                 "player_seeks", "range_bytes", "ranges", "requests", "seek_heatmap",
                 "status")

    def __init__(self) -> None:
        self.requests = 0
        self.status: dict[int, int] = {}
        self.bytes_sent = 0
        self.ranges = 0
        self.range_bytes = 0
        self.active = 0
        self.aborts = 0
        self.last_seen: float | None = None  # monotonic clock
        self.seek_heatmap = [0] * HEATMAP_BUCKETS
        self.player_heatmap: list[int] | None = None  # allocated on the first player seek
        self.player_seeks = 0
        self.folded = 0  # for a video: 1 once folded into ``other``; for ``other``: how many

    def absorb(self, other: Tally) -> None:
        """Add ``other``'s counts to this one (folding a video into the ``other`` row)."""
        self.requests += other.requests
        for code, count in other.status.items():
            self.status[code] = self.status.get(code, 0) + count
        self.bytes_sent += other.bytes_sent
        self.ranges += other.ranges
        self.range_bytes += other.range_bytes
        self.active += other.active
        self.aborts += other.aborts
        if other.last_seen is not None and (self.last_seen is None
                                            or other.last_seen > self.last_seen):
            self.last_seen = other.last_seen
        self.seek_heatmap[:] = map(add, self.seek_heatmap, other.seek_heatmap)
        if other.player_heatmap is not None:
            mine = self.player_heatmap or [0] * HEATMAP_BUCKETS
            mine[:] = map(add, mine, other.player_heatmap)
            self.player_heatmap = mine
        self.player_seeks += other.player_seeks


class Hit:
    """One stream request in flight: the token the hooks pass around.

    No ``__init__`` and no ``__slots__`` on purpose: the defaults live on the class, so
    creating a hit (once per request) is one C call and two attribute stores."""

    tally: Tally
    started: float
    first_byte_at = 0.0
    status = 0  # planned status; 0 until planned
    size = 0
    parts: Sequence[PartLike] = ()
    expected = 0  # body bytes promised (Content-Length of a GET)
    meter: SupportsSent | None = None
    counted = 0  # bytes of ``meter`` already credited
