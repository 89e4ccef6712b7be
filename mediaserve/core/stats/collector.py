"""The streaming statistics collector: O(1) hooks for the stream handler, bounded memory.

The stream handler calls, per request, :meth:`StatsCollector.begin` (the video is known),
:meth:`~StatsCollector.planned` (the range plan is made), :meth:`~StatsCollector.first_byte`
(the header section left) and :meth:`~StatsCollector.end` (always, from a ``finally``). Each
hook is a handful of integer additions, one ``bisect`` on a fixed tuple and dictionary
look-ups: no per-event lists, nothing that grows with traffic.

Memory is bounded by ``max_videos``: each tracked video costs a fixed-size :class:`Tally`
(two 50-bucket heat maps and counters). When a video beyond the cap becomes active, the
least recently active one is *folded* into the ``other`` row: its counts are added there
and it is forgotten, so totals stay exact while memory stays flat.

Bytes are counted while they flow: the handler attaches its byte meter (anything with a
``sent`` attribute) to the hit, and every snapshot credits what in-flight streams sent since
the last look. A player that holds one ``bytes=0-`` response open for an hour therefore shows
up in ``bytes_sent`` and in the throughput windows as it plays, not only when it stops.

Time comes from injected clocks (monotonic for durations and windows, wall for
``last_seen``), so tests drive the collector with a fake clock and the core does no I/O.
"""

from __future__ import annotations

import heapq
import time
from bisect import bisect_left
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from operator import add
from typing import Any, Protocol

from mediaserve.core.stats.histogram import (
    LATENCY_BOUNDS,
    RANGE_BOUNDS,
    Histogram,
    range_bucket,
)
from mediaserve.core.stats.snapshot import (
    WINDOWS,
    finish_global,
    finish_row,
    subtract_rows,
)

HEATMAP_BUCKETS = 50
DEFAULT_MAX_VIDEOS = 1000
_SLOTS = max(WINDOWS.values())  # one byte counter per second of the longest window
OTHER_ID = "other"


class SupportsSent(Protocol):
    """A byte meter: the handler's count of body bytes handed to the socket so far."""

    sent: int


class SpanLike(Protocol):
    @property
    def first(self) -> int: ...

    @property
    def length(self) -> int: ...


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
    """One stream request in flight: the token the hooks pass around."""

    __slots__ = ("counted", "expected", "first_byte_at", "meter", "parts", "size", "started",
                 "status", "tally")

    def __init__(self, tally: Tally, started: float) -> None:
        self.tally = tally
        self.started = started
        self.first_byte_at = 0.0
        self.status = 0  # planned status; 0 until planned
        self.size = 0
        self.parts: Sequence[PartLike] = ()
        self.expected = 0  # body bytes promised (Content-Length of a GET)
        self.meter: SupportsSent | None = None
        self.counted = 0  # bytes of ``meter`` already credited


class StatsCollector:
    """Counters, histograms and heat maps for one server process.

    Not thread-safe: every hook runs on the event loop, like the handler calling it."""

    enabled = True

    def __init__(self, max_videos: int = DEFAULT_MAX_VIDEOS,
                 clock: Callable[[], float] = time.monotonic,
                 wall: Callable[[], float] = time.time) -> None:
        if max_videos < 1:
            raise ValueError("max_videos must be at least 1")
        self.max_videos = max_videos
        self._clock = clock
        self._wall = wall
        self._started = clock()
        self._videos: OrderedDict[str, Tally] = OrderedDict()  # least recently active first
        self._all = Tally()  # every video-attributed event, folded or not
        self._other = Tally()  # videos folded out of ``_videos``
        self._unknown: dict[int, int] = {}  # statuses of stream requests for unknown ids
        self._active: set[Hit] = set()
        self._ranges = Histogram(RANGE_BOUNDS)
        self._ttfb = Histogram(LATENCY_BOUNDS, unit=1e-6)
        self._response = Histogram(LATENCY_BOUNDS, unit=1e-6)
        self._window_second = [-1] * _SLOTS
        self._window_bytes = [0] * _SLOTS

    # ------------------------------------------------------------------ hooks (hot path)

    def begin(self, video_id: str) -> Hit:
        """A stream request for a known video starts."""
        now = self._clock()
        tally = self._track(video_id)
        tally.active += 1
        tally.last_seen = now
        self._all.active += 1
        hit = Hit(tally, now)
        self._active.add(hit)
        return hit

    def planned(self, hit: Hit, status: int, size: int, parts: Sequence[PartLike],
                body_bytes: int) -> None:
        """The answer is decided: ``status``, the file's ``size``, the ``parts`` (spans)
        it will send and the body bytes it owes (0 for HEAD, 304, 412, 416)."""
        hit.status = status
        hit.size = size
        hit.parts = parts
        hit.expected = body_bytes

    def first_byte(self, hit: Hit) -> None:
        """The header section has been handed to the socket."""
        hit.first_byte_at = self._clock()

    def end(self, hit: Hit, status: int | None = None) -> None:
        """The request is over. ``status`` is the response's (None when an exception ended
        the handler: the planned status, or 500 if there was no plan). A body shorter than
        promised counts as an abort (client gone, or the file shrank)."""
        now = self._clock()
        self._active.discard(hit)
        code = status or hit.status or 500
        sent = hit.meter.sent if hit.meter is not None else 0
        tally = hit.tally
        if tally.folded:
            tally = self._other
        if sent != hit.counted:
            self._credit(tally, sent - hit.counted, now)
            hit.counted = sent
        every = self._all
        # the two tallies are updated side by side, unrolled: this runs once per request
        tally.requests += 1
        every.requests += 1
        tally.status[code] = tally.status.get(code, 0) + 1
        every.status[code] = every.status.get(code, 0) + 1
        tally.active -= 1
        every.active -= 1
        tally.last_seen = every.last_seen = now
        if sent < hit.expected:
            tally.aborts += 1
            every.aborts += 1
        if code == 206 and hit.size > 0:
            size = hit.size
            ranges = self._ranges
            for part in hit.parts:
                span = part.span
                length = span.length
                bucket = span.first * HEATMAP_BUCKETS // size
                tally.seek_heatmap[bucket] += 1
                every.seek_heatmap[bucket] += 1
                ranges.counts[range_bucket(length)] += 1
                ranges.total += length
                tally.ranges += 1
                every.ranges += 1
                tally.range_bytes += length
                every.range_bytes += length
        took = now - hit.started  # Histogram.observe, inlined
        self._response.counts[bisect_left(LATENCY_BOUNDS, took)] += 1
        self._response.total += int(took * 1e6)
        if hit.first_byte_at:
            took = hit.first_byte_at - hit.started
            self._ttfb.counts[bisect_left(LATENCY_BOUNDS, took)] += 1
            self._ttfb.total += int(took * 1e6)

    def unknown_video(self, status: int = 404) -> None:
        """A stream request for an id the library does not have: counted globally only."""
        self._unknown[status] = self._unknown.get(status, 0) + 1

    def player_seeks(self, video_id: str, positions: Iterable[float], duration: float) -> int:
        """Seek positions (seconds) a player reported; returns how many were counted.
        Positions are assumed validated (0 <= p, finite); past the end counts as the end."""
        tally = self._track(video_id)
        tally.last_seen = self._clock()
        heat = tally.player_heatmap
        if heat is None:
            heat = tally.player_heatmap = [0] * HEATMAP_BUCKETS
        heat_all = self._all.player_heatmap
        if heat_all is None:
            heat_all = self._all.player_heatmap = [0] * HEATMAP_BUCKETS
        count = 0
        for position in positions:
            bucket = min(HEATMAP_BUCKETS - 1, int(position / duration * HEATMAP_BUCKETS))
            heat[bucket] += 1
            heat_all[bucket] += 1
            count += 1
        tally.player_seeks += count
        self._all.player_seeks += count
        return count

    # ------------------------------------------------------------------ internals

    def _track(self, video_id: str) -> Tally:
        videos = self._videos
        tally = videos.get(video_id)
        if tally is not None:
            videos.move_to_end(video_id)
            return tally
        if len(videos) >= self.max_videos:
            _gone, oldest = videos.popitem(last=False)
            oldest.folded = 1
            self._other.absorb(oldest)
            self._other.folded += 1
        tally = videos[video_id] = Tally()
        return tally

    def _credit(self, tally: Tally, count: int, now: float) -> None:
        tally.bytes_sent += count
        self._all.bytes_sent += count
        second = int(now)
        slot = second % _SLOTS
        if self._window_second[slot] != second:
            self._window_second[slot] = second
            self._window_bytes[slot] = 0
        self._window_bytes[slot] += count

    def _credit_inflight(self, now: float) -> None:
        """Credit what streams still running have sent since the last look."""
        for hit in self._active:
            if hit.meter is not None and hit.meter.sent != hit.counted:
                tally = self._other if hit.tally.folded else hit.tally
                self._credit(tally, hit.meter.sent - hit.counted, now)
                hit.counted = hit.meter.sent

    def _window_sums(self, now: float) -> dict[str, int]:
        second = int(now)
        return {name: sum(count for at, count in zip(self._window_second, self._window_bytes,
                                                      strict=True)
                          if 0 <= second - at < length)
                for name, length in WINDOWS.items()}

    # ------------------------------------------------------------------ snapshots

    @property
    def tracked(self) -> int:
        return len(self._videos)

    def snapshot(self, top: int | None = None,
                 title_of: Callable[[str], str | None] | None = None) -> dict[str, Any]:
        """Plain JSON-able data (see STATS_API): global counters, video rows by bytes sent
        and the ``other`` row.

        ``top=None`` lists every tracked video and ``other`` holds only folded videos: the
        form to merge across processes (:func:`merge_snapshots`). ``top=N`` lists the N
        busiest and folds the rest into ``other`` too, so ``videos`` plus ``other`` always
        add up to the totals."""
        now = self._clock()
        wall = self._wall()
        self._credit_inflight(now)
        uptime = now - self._started
        everything = self._all
        status = dict(everything.status)
        for code, count in self._unknown.items():
            status[code] = status.get(code, 0) + count
        raw = {
            "requests": everything.requests + sum(self._unknown.values()),
            "status": status,
            "bytes_sent": everything.bytes_sent,
            "ranges_served": everything.ranges,
            "range_bytes": everything.range_bytes,
            "range_size_histogram": self._ranges.to_json(),
            "active_streams": everything.active,
            "aborts": everything.aborts,
            "ttfb_histogram": self._ttfb.to_json(),
            "response_histogram": self._response.to_json(),
            "throughput_bytes": self._window_sums(now),
            "player_seeks": everything.player_seeks,
        }
        tallies = self._videos
        if top is None:
            chosen = sorted(tallies.items(), key=_busiest)
        else:
            chosen = heapq.nsmallest(max(0, top), tallies.items(), key=_busiest)
        rows = [self._row(vid, tally, now, wall, title_of) for vid, tally in chosen]
        other: dict[str, Any] | None
        if top is None:
            other = self._row(OTHER_ID, self._other, now, wall, None) if self._other.folded \
                else None
        else:
            other = self._rest(rows, len(chosen), now, wall)
        return {
            "uptime_s": round(uptime, 3),
            "global": finish_global(raw, uptime),
            "videos": rows,
            "other": other,
            "tracked": len(tallies),
            "max_videos": self.max_videos,
        }

    def _rest(self, rows: list[dict[str, Any]], listed: int, now: float,
              wall: float) -> dict[str, Any] | None:
        """Everything not in ``rows``: all videos ever seen minus the listed ones."""
        if listed == len(self._videos) and not self._other.folded:
            return None
        listed_ids = {row["id"] for row in rows}
        rest = self._row(OTHER_ID, self._all, now, wall, None)
        rest = subtract_rows(rest, rows)
        last: float | None = self._other.last_seen
        for vid, tally in self._videos.items():
            if vid not in listed_ids and tally.last_seen is not None and (
                    last is None or tally.last_seen > last):
                last = tally.last_seen
        rest["last_seen"] = _wall_time(last, now, wall)
        rest["folded"] = self._other.folded + len(self._videos) - listed
        return rest

    def video(self, video_id: str, title: str | None = None) -> dict[str, Any]:
        """One video's row; zeros for a video never streamed (or folded into ``other``)."""
        now = self._clock()
        self._credit_inflight(now)
        tally = self._videos.get(video_id) or Tally()
        row = self._row(video_id, tally, now, self._wall(), None)
        row["title"] = title
        return row

    def _row(self, vid: str, tally: Tally, now: float, wall: float,
             title_of: Callable[[str], str | None] | None) -> dict[str, Any]:
        row = {
            "id": vid,
            "title": title_of(vid) if title_of is not None else None,
            "requests": tally.requests,
            "status": {str(code): count for code, count in sorted(tally.status.items())},
            "bytes_sent": tally.bytes_sent,
            "ranges_served": tally.ranges,
            "range_bytes": tally.range_bytes,
            "active_streams": tally.active,
            "aborts": tally.aborts,
            "last_seen": _wall_time(tally.last_seen, now, wall),
            "seek_heatmap": list(tally.seek_heatmap),
            "player_seek_heatmap": list(tally.player_heatmap or [0] * HEATMAP_BUCKETS),
            "player_seeks": tally.player_seeks,
        }
        if vid == OTHER_ID:
            row["title"] = "other videos"
            row["folded"] = tally.folded
        return finish_row(row)


def _busiest(item: tuple[str, Tally]) -> tuple[int, int, str]:
    return (-item[1].bytes_sent, -item[1].requests, item[0])


def _wall_time(mono: float | None, now: float, wall: float) -> float | None:
    return None if mono is None else round(wall - (now - mono), 3)


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

    def unknown_video(self, status: int = 404) -> None:
        return None

    def player_seeks(self, video_id: str, positions: Iterable[float], duration: float) -> int:
        return 0


_NULL_HIT = Hit(Tally(), 0.0)
