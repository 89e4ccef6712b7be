"""Pacing a body: at most ``burst + rate * t`` bytes by time ``t``; no credit piles up."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mediaserve.core.http.pacing import MIN_BURST, MIN_CHUNK, Pacer, burst_for
from mediaserve.core.profiles.cookie import sign
from mediaserve.core.profiles.limits import LimitTable


def test_the_burst_leaves_at_once_then_the_rate_applies() -> None:
    pacer = Pacer(1_000_000, now=10.0)
    assert pacer.burst == burst_for(1_000_000) == 2_000_000
    assert pacer.allowance(0, 10.0) == 2_000_000
    assert pacer.allowance(2_000_000, 10.0) == 0
    assert pacer.allowance(2_000_000, 10.5) == 500_000
    assert pacer.wait(2_500_000, 10.5, wanted=100_000) == pytest.approx(0.1)


def test_a_paused_reader_earns_no_second_burst() -> None:
    pacer = Pacer(100_000, now=0.0, burst=300_000)
    assert pacer.allowance(300_000, 0.0) == 0
    # an hour without reading: the bucket holds one burst, not an hour of rate
    assert pacer.allowance(300_000, 3600.0) == 300_000


def test_a_small_rate_still_has_a_useful_burst() -> None:
    assert burst_for(16 * 1024) == MIN_BURST
    with pytest.raises(ValueError):
        Pacer(0, now=0.0)


@given(st.integers(16 * 1024, 10**9), st.lists(st.tuples(st.floats(0, 5), st.integers(0, 10**7)),
                                               max_size=30))
def test_what_leaves_never_exceeds_burst_plus_rate_times_time(
        rate: int, steps: list[tuple[float, int]]) -> None:
    """Whatever the writer asks, following the allowance keeps within the envelope."""
    pacer = Pacer(rate, now=0.0)
    now = 0.0
    sent = 0
    for delay, wanted in steps:
        now += delay
        take = min(wanted, pacer.allowance(sent, now))
        sent += take
        assert sent <= pacer.burst + rate * now + 1
        assert pacer.wait(sent, now) >= 0.0
    assert pacer.wait(sent, now, MIN_CHUNK) <= MIN_CHUNK / rate + 1e-9


def test_a_limit_by_user_or_by_the_profile_its_cookie_names() -> None:
    table = LimitTable({"0123456789abcdef": 500_000}, {"alice": 200_000})
    cookie = sign(b"k" * 32, "0123456789abcdef", None)
    assert table.rate_for(None, cookie) == 500_000
    assert table.rate_for("alice", cookie) == 200_000  # a user is their profile
    assert table.rate_for("bob", None) == 0
    assert table.rate_for(None, "garbage") == 0 and table.rate_for(None, None) == 0
    assert not LimitTable() and table
