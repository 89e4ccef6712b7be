"""Streaming statistics: a bounded, mergeable collector fed by the stream handler."""

from mediaserve.core.stats.collector import StatsCollector
from mediaserve.core.stats.disabled import DisabledCollector
from mediaserve.core.stats.snapshot import limit_top, merge_snapshots, rates
from mediaserve.core.stats.tally import HEATMAP_BUCKETS, Hit

__all__ = ["HEATMAP_BUCKETS", "DisabledCollector", "Hit", "StatsCollector", "limit_top",
           "merge_snapshots", "rates"]
