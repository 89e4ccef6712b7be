"""The pure audit rules: each fires on its evidence, and only there."""

from __future__ import annotations

import dataclasses
import json
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mediaserve.core.audit.duplicates import (
    duplicate_candidates,
    duplicate_groups,
    with_duplicates,
)
from mediaserve.core.audit.model import AuditFinding, AuditOptions, DeepFacts, FreshStat, Severity
from mediaserve.core.audit.plan import plan_fix, remux_candidates
from mediaserve.core.audit.playability import playable_everywhere
from mediaserve.core.audit.report import AuditReport, EntryAudit, audit_library
from mediaserve.core.audit.rules import (
    RULES,
    Rule,
    audit_entry,
    findings_from_facts,
    needs_reprobe,
)
from mediaserve.core.library.failure import ProbeFailure
from mediaserve.core.library.index import LibraryIndex, MediaFacts, ProbeOutcome, VideoEntry
from mediaserve.core.library.status import EntryStatus
from tests.complexity import growth

GOOD = MediaFacts(container="mp4", duration=10.0, video_codec="h264", width=640, height=360,
                  frame_rate=25.0, frames=250, audio_codec="aac", faststart=True,
                  truncated=False)


def entry(path: str = "a.mp4", facts: MediaFacts = GOOD, **kw) -> VideoEntry:
    base = {"id": path.replace("/", "_"), "path": path, "size": 1000, "mtime_ns": 5}
    return VideoEntry(**{**base, "facts": facts, **kw})


SAME = FreshStat(exists=True, size=1000, mtime_ns=5)
DEEP_GOOD = DeepFacts(video_packets=250, end_time=10.0, duration=10.0)


def codes(findings: list[AuditFinding]) -> list[str]:
    return [f.code for f in findings]


# --------------------------------------------------------------------------- file tier


def test_good_entry_has_no_findings_with_or_without_evidence():
    assert audit_entry(entry()) == []
    assert audit_entry(entry(), SAME) == []
    assert audit_entry(entry(), SAME, DEEP_GOOD) == []


@pytest.mark.parametrize(("stat", "kw", "code"), [
    (FreshStat(exists=False), {}, "missing"),
    (None, {"status": EntryStatus.MISSING}, "missing"),
    (FreshStat(exists=True, size=1000, mtime_ns=5, regular=False), {}, "not-regular"),
    (FreshStat(exists=True, size=0, mtime_ns=5), {}, "empty"),
    (None, {"status": EntryStatus.ERROR, "error": "empty file", "error_kind": ProbeFailure.EMPTY,
            "facts": MediaFacts()}, "empty"),
    (FreshStat(exists=True, size=1000, mtime_ns=5, readable=False), {}, "unreadable"),
    (None, {"status": EntryStatus.ERROR, "error": "cannot read: Permission denied",
            "error_kind": ProbeFailure.UNREADABLE, "facts": MediaFacts()}, "unreadable"),
])
def test_file_rules_fire_alone(stat, kw, code):
    """A file-level problem explains everything: no content rule runs after it."""
    worst = MediaFacts(container="mp4", video_codec="hevc", frames=2, faststart=False)
    broken = entry(**{"facts": worst, **kw})
    found = audit_entry(broken, stat, DEEP_GOOD)
    assert codes(found) == [code]
    assert found[0].severity is Severity.ERROR


def test_missing_stat_outranks_recorded_ok_status():
    assert codes(audit_entry(entry(), FreshStat(exists=False))) == ["missing"]


def test_recorded_facts_only_never_touch_the_disk():
    """What the server calls: a path that does not exist anywhere still audits clean."""
    assert audit_entry(entry("no/such/dir/at/all.mp4")) == []


def test_findings_from_facts_is_the_recorded_facts_audit():
    slow = entry(facts=dataclasses.replace(GOOD, faststart=False))
    assert findings_from_facts(slow) == audit_entry(slow, None, None)
    assert codes(findings_from_facts(entry(status=EntryStatus.MISSING))) == ["missing"]
    few = entry(facts=dataclasses.replace(GOOD, frames=5))
    assert findings_from_facts(few, AuditOptions(min_frames=5)) == []


def test_recorded_facts_only_call_is_cheap(monkeypatch: pytest.MonkeyPatch):
    """What the server runs per request: no I/O at all, and each rule's check at most once
    (timings are in benchmarks/audit_bench.py)."""
    def no_io(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"I/O during a recorded-facts audit: {args}")

    for name in ("stat", "lstat", "open", "access", "scandir", "listdir"):
        monkeypatch.setattr(os, name, no_io)
    monkeypatch.setattr("builtins.open", no_io)
    calls: list[str] = []
    judge = Rule.judge

    def counting(self: Rule, view: object) -> object:
        calls.append(self.code)
        return judge(self, view)

    monkeypatch.setattr(Rule, "judge", counting)
    slow = entry(facts=dataclasses.replace(GOOD, faststart=False, video_codec="hevc"))
    for e in (entry(), slow, entry(status=EntryStatus.MISSING), entry(facts=MediaFacts())):
        calls.clear()
        audit_entry(e)
        assert 0 < len(calls) == len(set(calls)) <= len(RULES)


# --------------------------------------------------------------------------- index tier


def test_stale_by_size_and_by_mtime():
    grown = FreshStat(exists=True, size=2000, mtime_ns=5)
    touched = FreshStat(exists=True, size=1000, mtime_ns=6)
    assert codes(audit_entry(entry(), grown)) == ["stale"]
    assert "size 1000 → 2000" in audit_entry(entry(), grown)[0].message
    assert codes(audit_entry(entry(), touched)) == ["stale"]
    assert audit_entry(entry(), touched)[0].severity is Severity.WARNING


def test_stale_entry_is_judged_on_fresh_facts():
    """A clip replaced by a 3-frame one: the recorded facts are good, the fresh ones not."""
    fresh = ProbeOutcome(dataclasses.replace(GOOD, frames=3))
    grown = FreshStat(exists=True, size=2000, mtime_ns=9)
    assert codes(audit_entry(entry(), grown, reprobed=fresh)) == ["stale", "too-few-frames"]


def test_entry_flagged_missing_that_came_back_is_stale_not_missing():
    back = entry(status=EntryStatus.MISSING)
    assert codes(audit_entry(back, SAME)) == ["stale"]
    assert codes(audit_entry(back, SAME, reprobed=ProbeOutcome(GOOD))) == ["stale"]
    assert needs_reprobe(back, SAME)
    assert not needs_reprobe(entry(), SAME)
    assert not needs_reprobe(back, FreshStat(exists=False))


def test_timeout_falls_back_to_recorded_facts():
    slow = DeepFacts(timed_out=True, video_packets=1, end_time=0.1, duration=10.0,
                     error="time budget of 1 s exceeded", elapsed=1.0)
    assert codes(audit_entry(entry(), SAME, slow)) == ["timeout"]
    # recorded errors still count; the partial packet count does not
    few = entry(facts=dataclasses.replace(GOOD, frames=4))
    assert codes(audit_entry(few, SAME, slow)) == ["timeout", "too-few-frames"]


# --------------------------------------------------------------------------- content tier


def test_truncated_from_recorded_layout():
    cut = entry(facts=dataclasses.replace(GOOD, truncated=True))
    assert codes(audit_entry(cut)) == ["truncated"]
    assert "MP4 box" in audit_entry(cut)[0].message


def test_truncated_explains_an_unopenable_file_and_missing_frames():
    cut = entry(status=EntryStatus.ERROR, error="cannot open container (InvalidData): x",
                facts=MediaFacts(truncated=True))
    assert codes(audit_entry(cut, SAME)) == ["truncated"]
    short = entry(facts=dataclasses.replace(GOOD, truncated=True, frames=2))
    assert codes(audit_entry(short)) == ["truncated"]


@pytest.mark.parametrize(("end", "duration", "truncated"), [
    (10.0, 10.0, False),
    (9.6, 10.0, False),  # within 0.5 s: audio priming, last frame duration
    (9.4, 10.0, True),
    (95.0, 100.0, False),  # within 5 % of a long file
    (94.0, 100.0, True),
    (1.0, None, False),  # no declared duration (live WebM): cannot judge
])
def test_truncated_from_deep_packet_end(end, duration, truncated):
    deep = DeepFacts(video_packets=250, end_time=end, duration=duration)
    assert ("truncated" in codes(audit_entry(entry(), SAME, deep))) is truncated


def test_truncation_slack_is_an_option():
    deep = DeepFacts(video_packets=250, end_time=9.6, duration=10.0)
    strict = AuditOptions(truncation_slack_s=0.1, truncation_slack_ratio=0.0)
    assert codes(audit_entry(entry(), SAME, deep, strict)) == ["truncated"]


def test_not_media_from_recorded_error_and_from_deep_open():
    broken = entry(status=EntryStatus.ERROR, error="cannot open container (InvalidData): junk",
                   facts=MediaFacts(truncated=False))
    found = audit_entry(broken)
    assert codes(found) == ["not-media"] and "junk" in found[0].message
    unopenable = DeepFacts(opened=False, error="InvalidData: junk")
    assert codes(audit_entry(entry(), SAME, unopenable)) == ["not-media"]


def test_corrupt_from_deep_demux_error():
    deep = DeepFacts(video_packets=240, end_time=9.9, duration=10.0,
                     error="the demuxer crashed (exit status -11)")
    assert codes(audit_entry(entry(), SAME, deep)) == ["corrupt"]


def test_no_video_skips_frame_and_codec_rules():
    audio = entry(facts=MediaFacts(container="mp4", duration=3.0, audio_codec="ac3",
                                   faststart=False))
    found = audit_entry(audio)
    assert codes(found) == ["no-video"] and "ac3" in found[0].message
    no_video_deep = DeepFacts(has_video=False, end_time=3.0, duration=3.0)
    assert codes(audit_entry(entry(), SAME, no_video_deep)) == ["no-video"]


@pytest.mark.parametrize(("frames", "minimum", "fires"), [
    (9, 10, True), (10, 10, False), (0, 10, True), (3, 3, False), (0, 0, False)])
def test_min_frames_threshold(frames, minimum, fires):
    e = entry(facts=dataclasses.replace(GOOD, frames=frames))
    found = codes(audit_entry(e, options=AuditOptions(min_frames=minimum)))
    assert (found == ["too-few-frames"]) is fires
    assert found in ([], ["too-few-frames"])


def test_deep_packet_count_outranks_recorded_frames():
    """MP4 metadata still says 250 frames after the data was lost; the packets say 4."""
    deep = DeepFacts(video_packets=4, end_time=9.9, duration=10.0)
    assert codes(audit_entry(entry(), SAME, deep)) == ["too-few-frames"]


def test_errors_suppress_advice():
    bad = entry(facts=dataclasses.replace(GOOD, frames=2, faststart=False, video_codec="hevc"))
    assert codes(audit_entry(bad)) == ["too-few-frames"]


# --------------------------------------------------------------------------- advice tier


def test_not_faststart_only_for_mp4_family():
    slow = entry(facts=dataclasses.replace(GOOD, faststart=False))
    assert codes(audit_entry(slow)) == ["not-faststart"]
    mov = entry("a.mov", facts=dataclasses.replace(GOOD, container="mov", faststart=False))
    assert "not-faststart" in codes(audit_entry(mov))
    webm = entry("a.webm", facts=dataclasses.replace(
        GOOD, container="webm", video_codec="vp9", audio_codec="opus", faststart=None))
    assert audit_entry(webm) == []


@pytest.mark.parametrize(("container", "video", "audio", "code"), [
    ("mp4", "h264", "aac", None),
    ("mp4", "h264", "mp3", None),
    ("mp4", "h264", None, None),
    ("mp4", "av1", "opus", None),
    ("webm", "vp8", "vorbis", None),
    ("webm", "vp9", "opus", None),
    ("webm", "av1", None, None),
    ("matroska", "h264", "aac", "chromium-only"),
    ("matroska", "vp9", "opus", "chromium-only"),
    ("mov", "h264", "aac", "chromium-only"),
    ("mp4", "hevc", "aac", "unplayable"),
    ("matroska", "hevc", "aac", "unplayable"),
    ("avi", "mpeg4", "mp3", "unplayable"),
    ("asf", "wmv2", "wmav2", "unplayable"),
    ("mp4", "h264", "ac3", "unplayable"),
    ("webm", "h264", "opus", "unplayable"),
    ("matroska", "h264", "dts", "unplayable"),
])
def test_playability(container, video, audio, code):
    facts = dataclasses.replace(GOOD, container=container, video_codec=video,
                                audio_codec=audio, faststart=True if container == "mp4"
                                else None)
    found = codes(audit_entry(entry(facts=facts)))
    assert found == ([code] if code else [])
    assert playable_everywhere(container, video, audio) is (code is None)


def test_playability_messages_say_which_browser():
    mkv = entry("a.mkv", facts=dataclasses.replace(GOOD, container="matroska", faststart=None))
    assert "Chromium only" in audit_entry(mkv)[0].message
    hevc = entry(facts=dataclasses.replace(GOOD, video_codec="hevc"))
    assert "Safari" in audit_entry(hevc)[0].message


# --------------------------------------------------------------------------- library level


def library(*entries: VideoEntry) -> LibraryIndex:
    return LibraryIndex(root="/lib", videos={e.id: e for e in entries},
                        settings={"port": 8080})


def test_report_counts_summary_and_exit_codes():
    idx = library(entry("ok.mp4"), entry("slow.mp4", dataclasses.replace(GOOD, faststart=False)),
                  entry("gone.mp4", status=EntryStatus.MISSING))
    report = audit_library(idx)
    assert (report.total, report.valid, report.invalid, report.warned) == (3, 2, 1, 1)
    assert report.summary_line() == "Total: 3 | Valid: 2 | Invalid: 1 | With warnings: 1"
    assert report.counts() == {"missing": 1, "not-faststart": 1}
    assert [report.exit_code(f) for f in ("error", "warning", "never")] == [1, 1, 0]
    warnings_only = audit_library(library(entry("slow.mp4",
                                                dataclasses.replace(GOOD, faststart=False))))
    assert [warnings_only.exit_code(f) for f in ("error", "warning", "never")] == [0, 1, 0]
    clean = audit_library(library(entry("ok.mp4")))
    assert [clean.exit_code(f) for f in ("error", "warning", "never")] == [0, 0, 0]
    assert [e.entry.path for e in report.entries] == ["gone.mp4", "ok.mp4", "slow.mp4"]
    json.dumps(report.as_dict())  # serialisable as is


def test_findings_sorted_errors_first():
    idx = library(entry("a.mp4", dataclasses.replace(GOOD, faststart=False)),
                  entry("b.mp4", status=EntryStatus.MISSING))
    pairs = audit_library(idx).findings()
    assert [f.code for _, f in pairs] == ["missing", "not-faststart"]


def test_duplicates():
    a, b, c = entry("a.mp4"), entry("b.mp4"), entry("c.mp4")
    assert duplicate_groups({a.id: (1, "x"), b.id: (1, "x"), c.id: (1, "y")}) == [(a.id, b.id)]
    report = audit_library(library(a, b, c), {e.id: SAME for e in (a, b, c)})
    assert duplicate_candidates(report, {e.id: SAME for e in (a, b, c)}) == [[a.id, b.id, c.id]]
    marked = with_duplicates(report, [(a.id, b.id)])
    by_path = {e.entry.path: e for e in marked.entries}
    assert by_path["a.mp4"].codes() == ["duplicate"] and "b.mp4" in \
        by_path["a.mp4"].findings[0].message
    assert by_path["b.mp4"].codes() == ["duplicate"]
    assert by_path["c.mp4"].codes() == []
    assert with_duplicates(report, []) is report


def test_duplicate_findings_have_a_bounded_size_and_the_group_is_listed_once():
    copies = [entry(f"c{i}.mp4") for i in range(6)]
    report = with_duplicates(audit_library(library(*copies)), [tuple(e.id for e in copies)])
    messages = {a.entry.path: a.findings[0].message for a in report.entries}
    assert messages["c0.mp4"].startswith("same content as c1.mp4, c2.mp4, c3.mp4 and 2 more ")
    assert messages["c4.mp4"].startswith("same content as c0.mp4, c1.mp4, c2.mp4 and 2 more ")
    [group] = report.duplicates
    assert group.paths == tuple(f"c{i}.mp4" for i in range(6)) and group.first == "c0.mp4"
    assert report.as_dict()["duplicate_groups"] == [
        {"count": 6, "size": 1000, "paths": list(group.paths)}]
    assert report.counts() == {"duplicate": 6}


def test_duplicate_reporting_grows_linearly_with_the_group():
    """Issue 13: the work (and the report) for one group of N copies was quadratic."""
    reports = {}
    for n in (200, 400):
        copies = [entry(f"c{i:03d}.mp4") for i in range(n)]
        reports[n] = (audit_library(library(*copies)), [tuple(e.id for e in copies)])

    def run(n: int) -> None:
        report, groups = reports[n]
        with_duplicates(report, groups).as_dict()

    assert growth(run, 200) < 2.5  # linear: ~2; the old code: ~4


def test_entries_with_errors_are_not_duplicate_candidates():
    a, b = entry("a.mp4"), entry("b.mp4", facts=dataclasses.replace(GOOD, frames=1))
    report = audit_library(library(a, b), {a.id: SAME, b.id: SAME})
    assert duplicate_candidates(report, {a.id: SAME, b.id: SAME}) == []


def test_plan_fix_prunes_errors_updates_stale_and_keeps_the_rest():
    ok = entry("ok.mp4")
    slow = entry("slow.mp4", dataclasses.replace(GOOD, faststart=False))
    gone = entry("gone.mp4")
    few = entry("few.mp4", dataclasses.replace(GOOD, frames=3))
    stale = entry("stale.mp4")
    idx = library(ok, slow, gone, few, stale)
    stats = {ok.id: SAME, slow.id: SAME, gone.id: FreshStat(exists=False), few.id: SAME,
             stale.id: FreshStat(exists=True, size=1000, mtime_ns=99)}
    report = audit_library(idx, stats, reprobed={stale.id: ProbeOutcome(GOOD)})
    before = dict(idx.videos)
    new, changes = plan_fix(idx, report)
    assert idx.videos == before  # the input is not modified
    assert [(c.action, c.path) for c in changes] == [
        ("remove", "few.mp4"), ("remove", "gone.mp4"), ("update", "stale.mp4")]
    assert set(new.videos) == {ok.id, slow.id, stale.id}
    assert new.videos[stale.id].mtime_ns == 99
    assert new.videos[slow.id] is slow and new.settings == {"port": 8080}
    assert new.root == idx.root
    assert [a.entry.path for a in remux_candidates(report)] == ["slow.mp4"]


def test_rules_are_documented_once_each():
    assert len({r.code for r in RULES}) == len(RULES)
    assert {r.severity for r in RULES} == {Severity.ERROR, Severity.WARNING}


# --------------------------------------------------------------------------- properties


maybe = st.none() | st.booleans()
facts_st = st.builds(
    MediaFacts,
    container=st.sampled_from([None, "mp4", "mov", "webm", "matroska", "avi"]),
    duration=st.none() | st.floats(0, 1e5),
    video_codec=st.sampled_from([None, "h264", "hevc", "vp9", "mpeg4"]),
    frames=st.none() | st.integers(0, 10**6),
    audio_codec=st.sampled_from([None, "aac", "opus", "ac3"]),
    faststart=maybe, truncated=maybe)
entry_st = st.builds(
    VideoEntry, id=st.just("x"), path=st.just("x.mp4"), size=st.integers(0, 10**9),
    mtime_ns=st.integers(0, 10**18), status=st.sampled_from(["ok", "error", "missing"]),
    facts=facts_st, error=st.none() | st.sampled_from(
        ["empty file", "cannot read: denied", "cannot open container: x", "cannot stat: x"]),
    error_kind=st.none() | st.sampled_from(list(ProbeFailure)))
stat_st = st.none() | st.builds(FreshStat, exists=st.booleans(), size=st.integers(0, 10**9),
                                mtime_ns=st.integers(0, 10**18), readable=st.booleans(),
                                regular=st.booleans())
deep_st = st.none() | st.builds(
    DeepFacts, opened=st.booleans(), has_video=st.booleans(),
    video_packets=st.integers(0, 10**6), end_time=st.none() | st.floats(0, 1e5),
    duration=st.none() | st.floats(0, 1e5), error=st.none() | st.just("boom"),
    timed_out=st.booleans())

FILE_CODES = {"missing", "not-regular", "empty", "unreadable"}


@settings(max_examples=300, deadline=None)
@given(entry_st, stat_st, deep_st)
def test_audit_entry_is_total_and_consistent(e, stat, deep):
    found = audit_entry(e, stat, deep)
    found_codes = codes(found)
    assert len(found_codes) == len(set(found_codes))  # each rule at most once
    assert set(found_codes) <= {r.code for r in RULES}
    if set(found_codes) & FILE_CODES:
        assert len(found) == 1  # a file problem is the whole story
    errors = [f for f in found if f.severity is Severity.ERROR]
    if errors:  # advice is never given for a broken file
        assert not set(found_codes) & {"not-faststart", "unplayable", "chromium-only"}
    severities = {f.severity for f in found}
    report = AuditReport((EntryAudit(e, tuple(found)),))
    assert report.exit_code("error") == int(Severity.ERROR in severities)
    assert report.exit_code("warning") == int(bool(found))


def test_playability_says_which_mode_mediaserve_plays_it_in_and_why():
    """No more "transcode it yourself": the finding names the mode the default browser
    gets (issue 19) and the fix says mediaserve converts it."""
    dts = entry("a.mkv", facts=dataclasses.replace(GOOD, container="matroska", faststart=None,
                                                   audio_codec="dts"))
    (finding,) = audit_entry(dts)
    assert finding.code == "unplayable"
    assert finding.message.endswith("mediaserve plays it in Chromium as audio (the sound: DTS "
                                    "is not decoded by this browser, converted to AAC)")
    assert finding.fix.startswith("none needed: mediaserve converts it")
    hevc = entry(facts=dataclasses.replace(GOOD, video_codec="hevc"))
    assert "as transcode (the picture: HEVC is not decoded" in audit_entry(hevc)[0].message
    mkv = entry("b.mkv", facts=dataclasses.replace(GOOD, container="matroska", faststart=None))
    assert "plays it directly in Chromium" in audit_entry(mkv)[0].message
