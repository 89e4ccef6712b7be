"""Fixed-bucket histograms: constant memory, O(log buckets) to record, exact to merge.

A server that keeps every latency sample to compute percentiles grows without bound (the
design notes we started from kept every seek position in a list). A histogram with *fixed*
bounds costs the same few hundred bytes after a billion samples, and two of them with the
same bounds add up bucket by bucket, so worker processes or nodes can be combined exactly.
The price is resolution: a percentile is known to within its bucket. Bounds follow the R10
preferred-number series (10 per decade, each about 26 % above the last), fine enough for an
operator and coarse enough for Prometheus, which gets the 1-2.5-5 subset of them.

Bucket ``i`` counts values ``v`` with ``bounds[i-1] < v <= bounds[i]`` (Prometheus's ``le``);
the last count, one past the bounds, holds everything above the last bound.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from typing import Any

#: R10 preferred numbers: 1, 1.25, 1.6, ... each about 10^(1/10) above the last
_R10 = ("1", "1.25", "1.6", "2", "2.5", "3.15", "4", "5", "6.3", "8")


def r10_bounds(first_exponent: int, last_exponent: int) -> tuple[float, ...]:
    """R10 values from ``10**first_exponent`` up to and including ``10**last_exponent``.

    Built from decimal text, so 2.5e-4 is the same float here, in JSON and in Prometheus's
    ``le`` label."""
    bounds = [float(f"{m}e{e}") for e in range(first_exponent, last_exponent) for m in _R10]
    bounds.append(float(f"1e{last_exponent}"))
    return tuple(bounds)


#: seconds, 10 µs to 100 s: time to first byte and whole-response time
LATENCY_BOUNDS = r10_bounds(-5, 2)
#: the Prometheus view of the latency histograms: 1, 2.5, 5 per decade, 100 µs to 100 s
PROMETHEUS_LATENCY_BOUNDS = tuple(b for b in LATENCY_BOUNDS
                                  if b >= 1e-4 and f"{b:e}"[:8] in ("1.000000", "2.500000",
                                                                     "5.000000"))
#: bytes, powers of two from 1 KiB to 1 TiB: range sizes (bucket found by bit length)
RANGE_EXP_MIN = 10
RANGE_EXP_MAX = 40
RANGE_BOUNDS = tuple(1 << e for e in range(RANGE_EXP_MIN, RANGE_EXP_MAX + 1))
#: the Prometheus view of range sizes: powers of four, 1 KiB to 1 TiB
PROMETHEUS_RANGE_BOUNDS = RANGE_BOUNDS[::2]


def range_bucket(size: int) -> int:
    """The bucket of a range of ``size`` bytes in a RANGE_BOUNDS histogram; O(1)."""
    index = (size - 1).bit_length() - RANGE_EXP_MIN
    if index < 0:
        return 0
    return index if index <= len(RANGE_BOUNDS) else len(RANGE_BOUNDS)


class Histogram:
    """Counts per fixed bucket plus the sum of what was recorded (Prometheus's ``_sum``).

    Counts merge exactly; the sum is a float (seconds), so merged sums agree to rounding."""

    __slots__ = ("bounds", "counts", "total")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        self.total = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1
        self.total += value

    @property
    def count(self) -> int:
        return sum(self.counts)

    def to_json(self, total: float | None = None) -> dict[str, Any]:
        """``{"bounds", "counts", "sum"}``; ``total`` replaces a sum kept elsewhere."""
        return {"bounds": list(self.bounds), "counts": list(self.counts),
                "sum": round(self.total if total is None else total, 6)}


def percentile(bounds: Sequence[float], counts: Sequence[int], q: float) -> float:
    """The ``q`` quantile (0 < q <= 1), interpolated linearly inside its bucket.

    The true value lies in the same bucket, so the error is at most one bucket's width.
    0.0 for an empty histogram; the last bound when the quantile falls in the overflow."""
    total = sum(counts)
    if total == 0:
        return 0.0
    rank = q * total
    seen = 0
    for index, count in enumerate(counts):
        if count and seen + count >= rank:
            if index >= len(bounds):
                return float(bounds[-1])
            low = float(bounds[index - 1]) if index else 0.0
            return low + (float(bounds[index]) - low) * max(0.0, rank - seen) / count
        seen += count
    return float(bounds[-1])


def quantiles_ms(hist: dict[str, Any]) -> dict[str, float]:
    """p50/p90/p99 in milliseconds of a latency histogram in its JSON form, plus its count."""
    bounds, counts = hist["bounds"], hist["counts"]
    return {"p50": round(percentile(bounds, counts, 0.50) * 1000, 3),
            "p90": round(percentile(bounds, counts, 0.90) * 1000, 3),
            "p99": round(percentile(bounds, counts, 0.99) * 1000, 3),
            "count": sum(counts)}


def merge_histograms(parts: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Bucket-wise sum of histograms in JSON form; they must share bounds."""
    first = parts[0]
    counts = [0] * len(first["counts"])
    total = 0.0
    for part in parts:
        if part["bounds"] != first["bounds"]:
            raise ValueError("histograms with different bounds cannot be merged")
        for index, count in enumerate(part["counts"]):
            counts[index] += count
        total += part.get("sum", 0)
    merged = dict(first)
    merged["counts"] = counts
    merged["sum"] = round(total, 6)
    return merged


def rebucket(bounds: Sequence[float], counts: Sequence[int],
             coarse: Sequence[float]) -> list[tuple[float, int]]:
    """Cumulative ``(le, count)`` pairs for a coarser set of bounds, each of which must be
    one of ``bounds`` (so the answer is exact), ending with ``(inf, total)``."""
    out: list[tuple[float, int]] = []
    cumulative = 0
    position = 0
    for le in coarse:
        while position < len(bounds) and bounds[position] <= le:
            cumulative += counts[position]
            position += 1
        out.append((float(le), cumulative))
    out.append((float("inf"), sum(counts)))
    return out
