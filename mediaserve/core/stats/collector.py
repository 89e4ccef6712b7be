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
``sent`` attribute) to the hit, and every :meth:`~StatsCollector.tick` (the server ticks each
second; snapshots tick too) credits what long answers in flight sent since the last one. A
player that holds one ``bytes=0-`` response open for an hour therefore shows up in
``bytes_sent`` and in the throughput windows as it plays, not only when it stops. The
throughput windows are differences between per-second samples of the byte count, so the
per-request hooks never touch them.

Cost: the four hooks are about 16,000 CPU instructions per request (callgrind). The stream
fast path records an answer it wrote whole with :meth:`StatsCollector.served`, which only
queues it; the queue is counted in batches, in order, before anything else reads or
changes the collector. With it the collector costs ~1 % of a 64 KiB seek's server CPU
(``python -m benchmarks.stats_bench``: 41.3 against 40.9 us per request).

Time comes from injected clocks (monotonic for durations and windows, wall for
``last_seen``), so tests drive the collector with a fake clock and the core does no I/O.
"""

from __future__ import annotations

import heapq
import time
from bisect import bisect_left
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from mediaserve.core.stats.histogram import (
    LATENCY_BOUNDS,
    RANGE_BOUNDS,
    RANGE_EXP_MIN,
    Histogram,
)
from mediaserve.core.stats.snapshot import WINDOWS, finish_global, finish_row
from mediaserve.core.stats.tally import HEATMAP_BUCKETS, Hit, PartLike, Tally

#: answers longer than this are credited while they run (at each tick); shorter ones
#: (a 64 KiB seek read) when they end, which spares the hot path two set operations
INFLIGHT_MIN_BYTES = 1 << 20
DEFAULT_MAX_VIDEOS = 1000
_SAMPLES = max(WINDOWS.values()) + 2  # one throughput sample a second, a little over 60 s
_RANGE_OVERFLOW = len(RANGE_BOUNDS)
_PENDING_MAX = 512  # answers queued by ``served`` before they are counted, at most
OTHER_ID = "other"


class StatsCollector:
    """Counters, histograms and heat maps for one server process.

    Per request only the video's own tally (or ``other``'s) and the global histograms are
    touched; global totals are sums over the tallies, added up when a snapshot is taken.
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
        self._other = Tally()  # videos folded out of ``_videos``
        self._unknown: dict[int, int] = {}  # statuses of stream requests for unknown ids
        self._active: set[Hit] = set()  # long answers in flight, credited at each tick
        self._ranges = Histogram(RANGE_BOUNDS)
        self._ttfb = Histogram(LATENCY_BOUNDS)
        self._response = Histogram(LATENCY_BOUNDS)
        self._sent = 0  # body bytes of every stream, for the throughput windows
        #: (second, ``_sent`` then) per tick, newest last: the windows are differences
        self._samples: deque[tuple[int, int]] = deque(maxlen=_SAMPLES)
        #: answers ``served`` queued, counted by ``_fold`` (bounded by _PENDING_MAX)
        self._pending: list[tuple[str, int, int, Sequence[PartLike], int, float, float]] = []

    # ------------------------------------------------------------------ hooks (hot path)

    def begin(self, video_id: str) -> Hit:
        """A stream request for a known video starts."""
        if self._pending:
            self._fold()
        now = self._clock()
        tally = self._videos.get(video_id)
        if tally is None:
            tally = self._track(video_id)
        else:
            self._videos.move_to_end(video_id)
        tally.active += 1
        tally.last_seen = now
        hit = Hit()
        hit.tally = tally
        hit.started = now
        return hit

    def planned(self, hit: Hit, status: int, size: int, parts: Sequence[PartLike],
                body_bytes: int) -> None:
        """The answer is decided: ``status``, the file's ``size``, the ``parts`` (spans)
        it will send and the body bytes it owes (0 for HEAD, 304, 412, 416)."""
        hit.status = status
        hit.size = size
        hit.parts = parts
        hit.expected = body_bytes
        if body_bytes > INFLIGHT_MIN_BYTES:
            self._active.add(hit)

    def first_byte(self, hit: Hit) -> None:
        """The header section has been handed to the socket."""
        hit.first_byte_at = self._clock()

    def end(self, hit: Hit, status: int | None = None) -> None:
        """The request is over. ``status`` is the response's (None when an exception ended
        the handler: the planned status, or 500 if there was no plan). A body shorter than
        promised counts as an abort (client gone, or the file shrank).

        Written for the interpreter, not for beauty: it runs once per request, so locals
        instead of repeated attribute look-ups, and one helper shared with ``served``."""
        if self._pending:
            self._fold()
        now = self._clock()
        if hit.expected > INFLIGHT_MIN_BYTES:
            self._active.discard(hit)
        tally = hit.tally
        if tally.folded:
            tally = self._other
        meter = hit.meter
        if meter is not None:
            sent = meter.sent - hit.counted
            if sent:
                tally.bytes_sent += sent
                self._sent += sent
            if meter.sent < hit.expected:
                tally.aborts += 1
        elif hit.expected:
            tally.aborts += 1
        tally.active -= 1
        started = hit.started
        first_byte_at = hit.first_byte_at
        self._record(tally, status or hit.status or 500, hit.size, hit.parts, now,
                     now - started, first_byte_at - started if first_byte_at else -1.0)

    def served(self, video_id: str, status: int, size: int, parts: Sequence[PartLike],
               sent: int, started: float) -> None:
        """An answer given whole within one call (the fast path's usual case): what
        ``begin``, ``planned``, ``first_byte`` and ``end`` record together. ``started`` is
        :meth:`now` when the request arrived and ``sent`` every body byte it owed.

        Only queued here (a tuple appended) and counted in a batch by :meth:`_fold`, before
        any other hook or read and at least every ``_PENDING_MAX`` answers: the same
        operations in the same order, so every snapshot is exactly what the per-request
        hooks would give, for a third of their cost on the serving path (one tight loop
        over many answers instead of a collector's worth of cache misses per request)."""
        pending = self._pending
        pending.append((video_id, status, size, parts, sent, started, self._clock()))
        if len(pending) >= _PENDING_MAX:
            self._fold()

    def _fold(self) -> None:
        """Count the answers :meth:`served` queued, in order."""
        pending, self._pending = self._pending, []
        videos = self._videos
        record = self._record
        for video_id, status, size, parts, sent, started, now in pending:
            tally = videos.get(video_id)
            if tally is None:
                tally = self._track(video_id)
            else:
                videos.move_to_end(video_id)
            if sent:
                tally.bytes_sent += sent
                self._sent += sent
            record(tally, status, size, parts, now, now - started, now - started)

    def now(self) -> float:
        """The collector's clock, for :meth:`served`'s ``started``."""
        return self._clock()

    def _record(self, tally: Tally, code: int, size: int, parts: Sequence[PartLike],
                now: float, took: float, ttfb: float) -> None:
        """A finished request's counts, heat map, range sizes and latencies (``ttfb`` < 0:
        no byte left). Written for the interpreter: locals, inlined helpers."""
        tally.requests += 1
        counts = tally.status
        counts[code] = counts.get(code, 0) + 1
        tally.last_seen = now
        if code == 206 and size > 0:
            ranges = self._ranges
            heat = tally.seek_heatmap
            for part in parts:
                span = part.span
                first = span.first
                length = span.last - first + 1
                heat[first * HEATMAP_BUCKETS // size] += 1
                bucket = (length - 1).bit_length() - RANGE_EXP_MIN  # range_bucket, inlined
                if bucket < 0:
                    bucket = 0
                elif bucket > _RANGE_OVERFLOW:
                    bucket = _RANGE_OVERFLOW
                ranges.counts[bucket] += 1  # its sum is the tallies' range_bytes
                tally.ranges += 1
                tally.range_bytes += length
        hist = self._response  # Histogram.observe, inlined
        hist.counts[bisect_left(LATENCY_BOUNDS, took)] += 1
        hist.total += took
        if ttfb >= 0:
            hist = self._ttfb
            hist.counts[bisect_left(LATENCY_BOUNDS, ttfb)] += 1
            hist.total += ttfb

    def unknown_video(self, status: int = 404) -> None:
        """A stream request for an id the library does not have: counted globally only."""
        self._unknown[status] = self._unknown.get(status, 0) + 1

    def player_seeks(self, video_id: str, positions: Iterable[float], duration: float) -> int:
        """Seek positions (seconds) a player reported; returns how many were counted.
        Positions are assumed validated (0 <= p, finite); past the end counts as the end."""
        if self._pending:
            self._fold()
        tally = self._track(video_id)
        tally.last_seen = self._clock()
        heat = tally.player_heatmap
        if heat is None:
            heat = tally.player_heatmap = [0] * HEATMAP_BUCKETS
        count = 0
        for position in positions:
            heat[min(HEATMAP_BUCKETS - 1, int(position / duration * HEATMAP_BUCKETS))] += 1
            count += 1
        tally.player_seeks += count
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

    def tick(self) -> None:
        """Credit what running streams sent since the last tick and take a throughput
        sample. The server calls it every second (snapshots call it too); per-request
        hooks never touch the windows, which keeps them cheap."""
        if self._pending:
            self._fold()
        now = self._clock()
        for hit in self._active:
            meter = hit.meter
            if meter is not None and meter.sent != hit.counted:
                sent = meter.sent
                tally = self._other if hit.tally.folded else hit.tally
                tally.bytes_sent += sent - hit.counted
                self._sent += sent - hit.counted
                hit.counted = sent
        second = int(now)
        samples = self._samples
        if samples and samples[-1][0] == second:
            samples.pop()
        samples.append((second, self._sent))

    def _window_sums(self, now: float) -> dict[str, int]:
        """Bytes sent in each window: the byte count now minus the count at the newest
        sample at least a window old (0 while the server is younger than the window)."""
        second = int(now)
        sums = {}
        for name, length in WINDOWS.items():
            base = 0
            if now - self._started >= length:
                base = self._samples[0][1] if self._samples else 0
                for at, count in reversed(self._samples):
                    if at <= second - length:
                        base = count
                        break
            sums[name] = self._sent - base
        return sums

    # ------------------------------------------------------------------ snapshots

    @property
    def tracked(self) -> int:
        if self._pending:
            self._fold()
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
        self.tick()
        uptime = now - self._started
        everything = self._totals()
        status = everything.status
        for code, count in self._unknown.items():
            status[code] = status.get(code, 0) + count
        raw = {
            "requests": everything.requests + sum(self._unknown.values()),
            "status": status,
            "bytes_sent": everything.bytes_sent,
            "ranges_served": everything.ranges,
            "range_bytes": everything.range_bytes,
            "range_size_histogram": self._ranges.to_json(total=everything.range_bytes),
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
        rest = Tally()
        rest.absorb(self._other)
        for vid, tally in self._videos.items():
            if vid not in listed_ids:
                rest.absorb(tally)
        rest.folded = self._other.folded + len(self._videos) - listed
        return self._row(OTHER_ID, rest, now, wall, None)

    def _totals(self) -> Tally:
        """Every video's counters added up (not the heat maps, which GLOBAL leaves out)."""
        total = Tally()
        status = total.status
        for tally in (*self._videos.values(), self._other):
            total.requests += tally.requests
            for code, count in tally.status.items():
                status[code] = status.get(code, 0) + count
            total.bytes_sent += tally.bytes_sent
            total.ranges += tally.ranges
            total.range_bytes += tally.range_bytes
            total.active += tally.active
            total.aborts += tally.aborts
            total.player_seeks += tally.player_seeks
        return total

    def video(self, video_id: str, title: str | None = None) -> dict[str, Any]:
        """One video's row; zeros for a video never streamed (or folded into ``other``)."""
        self.tick()
        now = self._clock()
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
