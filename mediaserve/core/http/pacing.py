"""Pacing a body to a rate after an initial burst (nginx's ``limit_rate``/``limit_rate_after``).

A profile may carry a bandwidth limit (README, *Profiles*): its streams are then sent at that
many bytes per second, after a first burst that lets a player start at once. The arithmetic
is a token bucket that starts full: by time ``t`` after the first byte, at most
``burst + rate * t`` bytes may have left. The writer asks :meth:`Pacer.allowance` before each
chunk and sleeps :meth:`Pacer.wait` when nothing is allowed; a stalled reader does not build
up credit beyond the bucket, so a viewer who pauses gets no second burst for free.
"""

from __future__ import annotations

#: the first burst, in seconds of the rate (at least MIN_BURST bytes)
BURST_SECONDS = 2.0
MIN_BURST = 256 * 1024
#: the smallest chunk worth a wake-up: below it, wait for more allowance
MIN_CHUNK = 16 * 1024


def burst_for(rate: int) -> int:
    """How much leaves at once before the rate applies."""
    return max(MIN_BURST, int(rate * BURST_SECONDS))


class Pacer:
    """The allowance of one paced body (``rate`` bytes per second, ``rate`` > 0)."""

    __slots__ = ("_credit_at", "_credited", "burst", "rate")

    def __init__(self, rate: int, now: float, burst: int | None = None) -> None:
        if rate <= 0:
            raise ValueError("a pacer needs a positive rate")
        self.rate = rate
        self.burst = burst_for(rate) if burst is None else burst
        self._credited = float(self.burst)  # bytes allowed so far, bucket capped
        self._credit_at = now

    def allowance(self, sent: int, now: float) -> int:
        """Bytes that may leave now, ``sent`` having left already."""
        elapsed = max(0.0, now - self._credit_at)
        # the bucket holds at most ``burst`` unspent bytes: credit beyond it is dropped
        credited = min(self._credited + self.rate * elapsed, sent + self.burst)
        self._credited, self._credit_at = credited, now
        return max(0, int(credited) - sent)

    def wait(self, sent: int, now: float, wanted: int = MIN_CHUNK) -> float:
        """Seconds until ``wanted`` bytes (at most a bucket's worth) are allowed."""
        short = min(wanted, self.burst) - self.allowance(sent, now)
        return max(0.0, short / self.rate)
