"""``probe --seeks``: where to seek, whether each answer was right, and the report.

A seek is modelled as a player's first read after jumping: one closed range of ``length``
bytes at a random position. Positions come from a seeded ``random.Random`` so a run can be
repeated exactly (the report states the seed). The classifier is stricter about *what* it
times than the conformance judge is about *how* a server answers: a seek only counts if it
returned the bytes asked for (a truthful shorter answer from the requested first byte is
accepted, since a player would simply read on).
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from mediaserve.core.probe.content_range import parse_content_range
from mediaserve.core.probe.exchange import End, Exchange
from mediaserve.core.probe.latency import Bucket, LatencySummary, histogram, summarise
from mediaserve.core.probe.verdicts import ReadBytes

__all__ = [
    "MAX_CONCURRENCY",
    "MAX_SEEKS",
    "MAX_SEEK_SIZE",
    "TARGET_MAX_S",
    "TARGET_MEAN_S",
    "SeekReport",
    "SeekResult",
    "classify_seek",
    "plan_seeks",
    "summarise_seeks",
]

MAX_SEEKS = 100_000
MAX_CONCURRENCY = 256
MAX_SEEK_SIZE = 64 * 1024 * 1024
TARGET_MAX_S = 0.300  # design notes: no seek slower than 300 ms (files up to 4 GB) ...
TARGET_MEAN_S = 0.100  # ... and 100 ms on average


def plan_seeks(size: int, count: int, length: int, rng: random.Random) -> list[tuple[int, int]]:
    """``count`` inclusive spans of ``length`` bytes (fewer at a small file's end), with
    first bytes drawn uniformly from every position a span can start at."""
    if size <= 0:
        raise ValueError("cannot seek in an empty resource")
    span = min(length, size)
    return [(first, first + span - 1)
            for first in (rng.randrange(size - span + 1) for _ in range(count))]


@dataclass(frozen=True, slots=True)
class SeekResult:
    first: int
    last: int
    latency: float  # seconds, request sent to last byte read
    ttfb: float
    received: int
    failure: str | None = None  # a kind: "status 200", "content-range", "length", ...
    detail: str = ""


def classify_seek(ex: Exchange, first: int, last: int,
                  reference: ReadBytes | None = None) -> tuple[str | None, str]:
    """``(failure kind or None, detail)`` for the answer to ``Range: bytes=first-last``."""
    if ex.status != 206:
        return f"status {ex.status}", f"status {ex.status} instead of 206"
    value = ex.header("Content-Range")
    try:
        parsed = parse_content_range(value) if value else None
    except ValueError as exc:
        return "content-range", str(exc)
    if parsed is None or parsed.first is None or parsed.last is None:
        return "content-range", f"Content-Range {value!r}"
    if parsed.first != first or not first <= parsed.last <= last:
        return "content-range", f"asked {first}-{last}, got {parsed.first}-{parsed.last}"
    if ex.end == End.TRUNCATED:
        return "truncated", ex.end_detail or "connection closed mid-content"
    if ex.end == End.CAPPED:
        return "length", f"more content than the {last - first + 1} bytes asked for"
    declared = ex.content_length
    if ex.received != parsed.length or (declared is not None and declared != ex.received):
        return "length", (f"Content-Range {parsed.length} B, Content-Length {declared}, "
                          f"received {ex.received} B")
    if reference is not None:
        expected = reference(first, ex.received)
        if expected is not None and expected != ex.body:
            return "wrong-bytes", f"bytes {first}-{parsed.last} differ from the reference"
    return None, ""


@dataclass(slots=True)
class SeekReport:
    url: str
    size: int
    length: int
    concurrency: int
    seed: int
    requested: int
    wall: float  # seconds for the whole run
    connections: int  # new TCP connections the run opened
    ok: int = 0
    failures: dict[str, int] = field(default_factory=dict)
    latency: LatencySummary | None = None
    ttfb: LatencySummary | None = None
    buckets: list[Bucket] = field(default_factory=list)
    bytes_received: int = 0
    examples: dict[str, str] = field(default_factory=dict)  # one detail per failure kind

    @property
    def throughput(self) -> float:
        """Content bytes per second over the whole run (all connections together)."""
        return self.bytes_received / self.wall if self.wall > 0 else 0.0

    @property
    def rate(self) -> float:
        """Completed requests per second."""
        return (self.ok + sum(self.failures.values())) / self.wall if self.wall > 0 else 0.0

    @property
    def targets_met(self) -> bool | None:
        if self.latency is None:
            return None
        return self.latency.max < TARGET_MAX_S and self.latency.mean < TARGET_MEAN_S

    def as_dict(self) -> dict[str, object]:
        return {
            "url": self.url, "size": self.size, "seek_size": self.length,
            "concurrency": self.concurrency, "seed": self.seed, "requested": self.requested,
            "ok": self.ok, "failed": sum(self.failures.values()), "failures": self.failures,
            "failure_examples": self.examples,
            "latency_ms": self.latency.as_ms() if self.latency else None,
            "ttfb_ms": self.ttfb.as_ms() if self.ttfb else None,
            "histogram": [{"low_ms": b.low_ms, "high_ms": b.high_ms, "count": b.count}
                          for b in self.buckets],
            "bytes": self.bytes_received, "seconds": round(self.wall, 4),
            "throughput_bytes_per_s": round(self.throughput),
            "requests_per_s": round(self.rate, 1), "connections": self.connections,
            "targets": {"max_ms": TARGET_MAX_S * 1000, "mean_ms": TARGET_MEAN_S * 1000,
                        "met": self.targets_met},
        }


def summarise_seeks(results: Sequence[SeekResult], *, url: str, size: int, length: int,
                    concurrency: int, seed: int, wall: float, connections: int) -> SeekReport:
    """Latency statistics over the successful seeks; failures counted by kind."""
    good = [r for r in results if r.failure is None]
    kinds = Counter(r.failure for r in results if r.failure is not None)
    examples: dict[str, str] = {}
    for r in results:
        if r.failure is not None and r.failure not in examples:
            examples[r.failure] = r.detail
    latencies = [r.latency for r in good]
    return SeekReport(
        url=url, size=size, length=length, concurrency=concurrency, seed=seed,
        requested=len(results), wall=wall, connections=connections, ok=len(good),
        failures=dict(kinds.most_common()), latency=summarise(latencies),
        ttfb=summarise([r.ttfb for r in good]), buckets=histogram(latencies),
        bytes_received=sum(r.received for r in results), examples=examples)
