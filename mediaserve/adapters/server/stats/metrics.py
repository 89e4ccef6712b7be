"""``GET /metrics``: the collector's counters in Prometheus text format, via prometheus-client.

Nothing is counted twice: a custom prometheus-client collector reads one snapshot of our
own :class:`~mediaserve.core.stats.StatsCollector` at scrape time and turns it into metric
families, so ``/metrics`` and ``/api/stats`` show the same numbers. Each application gets its
own ``CollectorRegistry`` (never the process-global one), so several apps in one process,
tests included, cannot see each other's metrics. Per-video series carry a ``video`` label
only for the videos the collector tracks individually (``max_videos`` at most) plus
``video="other"``: the label set is bounded by the collector's cap.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from mediaserve.core.stats import StatsCollector
from mediaserve.core.stats.histogram import (
    PROMETHEUS_LATENCY_BOUNDS,
    PROMETHEUS_RANGE_BOUNDS,
    rebucket,
)

PREFIX = "mediaserve"


def _histogram(name: str, doc: str, hist: dict[str, Any],
               coarse: tuple[float, ...]) -> HistogramMetricFamily:
    buckets = [(floatToGoString(le), float(count))
               for le, count in rebucket(hist["bounds"], hist["counts"], coarse)]
    return HistogramMetricFamily(name, doc, buckets=buckets,
                                 sum_value=hist["sum"])


class SnapshotCollector(Collector):
    """Metric families from a snapshot of ``stats``: the one :func:`exposition` was given,
    else a fresh one (the collector is not thread-safe, so a fresh one only on the loop)."""

    def __init__(self, stats: StatsCollector) -> None:
        self.stats = stats
        self.lock = threading.Lock()
        self.given: dict[str, Any] | None = None

    def collect(self) -> Iterator[Metric]:
        snap = self.given if self.given is not None else self.stats.snapshot()
        glob = snap["global"]
        p = PREFIX
        yield GaugeMetricFamily(f"{p}_uptime_seconds", "Seconds since the server started.",
                                value=snap["uptime_s"])
        requests = CounterMetricFamily(f"{p}_requests", "Stream requests answered, by status.",
                                       labels=["status"])
        for code, count in glob["status"].items():
            requests.add_metric([code], count)
        yield requests
        for name, key, doc in (
                ("bytes_sent", "bytes_sent", "Body bytes of stream responses sent."),
                ("ranges_served", "ranges_served", "Byte ranges answered in 206 responses."),
                ("aborts", "aborts", "Stream responses cut short (client gone, file shrank)."),
                ("player_seeks", "player_seeks", "Seek positions reported by players.")):
            yield CounterMetricFamily(f"{p}_{name}", doc, value=glob[key])
        yield GaugeMetricFamily(f"{p}_active_streams", "Stream responses being sent now.",
                                value=glob["active_streams"])
        yield _histogram(f"{p}_range_size_bytes", "Size of each byte range served.",
                         glob["range_size_histogram"], PROMETHEUS_RANGE_BOUNDS)
        yield _histogram(f"{p}_time_to_first_byte_seconds",
                         "From the start of a stream request to its header section sent.",
                         glob["ttfb_histogram"], PROMETHEUS_LATENCY_BOUNDS)
        yield _histogram(f"{p}_response_seconds", "Whole stream response time.",
                         glob["response_histogram"], PROMETHEUS_LATENCY_BOUNDS)
        throughput = GaugeMetricFamily(f"{p}_throughput_bytes_per_second",
                                       "Body bytes per second over a recent window.",
                                       labels=["window"])
        for window, value in glob["throughput_bps"].items():
            throughput.add_metric([window], value)
        yield throughput
        yield GaugeMetricFamily(f"{p}_tracked_videos",
                                "Videos counted individually (the rest are 'other').",
                                value=snap["tracked"])
        rows = [*snap["videos"], *([snap["other"]] if snap["other"] else [])]
        families = (
            (CounterMetricFamily(f"{p}_video_requests", "Stream requests per video.",
                                 labels=["video"]), "requests"),
            (CounterMetricFamily(f"{p}_video_bytes_sent", "Body bytes sent per video.",
                                 labels=["video"]), "bytes_sent"),
            (GaugeMetricFamily(f"{p}_video_active_streams", "Streams being sent per video.",
                               labels=["video"]), "active_streams"),
        )
        for family, key in families:
            for row in rows:
                family.add_metric([row["id"]], row[key])
            yield family
        if "playback" in snap:
            yield from _playback(snap["playback"])


def _playback(play: dict[str, Any]) -> Iterator[Metric]:
    """The HLS producers: running by mode, queue, segments, real-time factor, cache."""
    p = PREFIX
    running = GaugeMetricFamily(f"{p}_transcodes_running", "Producers running, by mode.",
                                labels=["mode"])
    started = CounterMetricFamily(f"{p}_transcodes_started", "Producers started, by mode.",
                                  labels=["mode"])
    for mode, count in play["running"].items():
        running.add_metric([mode], count)
    for mode, count in play["started"].items():
        started.add_metric([mode], count)
    yield running
    yield started
    yield GaugeMetricFamily(f"{p}_transcodes_queued", "Conversions waiting for a producer.",
                            value=play["queued"])
    yield CounterMetricFamily(f"{p}_segments_produced", "HLS segments made.",
                              value=play["segments"])
    yield CounterMetricFamily(f"{p}_transcode_refusals", "Requests refused with 503 (busy).",
                              value=play["busy_refusals"])
    yield GaugeMetricFamily(f"{p}_transcode_realtime_factor",
                            "Media seconds made per second of producer work.",
                            value=play["realtime_factor"] or 0.0)
    cache = play["cache"]
    for name, key, doc in (("segment_cache_hits", "hits", "Segments served from the cache."),
                           ("segment_cache_misses", "misses", "Segments waited for.")):
        yield CounterMetricFamily(f"{p}_{name}", doc, value=cache[key])
    yield GaugeMetricFamily(f"{p}_segment_cache_bytes", "Bytes of segments in the cache.",
                            value=cache["bytes"])


def new_registry(stats: StatsCollector) -> tuple[CollectorRegistry, SnapshotCollector]:
    """A registry of this app's own (auto_describe off: describing would take a snapshot)."""
    registry = CollectorRegistry(auto_describe=False)
    collector = SnapshotCollector(stats)
    registry.register(collector)
    return registry, collector


def exposition(registry: CollectorRegistry, collector: SnapshotCollector,
               snapshot: dict[str, Any]) -> tuple[bytes, str]:
    """The text exposition of ``snapshot`` and its Content-Type. Formatting a few hundred
    samples takes milliseconds, so the server calls this in a thread, with a snapshot it
    took on the loop; the lock keeps two scrapes from swapping snapshots."""
    with collector.lock:
        collector.given = snapshot
        try:
            return generate_latest(registry), CONTENT_TYPE_LATEST
        finally:
            collector.given = None
