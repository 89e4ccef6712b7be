"""The dashboard rendered into captured consoles at fixed widths, from a collector fed a
known sequence, and the live loop drawing into a captured terminal from a real server."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from benchmarks.peers import free_port
from mediaserve.cli.common import ExitStatus
from mediaserve.cli.stats import live
from mediaserve.cli.stats_view import BLOCKS, dashboard, heat_line, one_line
from mediaserve.core.http.ranges import Part, Span
from mediaserve.core.stats import StatsCollector, rates
from tests.stats.conftest import Live


class Clock:
    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now

    def wall(self) -> float:
        return 1_800_000_000.0 + self.now


class Sent:
    sent = 65536


def _snapshots() -> tuple[dict, dict]:
    clock = Clock()
    stats = StatsCollector(clock=clock, wall=clock.wall)
    before = stats.snapshot(top=10)
    names = {f"{n:012x}": f"Video {n}: a rather long title (director's cut).mkv"
             for n in range(1, 15)}
    for n, vid in enumerate(names, 1):
        for first in range(0, n * 10_000_000, 10_000_000):
            hit = stats.begin(vid)
            stats.planned(hit, 206, 200_000_000, (Part(b"", Span(first, first + 65535)),),
                          65536)
            clock.now += 0.002
            stats.first_byte(hit)
            hit.meter = Sent()
            clock.now += 0.01
            stats.end(hit, 206)
    stats.player_seeks("00000000000e", [1.0, 50.0, 99.0], 100.0)
    return before, stats.snapshot(top=10, title_of=names.get)


@pytest.mark.parametrize("width", [60, 80, 120])
def test_dashboard_fits_the_width(width: int) -> None:
    before, snap = _snapshots()
    out = Console(file=io.StringIO(), width=width, force_terminal=True, color_system=None,
                  record=True)
    out.print(dashboard(snap, rates(before, snap), "http://127.0.0.1:8080/", width,
                        now=snap["videos"][0]["last_seen"] + 75))
    text = out.export_text()
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= width
    assert "requests  105: 206 105" in text  # 1 + 2 + ... + 14 ranges
    assert "(4 others)" in text  # top 10 of 14
    assert "Video 14" in text and "Video 5" in text and "Video 4:" not in text  # the top 10
    assert "1 min ago" in text
    assert "▸ 3 seeks" in text  # the player-reported map of the busiest video
    assert "aborts 0" in text and "mean 64.0 KiB" in text
    assert ("mean rng" in text) == (width >= 76)
    assert "█" in text  # heat maps drawn


def test_heat_line() -> None:
    assert heat_line([0] * 50, 50) == " " * 50
    line = heat_line([0] * 49 + [8], 50)
    assert len(line) == 50 and line[-1] == BLOCKS[-1] and line[:-1].strip() == ""
    assert heat_line([1] * 50, 25) == BLOCKS[-1] * 25  # two buckets a cell
    assert heat_line([4, 0, 1, 0], 4) == f"{BLOCKS[8]} {BLOCKS[2]} "  # 1/4 of the peak


def test_one_line() -> None:
    before, snap = _snapshots()
    line = one_line(snap, rates(before, snap), 0.0)
    assert "requests 105 [206 105]" in line and "\n" not in line


async def test_live_view_draws_into_a_terminal(live_server: Live) -> None:
    buffer = io.StringIO()
    out = Console(file=buffer, width=80, force_terminal=True, color_system=None)
    code = await live(live_server.base + "/", 10, 0.1, 5.0, out, count=2)
    assert code == ExitStatus.SUCCESS
    text = buffer.getvalue()
    assert text.count("mediaserve stats") >= 2  # drawn twice, in place
    assert live_server.name[:20] in text and "206 3" in text
    assert "0.0 req/s" in text  # the second refresh has a rate


async def test_live_view_says_when_the_server_is_down() -> None:
    buffer = io.StringIO()
    out = Console(file=buffer, width=80, force_terminal=True, color_system=None)
    code = await live(f"http://127.0.0.1:{free_port()}/", 10, 0.1, 5.0, out, count=2)
    assert code == ExitStatus.NETWORK
    assert "cannot connect" in buffer.getvalue() and "retrying" in buffer.getvalue()


@pytest.mark.parametrize(("library", "shown"), [
    ({"videos": 5000, "duration": 7322.4, "bytes": 3 * 1024**4},
     "serving   5,000 videos (2:02:02, 3.0 TiB)"),
    ({"videos": 1, "duration": 8, "bytes": 10}, "serving   1 video (0:08, 10 B)"),
    ({"videos": "x"}, None), ("nonsense", None), (None, None)])
def test_the_library_line_repeats_the_start_up_line(library: object, shown: str | None) -> None:
    _before, snap = _snapshots()
    if library is not None:
        snap["library"] = library
    out = Console(file=io.StringIO(), width=100, force_terminal=True, color_system=None,
                  record=True)
    out.print(dashboard(snap, None, "http://127.0.0.1:8080/", 100, now=0))
    text = out.export_text()
    if shown is None:
        assert "serving" not in text
    else:
        assert shown in text, text


PLAYBACK = {"running": {"remux": 0, "audio": 1, "transcode": 2}, "queued": 3,
            "realtime_factor": 2.46, "busy_refusals": 5,
            "cache": {"hits": 30, "misses": 10, "hit_ratio": 0.75, "bytes": 3 * 1024 ** 2}}


@pytest.mark.parametrize(("playback", "shown"), [
    (PLAYBACK, ["converting  remux 0 · audio 1 · transcode 2   queued 3   2.5x real time",
                "segments    cache hits 75% of 40   3.0 MiB cached   busy refusals 5"]),
    ({**PLAYBACK, "realtime_factor": None, "cache": {**PLAYBACK["cache"], "hit_ratio": None}},
     ["– x real time", "cache hits – of 40"]),
    ({"running": "odd"}, []),  # a server's odd answer: no line rather than a crash
    (None, []),
])
def test_conversions_are_shown_when_the_server_converts(playback: object,
                                                       shown: list[str]) -> None:
    _before, snap = _snapshots()
    if playback is not None:
        snap["playback"] = playback
    out = Console(file=io.StringIO(), width=80, force_terminal=True, color_system=None,
                  record=True)
    out.print(dashboard(snap, None, "http://127.0.0.1:8080/", 80))
    text = out.export_text()
    for words in shown:
        assert words in text, text
    assert ("converting" in text) == bool(shown)
    assert ("converting [" in one_line(snap, None, 0.0)) == bool(shown)
