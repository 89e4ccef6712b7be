"""Streaming statistics: a bounded, mergeable collector fed by the stream handler."""

from mediaserve.core.stats.collector import (
    HEATMAP_BUCKETS,
    DisabledCollector,
    Hit,
    StatsCollector,
)
from mediaserve.core.stats.snapshot import limit_top, merge_snapshots, rates

__all__ = ["HEATMAP_BUCKETS", "DisabledCollector", "Hit", "StatsCollector", "limit_top",
           "merge_snapshots", "rates"]
