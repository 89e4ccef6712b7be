"""The soak's short form (``python -m benchmarks.soak --short``) as part of the suite: 100
well-behaved clients seeking at random in a 1 GiB file for 15 s, next to 20 stalled readers
and 60 idle connections, against a real ``mediaserve serve`` process."""

from __future__ import annotations

import pytest

from benchmarks.soak import Config, run


@pytest.mark.soak
def test_soak_short_form(tmp_path) -> None:
    report = run(Config.short(), workdir=tmp_path)
    assert report.requests > 0
    assert report.errors == 0, report.error_examples
    assert report.stalled_dropped == report.stalled_total == 20  # by the send timeout
    assert report.fds["end"] <= report.fds["start"], report.fds  # every descriptor back
    assert report.failures == []
