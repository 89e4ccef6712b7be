"""Latency statistics for ``probe --seeks``: percentiles and a small fixed-edge histogram.

The histogram edges are fixed (not derived from the data) and include 100 ms and 300 ms,
the design targets for seek latency (average < 100 ms, every seek < 300 ms), so two runs —
mediaserve and nginx, today and next month — land in the same buckets and compare at a
glance.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

__all__ = [
    "HISTOGRAM_EDGES_MS",
    "Bucket",
    "LatencySummary",
    "histogram",
    "percentile",
    "summarise",
]

HISTOGRAM_EDGES_MS: tuple[float, ...] = (1, 2, 5, 10, 20, 50, 100, 200, 300, 500, 1000, 2000)


def percentile(ordered: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0..100) of already sorted values, interpolating linearly
    between closest ranks (the usual "type 7" definition, numpy's default)."""
    if not ordered:
        raise ValueError("percentile of no values")
    if not 0 <= q <= 100:
        raise ValueError(f"percentile {q} outside 0..100")
    position = (len(ordered) - 1) * q / 100
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@dataclass(frozen=True, slots=True)
class LatencySummary:
    """Seconds."""

    count: int
    min: float
    p50: float
    p90: float
    p99: float
    max: float
    mean: float

    def as_ms(self) -> dict[str, float]:
        return {k: (v if k == "count" else round(v * 1000, 3)) for k, v in asdict(self).items()}


def summarise(values: Sequence[float]) -> LatencySummary | None:
    if not values:
        return None
    ordered = sorted(values)
    return LatencySummary(len(ordered), ordered[0], percentile(ordered, 50),
                          percentile(ordered, 90), percentile(ordered, 99), ordered[-1],
                          math.fsum(ordered) / len(ordered))


@dataclass(frozen=True, slots=True)
class Bucket:
    """``low_ms <= latency < high_ms``; ``high_ms`` None is the open top bucket."""

    low_ms: float
    high_ms: float | None
    count: int

    @property
    def label(self) -> str:
        if self.high_ms is None:
            return f"≥ {self.low_ms:g} ms"
        return f"{self.low_ms:g}–{self.high_ms:g} ms"


def histogram(values: Sequence[float],
              edges_ms: Sequence[float] = HISTOGRAM_EDGES_MS) -> list[Bucket]:
    """Count ``values`` (seconds) into buckets, trimmed to the first and last non-empty one,
    so a fast loopback run prints three rows rather than thirteen."""
    bounds = [0.0, *edges_ms]
    counts = [0] * len(bounds)
    for value in values:
        ms = value * 1000
        index = next((i for i in range(len(edges_ms)) if ms < edges_ms[i]), len(edges_ms))
        counts[index] += 1
    buckets = [Bucket(bounds[i], edges_ms[i] if i < len(edges_ms) else None, counts[i])
               for i in range(len(bounds))]
    used = [i for i, c in enumerate(counts) if c]
    return buckets[used[0]:used[-1] + 1] if used else []
