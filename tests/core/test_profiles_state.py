"""Progress reports, the watched rule, the home rows and the export document (pure)."""

from __future__ import annotations

import contextlib
import json
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mediaserve.core.profiles.home import (
    Row,
    continue_watching,
    folder_order,
    merge_copies,
    natural_key,
    next_up,
    recently_added,
)
from mediaserve.core.profiles.pin import hash_pin
from mediaserve.core.profiles.progress import (
    MAX_BODY,
    MAX_SECONDS,
    ProgressReport,
    finished,
    in_progress,
    parse_report,
)
from mediaserve.core.profiles.rules import Preferences, RuleError
from mediaserve.core.profiles.transfer import (
    MAX_ROWS_PER_PROFILE,
    ProfileRecord,
    TransferError,
    export_document,
    parse_document,
)

# --------------------------------------------------------------------------- reports


@pytest.mark.parametrize(("body", "expected"), [
    (b'{"position": 12.5}', ProgressReport(12.5)),
    (b'{"position": 12, "duration": 60, "ended": false}', ProgressReport(12.0, 60.0)),
    (b'{"position": 61, "duration": 60}', ProgressReport(60.0, 60.0)),  # clamped
    (b'{"position": 0, "duration": null, "ended": true}', ProgressReport(0.0, None, True)),
    (b' {"position": 1} \n', ProgressReport(1.0)),
])
def test_reports_parse(body: bytes, expected: ProgressReport) -> None:
    assert parse_report(body) == expected


@pytest.mark.parametrize("body", [
    b"", b"null", b"[]", b'"x"', b"{", b'{"duration": 5}', b'{"position": -1}',
    b'{"position": "12"}', b'{"position": true}', b'{"position": NaN}',
    b'{"position": Infinity}', b'{"position": 1e999}', b'{"position": 1, "duration": 0}',
    b'{"position": 1, "ended": 1}', b'{"position": 1, "extra": 1}',
    b'{"position": 20000000}', b"\xff\xfe", b"[" * 100_000, b" " * (MAX_BODY + 1),
])
def test_bad_reports_are_refused(body: bytes) -> None:
    with pytest.raises(RuleError):
        parse_report(body)


@given(st.binary(max_size=300))
def test_any_bytes_are_a_report_or_refused(body: bytes) -> None:
    try:
        report = parse_report(body)
    except RuleError:
        return
    assert 0 <= report.position <= MAX_SECONDS and math.isfinite(report.position)


@given(st.dictionaries(st.sampled_from(["position", "duration", "ended"]),
                       st.one_of(st.none(), st.booleans(), st.floats(), st.integers(),
                                 st.text(max_size=5))))
def test_any_json_object_is_a_report_or_refused(data: dict) -> None:
    try:
        report = parse_report(json.dumps(data).encode())
    except RuleError:
        return
    if report.duration is not None:
        assert report.position <= report.duration


@pytest.mark.parametrize(("position", "duration", "ended", "watched"), [
    (53, 60, False, False), (54, 60, False, True),  # a minute: the last 10 %
    (1319, 1320, False, True), (1187, 1320, False, False), (1188, 1320, False, True),
    (5399, 6000, False, False), (5400, 6000, False, True),  # 100 min: 10 % is 10 min
    (9720, 10800, False, False),  # three hours at 90 %: 18 minutes of story are left
    (10199, 10800, False, False), (10200, 10800, False, True),  # the last 10 minutes
    (0, 60, True, True), (10, None, False, False), (10, None, True, True),
])
def test_the_watched_rule(position: float, duration: float | None, ended: bool,
                          watched: bool) -> None:
    assert finished(position, duration, ended) is watched


def test_in_progress_from_five_seconds_until_watched() -> None:
    assert not in_progress(4.9, False) and in_progress(5, False) and not in_progress(50, True)


# --------------------------------------------------------------------------- home rows


def row(video: str, position: float = 30.0, watched: bool = False, updated: float = 0.0,
        duration: float | None = 100.0) -> Row:
    return Row(video, position, duration, watched, updated)


def test_folder_order_is_natural_and_stays_in_the_folder() -> None:
    entries = [("e10", "Show/Ep 10.mkv"), ("e2", "Show/Ep 2.mkv"), ("e1", "Show/ep 1.mkv"),
               ("x", "Other/a.mkv"), ("root", "z.mkv")]
    after = folder_order(entries)
    assert [after("e1"), after("e2"), after("e10")] == ["e2", "e10", None]
    assert after("x") is None and after("root") is None and after("nope") is None
    assert natural_key("a2") < natural_key("a10") < natural_key("B1")


def test_continue_watching_is_in_progress_most_recent_first() -> None:
    rows = [row("a", updated=1), row("b", updated=3), row("c", watched=True, updated=4),
            row("d", position=2, updated=5), row("gone", updated=6), row("e", updated=2)]
    found = continue_watching(rows, {"a", "b", "c", "d", "e"}, limit=2)
    assert [r.video for r in found] == ["b", "e"]


def test_next_up_follows_watched_episodes_once_per_chain() -> None:
    after = folder_order([(f"s1e{n}", f"Show/S1/E{n}.mkv") for n in range(1, 6)]
                         + [("m1", "Film/a.mkv"), ("m2", "Film/b.mkv")])
    everything = {f"s1e{n}" for n in range(1, 6)} | {"m1", "m2"}
    rows = [row("s1e1", watched=True, updated=1), row("s1e2", watched=True, updated=5),
            row("s1e3", watched=True, updated=2),  # watched out of order
            row("m1", watched=True, updated=3)]
    assert next_up(rows, after, everything) == [("s1e4", "s1e3"), ("m2", "m1")]
    # s1e4 in progress: Continue watching has it, Next up leaves the show alone
    rows.append(row("s1e4", position=40, updated=6))
    assert next_up(rows, after, everything) == [("m2", "m1")]
    # a vanished next episode is not offered
    assert next_up(rows[:4], after, everything - {"s1e4"}) == [("m2", "m1")]
    assert next_up(rows, after, everything, limit=0) == []


def test_copies_of_an_episode_count_as_one() -> None:
    """e2 and e2b are one episode (e2 stands for it): watching e2b is watching e2."""
    order = {"e1": "e2", "e2": "e3", "e2b": "e3"}.get  # as the shows model: next of a copy
    episode_of = {"e2b": "e2"}.get
    rows = [row("e1", watched=True, updated=1), row("e2b", watched=True, updated=2)]
    present = {"e1", "e2", "e2b", "e3"}
    assert next_up(rows, order, present) == [("e3", "e2b"), ("e2", "e1")]  # copies apart
    assert next_up(rows, order, present, episode_of=lambda v: episode_of(v, v)) == [
        ("e3", "e2")]
    merged = merge_copies([row("e2", position=30, updated=5), row("e2b", watched=True,
                                                                  updated=2)],
                          lambda v: episode_of(v, v))
    assert merged == [row("e2", position=30, watched=True, updated=5)]


def test_next_up_stops_on_a_cycle_and_on_long_chains() -> None:
    loop = {"a": "b", "b": "a"}
    rows = [row("a", watched=True), row("b", watched=True)]
    assert next_up(rows, loop.get, {"a", "b"}) == []
    calls = []

    def endless(vid: str) -> str:
        calls.append(vid)
        return f"{int(vid) + 1}"

    watched = [row(str(n), watched=True, updated=n) for n in range(1000)]
    assert next_up(watched, endless, {"5000"}) == []
    # each step finds a video never seen before or ends its walk: linear, not 1000 x 64
    assert len(calls) <= 2 * len(watched) + 1


def test_recently_added_is_newest_first() -> None:
    assert recently_added([("a", 1), ("b", 3), ("c", 2)], limit=2) == ["b", "c"]


# --------------------------------------------------------------------------- export


def record(**changes: object) -> ProfileRecord:
    base = ProfileRecord("0123456789abcdef", "local", "Alice", "#e5484d",
                         hash_pin("1234", bytes(16)), 1_700_000_000.0,
                         Preferences(quality="720p"),
                         (Row("0123456789ab", 12.5, 60.0, False, 1_700_000_100.0),))
    return ProfileRecord(**{**base.as_dict(), **changes, "preferences": base.preferences,
                            "progress": base.progress})


def test_the_document_round_trips() -> None:
    records = [record(), record(id="fedcba9876543210", kind="user", name="bob")]
    doc = json.loads(json.dumps(export_document(records, 1.0)))
    assert parse_document(doc) == records


@pytest.mark.parametrize(("change", "where"), [
    (lambda d: d.update(format="other"), "not a mediaserve-profiles document"),
    (lambda d: d.update(version=2), "version 2"),
    (lambda d: d.update(profiles={}), "profiles: must be a list"),
    (lambda d: d["profiles"][0].update(id="XYZ"), "profiles[0].id"),
    (lambda d: d["profiles"][0].update(kind="admin"), "profiles[0].kind"),
    (lambda d: d["profiles"][0].update(name=""), "profiles[0]: name"),
    (lambda d: d["profiles"][0].update(colour="red"), "profiles[0]: colour"),
    (lambda d: d["profiles"][0].update(pin_hash="1234"), "profiles[0].pin_hash"),
    (lambda d: d["profiles"][0].update(preferences={"quality": "8k"}), "quality"),
    (lambda d: d["profiles"][0].pop("created"), "profiles[0]: created is missing"),
    (lambda d: d["profiles"][0]["progress"][0].update(position=-1),
     "profiles[0].progress[0].position"),
    (lambda d: d["profiles"][0]["progress"][0].update(video="../x"),
     "profiles[0].progress[0].video"),
    (lambda d: d["profiles"][0]["progress"][0].update(watched="no"), "watched"),
    (lambda d: d["profiles"][0]["progress"].append(d["profiles"][0]["progress"][0]),
     "a video appears twice"),
    (lambda d: d["profiles"].append(dict(d["profiles"][0])), "appears twice"),
    (lambda d: d["profiles"].append({**d["profiles"][0], "id": "1" * 16, "name": "ALICE"}),
     "profiles[1].name"),
    (lambda d: d["profiles"][0].update(progress=[{"video": "0123456789ab", "position": 1,
                                                  "watched": False, "updated": 1}]
                                       * (MAX_ROWS_PER_PROFILE + 1)), "more than"),
])
def test_a_bad_document_is_refused_with_where(change: object, where: str) -> None:
    doc = json.loads(json.dumps(export_document([record()], 1.0)))
    change(doc)  # type: ignore[operator]
    with pytest.raises(TransferError) as caught:
        parse_document(doc)
    assert where in str(caught.value)


@given(st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
                    lambda inner: st.lists(inner, max_size=4)
                    | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=20))
def test_any_json_is_a_document_or_refused(data: object) -> None:
    for candidate in (data, {"format": "mediaserve-profiles", "version": 1, "profiles": [data]}):
        with contextlib.suppress(TransferError):
            parse_document(candidate)
