"""Player-reported seeks: validating a report and limiting how much one client may report.

A seek heat map is only worth something if one script cannot paint it: every client gets a
token bucket of positions (a report costs one token per position, at least one), and the
table of buckets is itself bounded, the least recently seen client forgotten first.
"""

from __future__ import annotations

import json
import math
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

MAX_BODY_BYTES = 8 * 1024
MAX_POSITIONS = 100
#: a player's clock may run a little past the probed duration; later than this is an error
END_SLACK_S = 1.0


class ReportError(ValueError):
    """A report that cannot be accepted; the message is meant for the client."""


def parse_report(body: bytes, duration: float | None) -> list[float]:
    """The seek positions (seconds) in a ``{"positions": [s, ...]}`` body.

    Raises ReportError with a one-line reason for anything else: not UTF-8 JSON, not an
    object, ``positions`` missing or not a list, more than MAX_POSITIONS, a value that is not
    a finite number in ``[0, duration]``, or a video whose duration is unknown."""
    try:
        data: Any = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ReportError(f"the body is not valid JSON: {str(exc).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise ReportError('expected a JSON object {"positions": [seconds, ...]}')
    positions = data.get("positions")
    if not isinstance(positions, list):
        raise ReportError('"positions" must be a list of seconds')
    if len(positions) > MAX_POSITIONS:
        raise ReportError(f'"positions" holds {len(positions)} values; at most '
                          f"{MAX_POSITIONS} per report")
    if duration is None or not duration > 0 or not math.isfinite(duration):
        raise ReportError("the video's duration is unknown, so seek positions cannot be "
                          "placed on it")
    out: list[float] = []
    for index, value in enumerate(positions):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ReportError(f"positions[{index}] is not a number: {json.dumps(value)[:40]}")
        number = float(value)
        if not math.isfinite(number) or number < 0 or number > duration + END_SLACK_S:
            raise ReportError(f"positions[{index}] = {value!r} is outside the video "
                              f"(0 to {duration:g} s)")
        out.append(number)
    return out


@dataclass(slots=True)
class _Bucket:
    tokens: float
    at: float


class RateLimiter:
    """Per-client token buckets: ``capacity`` tokens, refilled at ``rate`` per second.

    At most ``max_clients`` buckets are kept; forgetting one gives that client a full bucket,
    which is the worst it can gain, and only after ``max_clients`` others were seen."""

    def __init__(self, capacity: float = 120.0, rate: float = 2.0,
                 max_clients: int = 10_000) -> None:
        self.capacity = capacity
        self.rate = rate
        self.max_clients = max_clients
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def take(self, client: str, cost: float, now: float) -> float:
        """Take ``cost`` tokens; returns 0.0 when allowed, else the seconds to wait
        before the same report would be allowed (nothing is taken then)."""
        bucket = self._buckets.get(client)
        if bucket is None:
            if len(self._buckets) >= self.max_clients:
                self._buckets.popitem(last=False)
            bucket = self._buckets[client] = _Bucket(self.capacity, now)
        else:
            self._buckets.move_to_end(client)
            bucket.tokens = min(self.capacity, bucket.tokens + (now - bucket.at) * self.rate)
            bucket.at = now
        if cost > self.capacity:
            return math.inf
        if bucket.tokens >= cost:
            bucket.tokens -= cost
            return 0.0
        return (cost - bucket.tokens) / self.rate

    def __len__(self) -> int:
        return len(self._buckets)
