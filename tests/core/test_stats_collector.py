"""The statistics collector on a fake clock: exact counts, percentiles within a bucket,
merging equals the combined traffic, folding beyond the cap, bounded memory."""

from __future__ import annotations

import gc
import random
import sys
from bisect import bisect_left
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mediaserve.core.http.ranges import Part, Span
from mediaserve.core.stats import (
    HEATMAP_BUCKETS,
    DisabledCollector,
    StatsCollector,
    limit_top,
    merge_snapshots,
    rates,
)
from mediaserve.core.stats.histogram import (
    LATENCY_BOUNDS,
    PROMETHEUS_LATENCY_BOUNDS,
    RANGE_BOUNDS,
    Histogram,
    percentile,
    range_bucket,
    rebucket,
)

WALL0 = 1_800_000_000.0


class Clock:
    """A monotonic clock the test moves by hand; ``wall`` follows it from WALL0."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def wall(self) -> float:
        return WALL0 + self.now


class Meter:
    __slots__ = ("sent",)

    def __init__(self) -> None:
        self.sent = 0


def collector(clock: Clock, max_videos: int = 1000) -> StatsCollector:
    return StatsCollector(max_videos=max_videos, clock=clock, wall=clock.wall)


def request(stats: StatsCollector, clock: Clock, vid: str, status: int, size: int,
            spans: list[tuple[int, int]] = (), sent: int | None = None, *,
            ttfb: float = 0.001, took: float = 0.004, body: int | None = None) -> None:
    """One stream request through the hooks, as the handler makes it."""
    parts = tuple(Part(b"", Span(first, last)) for first, last in spans)
    owed = body if body is not None else (
        sum(last - first + 1 for first, last in spans) if status == 206 else
        size if status == 200 else 0)
    hit = stats.begin(vid)
    stats.planned(hit, status, size, parts, owed)
    clock.now += ttfb
    stats.first_byte(hit)
    if owed:
        hit.meter = meter = Meter()
        meter.sent = owed if sent is None else sent
    clock.now += took - ttfb
    stats.end(hit, status)


# ------------------------------------------------------------------ histograms


def test_range_bucket_is_bisect_on_the_bounds() -> None:
    for size in [1, 1023, 1024, 1025, 65535, 65536, 65537, 1 << 40, (1 << 40) + 1, 1 << 60]:
        assert range_bucket(size) == bisect_left(RANGE_BOUNDS, size), size


@given(st.integers(min_value=1, max_value=1 << 62))
def test_range_bucket_property(size: int) -> None:
    assert range_bucket(size) == bisect_left(RANGE_BOUNDS, size)


@pytest.mark.parametrize("draw", [
    lambda rng: rng.lognormvariate(-6, 1.5),  # latencies: ms with a long tail
    lambda rng: rng.uniform(0.0001, 2.0),
    lambda rng: rng.expovariate(200),
])
def test_percentiles_fall_in_the_bucket_of_the_true_value(
        draw: Callable[[random.Random], float]) -> None:
    rng = random.Random(5)
    values = sorted(min(draw(rng), 99.0) for _ in range(20_000))
    hist = Histogram(LATENCY_BOUNDS)
    for value in values:
        hist.observe(value)
    assert hist.count == len(values)
    for q in (0.5, 0.9, 0.99):
        true = values[int(q * len(values)) - 1]  # the rank-q sample
        estimate = percentile(hist.bounds, hist.counts, q)
        bucket = bisect_left(LATENCY_BOUNDS, true)
        low = LATENCY_BOUNDS[bucket - 1] if bucket else 0.0
        assert low <= estimate <= LATENCY_BOUNDS[bucket], (q, true, estimate)


def test_percentile_edges() -> None:
    assert percentile((1.0, 2.0), [0, 0, 0], 0.5) == 0.0
    assert percentile((1.0, 2.0), [0, 0, 7], 0.99) == 2.0  # overflow: the last bound
    assert percentile((1.0, 2.0), [0, 4, 0], 0.5) == 1.5  # interpolated inside (1, 2]


def test_prometheus_rebucketing_is_exact() -> None:
    assert set(PROMETHEUS_LATENCY_BOUNDS) <= set(LATENCY_BOUNDS)
    rng = random.Random(1)
    hist = Histogram(LATENCY_BOUNDS)
    values = [rng.lognormvariate(-5, 2) for _ in range(5000)]
    for value in values:
        hist.observe(value)
    for le, cumulative in rebucket(hist.bounds, hist.counts, PROMETHEUS_LATENCY_BOUNDS):
        assert cumulative == sum(1 for v in values if v <= le), le


# ------------------------------------------------------------------ exact counters


def test_counts_of_a_known_sequence() -> None:
    clock = Clock()
    stats = collector(clock)
    size = 1_000_000
    request(stats, clock, "aaaaaaaaaaaa", 200, size)
    request(stats, clock, "aaaaaaaaaaaa", 206, size, [(0, 65535)])
    request(stats, clock, "aaaaaaaaaaaa", 206, size, [(500_000, 500_099), (999_000, 999_999)])
    request(stats, clock, "aaaaaaaaaaaa", 206, size, [(100_000, 199_999)], sent=10_000)  # abort
    request(stats, clock, "aaaaaaaaaaaa", 416, size)
    request(stats, clock, "bbbbbbbbbbbb", 304, 10)
    stats.unknown_video(404)
    assert stats.player_seeks("aaaaaaaaaaaa", [0.0, 5.0, 9.99, 10.5], 10.0) == 4
    snap = stats.snapshot()
    glob = snap["global"]
    assert glob["requests"] == 7
    assert glob["status"] == {"200": 1, "206": 3, "304": 1, "404": 1, "416": 1}
    assert glob["bytes_sent"] == size + 65536 + 100 + 1000 + 10_000
    assert glob["ranges_served"] == 4
    assert glob["range_bytes"] == 65536 + 100 + 1000 + 100_000
    assert glob["mean_range_bytes"] == round((65536 + 100 + 1000 + 100_000) / 4, 1)
    assert glob["aborts"] == 1 and glob["active_streams"] == 0
    assert glob["player_seeks"] == 4
    assert sum(glob["range_size_histogram"]["counts"]) == 4
    assert glob["range_size_histogram"]["counts"][range_bucket(65536)] == 1
    assert glob["ttfb_ms"]["count"] == 6 and glob["response_ms"]["count"] == 6
    # 1 ms and 4 ms, give or take a float rounding into the next bucket
    assert 0.8 <= glob["ttfb_ms"]["p50"] <= 1.25 and 3.15 <= glob["response_ms"]["p99"] <= 5.0
    a, b = snap["videos"]
    assert a["id"] == "aaaaaaaaaaaa" and b["id"] == "bbbbbbbbbbbb"
    assert a["requests"] == 5 and a["status"] == {"200": 1, "206": 3, "416": 1}
    assert a["seek_heatmap"][0] == 1 and a["seek_heatmap"][25] == 1
    assert a["seek_heatmap"][49] == 1 and a["seek_heatmap"][5] == 1
    assert sum(a["seek_heatmap"]) == 4 and len(a["seek_heatmap"]) == HEATMAP_BUCKETS
    assert a["player_seek_heatmap"][0] == 1 and a["player_seek_heatmap"][25] == 1
    assert a["player_seek_heatmap"][49] == 2  # 9.99 s and 10.5 s (past the end: the end)
    assert a["player_seeks"] == 4 and a["aborts"] == 1
    assert a["last_seen"] == pytest.approx(clock.wall())
    assert b["requests"] == 1 and b["bytes_sent"] == 0 and b["ranges_served"] == 0
    assert snap["other"] is None and snap["tracked"] == 2
    assert stats.video("cccccccccccc")["requests"] == 0
    assert stats.video("cccccccccccc")["last_seen"] is None


def test_bytes_are_credited_while_a_stream_runs() -> None:
    clock = Clock()
    stats = collector(clock)
    hit = stats.begin("aaaaaaaaaaaa")
    stats.planned(hit, 200, 10_000_000, (Part(b"", Span(0, 9_999_999)),), 10_000_000)
    stats.first_byte(hit)
    hit.meter = meter = Meter()
    meter.sent = 3_000_000
    snap = stats.snapshot()
    assert snap["global"]["active_streams"] == 1 and snap["global"]["requests"] == 0
    assert snap["global"]["bytes_sent"] == 3_000_000
    assert snap["global"]["throughput_bytes"]["10s"] == 3_000_000
    clock.now += 30
    meter.sent = 5_000_000
    stats.end(hit, None)  # an exception ended it: planned status, counted as an abort
    snap = stats.snapshot()
    glob = snap["global"]
    assert glob["bytes_sent"] == 5_000_000 and glob["status"] == {"200": 1}
    assert glob["aborts"] == 1 and glob["active_streams"] == 0
    assert glob["throughput_bytes"] == {"10s": 2_000_000, "60s": 5_000_000}
    assert glob["throughput_bps"]["10s"] == 200_000.0
    clock.now += 61
    assert stats.snapshot()["global"]["throughput_bytes"] == {"10s": 0, "60s": 0}


def test_end_without_a_plan_is_a_500() -> None:
    clock = Clock()
    stats = collector(clock)
    stats.end(stats.begin("aaaaaaaaaaaa"), None)
    assert stats.snapshot()["global"]["status"] == {"500": 1}


# ------------------------------------------------------------------ random traffic

IDS = [f"{n:012x}" for n in range(1, 40)]


def traffic(seed: int, count: int) -> list[tuple[str, Any]]:
    """Deterministic mixed events: requests of every kind, player seeks, unknown ids."""
    rng = random.Random(seed)
    events: list[tuple[str, Any]] = []
    for _ in range(count):
        kind = rng.random()
        vid = rng.choice(IDS)
        size = 1_000 + IDS.index(vid) * 777_777
        if kind < 0.05:
            events.append(("unknown", None))
        elif kind < 0.12:
            events.append(("seeks", (vid, [rng.uniform(0, 100) for _ in range(rng.randint(1, 5))])))
        else:
            status = rng.choice([200, 206, 206, 206, 304, 412, 416])
            spans = []
            if status == 206:
                for _ in range(rng.choice([1, 1, 1, 2])):
                    first = rng.randrange(size)
                    spans.append((first, min(size - 1, first + rng.randint(0, 300_000))))
            sent = None
            if status in (200, 206) and rng.random() < 0.1:
                sent = rng.randint(0, 100)
            events.append(("request", (vid, status, size, spans, sent,
                                       rng.uniform(0, 0.01), rng.uniform(0.01, 3))))
    return events


def play(events: list[tuple[str, Any]], clock: Clock,
         *collectors: StatsCollector) -> None:
    for kind, args in events:
        clock.now += 0.25
        start = clock.now
        for stats in collectors:
            clock.now = start
            if kind == "unknown":
                stats.unknown_video(404)
            elif kind == "seeks":
                stats.player_seeks(args[0], args[1], 100.0)
            else:
                vid, status, size, spans, sent, ttfb, took = args
                request(stats, clock, vid, status, size, spans, sent, ttfb=ttfb,
                        took=max(ttfb, took) if ttfb < took else ttfb)


def _exact_part(snap: dict[str, Any]) -> tuple[dict[str, Any], list[float]]:
    """The snapshot without its capacity and its latency sums (floats, which merge only to
    rounding), and those sums apart."""
    glob = dict(snap["global"])
    sums = []
    for name in ("ttfb_histogram", "response_histogram"):
        hist = dict(glob[name])
        sums.append(hist.pop("sum"))
        glob[name] = hist
    rest = {key: value for key, value in snap.items() if key != "max_videos"}
    rest["global"] = glob
    return rest, sums


def test_merge_of_two_snapshots_equals_the_snapshot_of_the_combined_traffic() -> None:
    clock = Clock()
    a, b, both = collector(clock), collector(clock), collector(clock)
    first, second = traffic(1, 1500), traffic(2, 1500)
    play(first, clock, a, both)
    play(second, clock, b, both)
    merged = merge_snapshots([a.snapshot(), b.snapshot()])
    combined = both.snapshot()
    assert merged["global"]["requests"] == combined["global"]["requests"] > 2500
    merged_exact, merged_sums = _exact_part(merged)
    combined_exact, combined_sums = _exact_part(combined)
    assert merged_exact == combined_exact
    assert merged_sums == pytest.approx(combined_sums, abs=1e-5)
    assert merged["max_videos"] == 2000
    # cutting the merged snapshot to the top 5 is what the collector itself answers
    assert _exact_part(limit_top(merged, 5))[0] == _exact_part(both.snapshot(top=5))[0]


def test_top_n_rows_plus_other_add_up_to_the_totals() -> None:
    clock = Clock()
    stats = collector(clock, max_videos=10)
    play(traffic(3, 2000), clock, stats)
    for top in (0, 3, 10):
        snap = stats.snapshot(top=top)
        rows = [*snap["videos"], snap["other"]]
        assert len(snap["videos"]) == min(top, 10)
        for key in ("bytes_sent", "ranges_served", "range_bytes", "aborts", "player_seeks"):
            assert sum(row[key] for row in rows) == snap["global"][key], (top, key)
        known = snap["global"]["requests"] - snap["global"]["status"].get("404", 0)
        assert sum(row["requests"] for row in rows) == known
        assert sum(sum(row["seek_heatmap"]) for row in rows) == snap["global"]["ranges_served"]
        # every video not listed was folded at least once (some several times)
        assert snap["other"]["folded"] >= len(IDS) - len(snap["videos"])
        sizes = [row["bytes_sent"] for row in snap["videos"]]
        assert sizes == sorted(sizes, reverse=True)
    assert limit_top(stats.snapshot(), 3) == stats.snapshot(top=3)


def test_folding_beyond_the_cap_keeps_streams_in_flight_exact() -> None:
    clock = Clock()
    stats = collector(clock, max_videos=2)
    hit = stats.begin("aaaaaaaaaaaa")  # a long stream of the first video
    stats.planned(hit, 206, 1000, (Part(b"", Span(0, 999)),), 1000)
    request(stats, clock, "bbbbbbbbbbbb", 200, 10)
    request(stats, clock, "cccccccccccc", 200, 20)  # folds aaaa… (least recently active)
    snap = stats.snapshot()
    assert [row["id"] for row in snap["videos"]] == ["cccccccccccc", "bbbbbbbbbbbb"]
    assert snap["other"]["folded"] == 1 and snap["other"]["active_streams"] == 1
    hit.meter = meter = Meter()
    meter.sent = 1000
    stats.end(hit, 206)
    snap = stats.snapshot()
    assert snap["other"]["active_streams"] == 0 and snap["other"]["requests"] == 1
    assert snap["other"]["bytes_sent"] == 1000 and snap["other"]["seek_heatmap"][0] == 1
    assert snap["global"]["bytes_sent"] == 1030 and snap["global"]["active_streams"] == 0


def test_rates_between_snapshots() -> None:
    clock = Clock()
    stats = collector(clock)
    before = stats.snapshot()
    for _ in range(10):
        request(stats, clock, "aaaaaaaaaaaa", 206, 1 << 20, [(0, 65535)], took=0.2)
    after = stats.snapshot()
    got = rates(before, after)
    assert got is not None
    assert got["requests_per_s"] == pytest.approx(10 / 2.0)
    assert got["bytes_per_s"] == pytest.approx(10 * 65536 / 2.0)
    assert rates(after, before) is None  # went backwards: a restarted server


def test_disabled_collector_counts_nothing() -> None:
    stats = DisabledCollector()
    hit = stats.begin("aaaaaaaaaaaa")
    stats.planned(hit, 206, 10, (), 10)
    stats.first_byte(hit)
    stats.end(hit, 206)
    assert stats.player_seeks("aaaaaaaaaaaa", [1.0], 2.0) == 0
    assert stats.snapshot()["global"]["requests"] == 0 and not stats.enabled


# ------------------------------------------------------------------ bounded memory


def footprint(root: object) -> int:
    """Bytes of every object reachable from ``root`` (shared immortals such as small ints
    and the bounds tuples are counted once)."""
    seen: set[int] = set()
    stack = [root]
    total = 0
    while stack:
        obj = stack.pop()
        if id(obj) in seen or isinstance(obj, type | type(sys) | Callable):
            continue
        seen.add(id(obj))
        total += sys.getsizeof(obj)
        stack.extend(gc.get_referents(obj))
    return total


def test_memory_stays_bounded_with_100000_videos_and_a_million_events() -> None:
    """A million events: 200,000 stream requests and 800,000 player-reported seek positions
    (what the design we started from kept in an ever-growing list), over 100,000 videos."""
    clock = Clock()
    cap = 500
    stats = collector(clock, max_videos=cap)
    parts = (Part(b"", Span(1000, 66535)),)
    videos = [f"{n:012x}" for n in range(100_000)]
    positions = [0.5, 10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 99.0]
    meter = Meter()
    meter.sent = 65536

    def events(first: int, count: int) -> None:
        """``count`` rounds of: two requests and eight seek positions, 10 events a round."""
        for n in range(first, first + count):
            clock.now += 0.001
            for vid in (videos[n * 7919 % 100_000], videos[n % 100_000]):
                hit = stats.begin(vid)
                stats.planned(hit, 206, 1_000_000, parts, 65536)
                hit.meter = meter
                stats.end(hit, 206)
            stats.player_seeks(videos[n * 104729 % 100_000], positions, 100.0)

    events(0, 1_000)  # past the cap already: every structure at its working size
    settled = footprint(stats)
    events(1_000, 99_000)
    after = footprint(stats)
    snap = stats.snapshot()
    glob = snap["global"]
    assert glob["requests"] + glob["player_seeks"] == 1_000_000
    assert glob["bytes_sent"] == 65536 * 200_000
    assert snap["tracked"] == cap and len(snap["videos"]) == cap
    assert snap["other"]["folded"] > 100_000  # every video passed through the cap
    assert sum(row["requests"] for row in snap["videos"]) + snap["other"]["requests"] == (
        200_000)
    assert sum(row["player_seeks"] for row in snap["videos"]) + (
        snap["other"]["player_seeks"]) == 800_000
    # the same size as after the first 10,000 events, give or take bigger ints
    assert after <= settled * 1.05, (settled, after)
    assert settled < cap * 2_500, settled  # about 2 KB per tracked video


# ------------------------------------------------------------------ served at once

@given(st.lists(st.tuples(
    st.sampled_from(["aaaaaaaaaaaa", "bbbbbbbbbbbb", "cccccccccccc"]),
    st.sampled_from([200, 206, 304, 412, 416]),
    st.lists(st.tuples(st.integers(0, 999_999), st.integers(1, 100_000)), max_size=3),
    st.floats(0.0, 0.5), st.sampled_from(["served", "hooks", "snapshot", "seeks"])),
    max_size=14), st.integers(1, 3))
def test_served_records_what_the_four_hooks_record(
        answers: list[tuple[str, int, list[tuple[int, int]], float, str]], cap: int) -> None:
    """The fast path's one call for an answer written whole equals begin, planned,
    first_byte and end with the first byte at the end, also when its queued answers mix
    with other hooks and reads (small caps fold videos too)."""
    size = 1_000_000
    hooks_clock, once_clock = Clock(), Clock()
    hooks, once = collector(hooks_clock, cap), collector(once_clock, cap)
    for vid, status, spans, took, how in answers:
        ranges = [(first, min(size - 1, first + length - 1)) for first, length in spans]
        ranges = ranges if status == 206 else []
        request(hooks, hooks_clock, vid, status, size, ranges, ttfb=took, took=took)
        if how == "served":
            parts = tuple(Part(b"", Span(first, last)) for first, last in ranges)
            owed = (sum(last - first + 1 for first, last in ranges) if status == 206 else
                    size if status == 200 else 0)
            started = once.now()
            once_clock.now += took
            once.served(vid, status, size, parts, owed, started)
        else:
            request(once, once_clock, vid, status, size, ranges, ttfb=took, took=took)
        if how == "snapshot":
            assert once.snapshot() == hooks.snapshot()
        elif how == "seeks":
            for stats in (hooks, once):
                stats.player_seeks(vid, [1.0], 10.0)
    assert once.tracked == hooks.tracked
    assert once.snapshot() == hooks.snapshot()


def test_served_answers_wait_in_a_bounded_queue() -> None:
    clock = Clock()
    stats = collector(clock)
    for _ in range(5000):
        stats.served("aaaaaaaaaaaa", 304, 10, (), 0, stats.now())
        assert len(stats._pending) < 1024
    assert stats.snapshot()["global"]["requests"] == 5000
