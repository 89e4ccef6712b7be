"""Seek reports: what a player may send, and how much of it one client may send."""

from __future__ import annotations

import json
import math

import pytest

from mediaserve.core.stats.analytics import MAX_POSITIONS, RateLimiter, ReportError, parse_report


def test_good_reports() -> None:
    assert parse_report(b'{"positions": [0, 1.5, 60]}', 60.0) == [0.0, 1.5, 60.0]
    assert parse_report(b'{"positions": [], "extra": 1}', 10.0) == []
    assert parse_report(b'{"positions": [10.9]}', 10.0) == [10.9]  # a player's clock slack


@pytest.mark.parametrize(("body", "words"), [
    (b"not json", "not valid JSON"),
    (b"\xff\xfe", "not valid JSON"),
    (b"[1, 2]", "JSON object"),
    (b'{"position": [1]}', '"positions" must be a list'),
    (b'{"positions": "1"}', '"positions" must be a list'),
    (b'{"positions": [true]}', "positions[0] is not a number"),
    (b'{"positions": [1, "2"]}', "positions[1] is not a number"),
    (b'{"positions": [-1]}', "outside the video"),
    (b'{"positions": [99]}', "outside the video"),
    (b'{"positions": [NaN]}', "outside the video"),
    (b'{"positions": [Infinity]}', "outside the video"),
    (b'{"positions": [1e999]}', "outside the video"),
    (json.dumps({"positions": [1] * (MAX_POSITIONS + 1)}).encode(), "at most"),
])
def test_bad_reports_say_what_is_wrong(body: bytes, words: str) -> None:
    with pytest.raises(ReportError, match=words.replace("[", r"\[").replace("]", r"\]")):
        parse_report(body, 10.0)


@pytest.mark.parametrize("duration", [None, 0.0, math.nan])
def test_unknown_duration(duration: float | None) -> None:
    with pytest.raises(ReportError, match="duration is unknown"):
        parse_report(b'{"positions": [1]}', duration)


def test_rate_limiter_per_client() -> None:
    limiter = RateLimiter(capacity=10, rate=2, max_clients=3)
    assert limiter.take("a", 10, 0.0) == 0.0
    assert limiter.take("a", 1, 0.0) == pytest.approx(0.5)  # empty: half a second per token
    assert limiter.take("b", 1, 0.0) == 0.0  # another client has its own bucket
    assert limiter.take("a", 1, 0.5) == 0.0  # refilled
    assert limiter.take("a", 4, 1.0) == pytest.approx(1.5)  # 1 token back; 4 asked
    assert limiter.take("a", 11, 100.0) == math.inf  # more than a bucket can ever hold
    for client in "cdefg":
        limiter.take(client, 1, 2.0)
    assert len(limiter) == 3  # bounded: the least recently seen clients are forgotten
