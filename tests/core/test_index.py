"""The index model, pure: TOML round trip, validation errors with their exact position,
incremental-scan bookkeeping and ids. No file system, no PyAV."""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mediaserve.core.library.failure import ProbeFailure
from mediaserve.core.library.ids import ID_LENGTH, is_valid_id, video_id
from mediaserve.core.library.index import (
    FACT_FIELDS,
    SCHEMA_VERSION,
    FileState,
    IndexFormatError,
    LibraryIndex,
    MediaFacts,
    ProbeOutcome,
    ScanSummary,
    VideoEntry,
    apply_scan,
    dumps,
    files_to_probe,
    loads,
    looks_unmounted,
)
from mediaserve.core.library.status import EntryStatus

NOW = datetime(2024, 5, 1, 10, 0, 0, tzinfo=UTC)
FACTS = MediaFacts(container="mp4", duration=2.005, video_codec="h264", width=160, height=120,
                   frame_rate=10.0, frames=20, audio_codec="aac", bit_rate=32809,
                   faststart=True, truncated=False)


def entry(path: str, size: int = 100, mtime_ns: int = 5, **kw: object) -> VideoEntry:
    return VideoEntry(id=video_id(path), path=path, size=size, mtime_ns=mtime_ns, **kw)


def index_of(*entries: VideoEntry, **kw: object) -> LibraryIndex:
    return LibraryIndex(root="/media", videos={e.id: e for e in entries}, **kw)


def ok(duration: float = 1.0) -> ProbeOutcome:
    return ProbeOutcome(MediaFacts(container="mp4", duration=duration))


# ------------------------------------------------------------------------------------- ids


def test_video_id_is_pinned():
    # ids are in URLs and bookmarks: the derivation must never change between releases
    assert video_id("a.mp4") == "e6d48eabd560"
    assert video_id("Movies/Café.mp4") == "2f20f4775b15"


def test_video_id_shape_and_length():
    vid = video_id("x/y.mkv")
    assert len(vid) == ID_LENGTH and is_valid_id(vid)
    assert len(video_id("x/y.mkv", length=20)) == 20
    assert video_id("x/y.mkv", length=20).startswith(vid)


def test_video_id_same_for_nfc_and_nfd_names():
    nfc = unicodedata.normalize("NFC", "Séries/Été à Noël.mp4")
    nfd = unicodedata.normalize("NFD", nfc)
    assert nfc != nfd
    assert video_id(nfc) == video_id(nfd) == video_id("Séries/Été à Noël.mp4")


def test_video_id_same_for_backslash_separators():
    assert video_id("Films\\2024\\a.mp4") == video_id("Films/2024/a.mp4")


def test_video_id_depends_on_the_relative_path_only():
    assert video_id("a/b.mp4") != video_id("a/c.mp4")
    assert video_id("a/b.mp4") != video_id("b.mp4")
    assert video_id("a/b.mp4") != video_id("A/b.mp4")


@pytest.mark.parametrize("text,valid", [
    ("0123456789ab", True),
    ("f" * 64, True),
    ("0123456789a", False),  # too short
    ("f" * 65, False),  # too long
    ("0123456789AB", False),  # upper case is not what we emit
    ("0123456789ag", False),
    ("../etc/passw", False),
    ("0123456789ab\n", False),  # `$` alone would accept a trailing newline
    ("", False),
])
def test_is_valid_id(text: str, valid: bool):
    assert is_valid_id(text) is valid


# ------------------------------------------------------------------------------ round trip


def test_round_trip_of_a_full_index():
    index = index_of(
        entry("b/clip.mp4", facts=FACTS),
        entry("a.webm", size=7, mtime_ns=8, status=EntryStatus.ERROR, error="cannot open container",
              error_kind=ProbeFailure.NOT_MEDIA),
        entry("gone.mkv", status=EntryStatus.MISSING, facts=MediaFacts(duration=3.0)),
        settings={"port": 8080, "title": "Home"},
        scanned_at=NOW,
    )
    assert loads(dumps(index)) == index


def test_dumps_is_stable_and_sorted_by_path():
    one = index_of(entry("b.mp4"), entry("a.mp4"), entry("c/a.mp4"), scanned_at=NOW)
    other = index_of(entry("c/a.mp4"), entry("a.mp4"), entry("b.mp4"), scanned_at=NOW)
    text = dumps(one)
    assert text == dumps(other)
    positions = [text.index(f'path = "{p}"') for p in ("a.mp4", "b.mp4", "c/a.mp4")]
    assert positions == sorted(positions)


def test_dumps_omits_unknown_facts_and_writes_schema():
    text = dumps(index_of(entry("a.mp4", facts=MediaFacts(width=10))))
    assert f"schema_version = {SCHEMA_VERSION}" in text
    assert "width = 10" in text
    for name in FACT_FIELDS:
        if name != "width":
            assert f"{name} =" not in text
    assert "scanned_at" not in text and "[server]" not in text


def test_loads_turns_integer_durations_into_floats():
    text = dumps(index_of(entry("a.mp4"))) + "duration = 3\nframe_rate = 25\n"
    facts = next(iter(loads(text).videos.values())).facts
    assert facts.duration == 3.0 and isinstance(facts.duration, float)
    assert isinstance(facts.frame_rate, float)


_segment = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="/\\"),
                   min_size=1, max_size=8).filter(lambda s: s != "..")
_paths = st.lists(_segment, min_size=1, max_size=3).map("/".join)
_floats = st.floats(allow_nan=False, allow_infinity=False)
_ints = st.integers(min_value=0, max_value=2**63 - 1)
_facts = st.builds(
    MediaFacts,
    container=st.none() | st.sampled_from(["mp4", "webm", "matroska"]),
    duration=st.none() | _floats, video_codec=st.none() | st.text(min_size=1),
    width=st.none() | _ints, height=st.none() | _ints, frame_rate=st.none() | _floats,
    frames=st.none() | _ints, audio_codec=st.none() | st.text(min_size=1),
    bit_rate=st.none() | _ints, faststart=st.none() | st.booleans(),
    truncated=st.none() | st.booleans(),
)
_entries = st.builds(
    lambda path, size, mtime, status, facts, error: VideoEntry(
        video_id(path), path, size, mtime, status, facts, error),
    _paths, _ints, _ints, st.sampled_from(list(EntryStatus)), _facts,
    st.none() | st.text(min_size=1),
)


@settings(max_examples=60, deadline=None)
@given(
    entries=st.lists(_entries, max_size=4, unique_by=lambda e: e.id),
    root=st.text(st.characters(blacklist_categories=("Cs",)), min_size=1),
    server=st.dictionaries(st.text(min_size=1, max_size=5),
                           st.integers(-5, 5) | st.text(max_size=5) | st.booleans(), max_size=3),
    scanned_at=st.none() | st.datetimes(timezones=st.just(UTC)),
)
def test_round_trip_property(entries, root, server, scanned_at):
    index = LibraryIndex(root=root, videos={e.id: e for e in entries}, settings=server,
                         scanned_at=scanned_at)
    assert loads(dumps(index)) == index


# ------------------------------------------------------------------------ validation errors

VALID = """\
schema_version = 1
root = "/media/films"
scanned_at = 2024-05-01T10:00:00Z

[server]
port = 8080

[videos.0123456789ab]
path = "a/b.mp4"
size = 10
mtime_ns = 20
status = "ok"
duration = 2.5
width = 160
faststart = true
"""


def edit(line: int, new: str | None) -> str:
    """VALID with 1-based ``line`` replaced by ``new`` (removed when None)."""
    lines = VALID.splitlines()
    if new is None:
        del lines[line - 1]
    else:
        lines[line - 1] = new
    return "\n".join(lines) + "\n"


def test_valid_document_loads():
    index = loads(VALID)
    assert index.root == "/media/films"
    assert index.settings == {"port": 8080}
    assert index.scanned_at == NOW
    video = index.videos["0123456789ab"]
    assert (video.path, video.size, video.mtime_ns, video.status) == ("a/b.mp4", 10, 20, "ok")
    assert video.facts == MediaFacts(duration=2.5, width=160, faststart=True)


ERROR_CASES = [
    # top level
    (edit(1, "schema_version = 2"), 1, 1, "unsupported schema_version 2"),
    (edit(1, None), 1, 1, "unsupported schema_version None"),
    (edit(2, 'root = ""'), 2, 1, "'root' must be a non-empty string"),
    (edit(2, "root = 5"), 2, 1, "'root' must be a non-empty string"),
    (edit(3, "scanned_at = 2024-05-01"), 3, 1, "'scanned_at' must be a TOML date-time"),
    (edit(3, 'scanned_at = "yesterday"'), 3, 1, "'scanned_at' must be a TOML date-time"),
    (edit(4, "server = 3").replace("[server]\nport = 8080\n", ""), 4, 1,
     "'server' must be a table"),
    ("schema_version = 1\nroot = '/m'\nvideos = 3\n", 3, 1, "'videos' must be a table"),
    ("schema_version = 1\nroot = '/m'\n\n[videos]\nabcdef012345 = 3\n", 5, 1,
     "video 'abcdef012345' must be a table"),
    # inside a video table
    (edit(9, 'path = ""'), 9, 1, "'path' must be a non-empty string"),
    (edit(9, 'path = "/etc/passwd.mp4"'), 9, 1, "'path' must be relative to the root"),
    (edit(9, 'path = "a/../../x.mp4"'), 9, 1, "'path' must be relative to the root"),
    (edit(9, None), 8, 1, "'path' must be a non-empty string"),  # missing: the table header
    (edit(10, "size = -1"), 10, 1, "'size' must be a non-negative integer"),
    (edit(10, "size = true"), 10, 1, "'size' must be a non-negative integer"),
    (edit(10, "size = 1.5"), 10, 1, "'size' must be a non-negative integer"),
    (edit(10, "    size = -1"), 10, 5, "'size' must be a non-negative integer"),
    (edit(10, None), 8, 1, "'size' must be a non-negative integer"),
    (edit(11, 'mtime_ns = "x"'), 11, 1, "'mtime_ns' must be an integer"),
    (edit(11, "mtime_ns = 1.5"), 11, 1, "'mtime_ns' must be an integer"),
    (edit(12, 'status = "gone"'), 12, 1, "'status' must be one of ok, error, missing"),
    (edit(12, "error = 3"), 12, 1, "'error' must be a string"),
    (edit(13, 'duration = "long"'), 13, 1, "'duration' must be float or int"),
    (edit(13, "frame_rate = true"), 13, 1, "'frame_rate' must be float or int"),
    (edit(13, "duration = " + "9" * 400), 13, 1, "'duration' is out of range"),
    (edit(14, "width = 1.5"), 14, 1, "'width' must be int"),
    (edit(14, "width = false"), 14, 1, "'width' must be int"),
    (edit(15, "faststart = 1"), 15, 1, "'faststart' must be bool"),
    (edit(15, 'colour = "red"'), 15, 1, "unknown key 'colour'"),
    # not TOML at all: tomllib's own position
    (edit(10, "size = = 1"), 10, 8, "invalid TOML: Invalid value"),
    (edit(8, "[videos.0123456789ab"), 8, 21, "invalid TOML"),
    (VALID + "[videos.0123456789ab]\n", 16, 21, "invalid TOML: Cannot declare"),
]


@pytest.mark.parametrize("text,line,column,message", ERROR_CASES,
                         ids=[f"{c[1]}:{c[2]} {c[3]}" for c in ERROR_CASES])
def test_validation_error_positions(text: str, line: int, column: int, message: str):
    with pytest.raises(IndexFormatError) as info:
        loads(text, source="lib/index.toml")
    error = info.value
    assert (error.line, error.column) == (line, column), str(error)
    assert message in error.message
    assert str(error) == f"lib/index.toml:{line}:{column}: {error.message}"
    assert error.source == "lib/index.toml"
    assert "\n" not in str(error)


def test_error_in_second_video_points_into_the_second_table():
    second = ('\n[videos.fedcba987654]\npath = "c.mp4"\nsize = 1\nmtime_ns = "4"\n')
    with pytest.raises(IndexFormatError) as info:
        loads(VALID + second)
    assert (info.value.line, info.value.column) == (20, 1)
    assert "video fedcba987654: 'mtime_ns'" in info.value.message


def test_missing_key_points_at_its_own_table_not_the_next_one():
    text = edit(10, None) + '\n[videos.fedcba987654]\npath = "c.mp4"\nsize = 1\nmtime_ns = 4\n'
    with pytest.raises(IndexFormatError) as info:
        loads(text)
    assert (info.value.line, info.value.column) == (8, 1)  # [videos.0123456789ab]


def test_index_format_error_is_a_value_error():
    with pytest.raises(ValueError, match=r"^<index>:1:1: unsupported schema_version"):
        loads("")


# -------------------------------------------------------------------------- files_to_probe


def test_files_to_probe_without_an_index_is_everything():
    found = [FileState("a.mp4", 1, 1), FileState("b.mp4", 2, 2)]
    assert files_to_probe(None, found) == found


def test_files_to_probe_picks_new_and_changed_only():
    old = index_of(entry("same.mp4", 10, 100), entry("bigger.mp4", 10, 100),
                   entry("touched.mp4", 10, 100), entry("gone.mp4", 10, 100))
    found = [FileState("same.mp4", 10, 100), FileState("bigger.mp4", 11, 100),
             FileState("touched.mp4", 10, 101), FileState("new.mp4", 1, 1)]
    assert [s.path for s in files_to_probe(old, found)] == ["bigger.mp4", "touched.mp4",
                                                           "new.mp4"]


def test_files_to_probe_reprobes_a_file_that_was_missing():
    old = index_of(entry("back.mp4", 10, 100, status=EntryStatus.MISSING))
    assert files_to_probe(old, [FileState("back.mp4", 10, 100)]) == [
        FileState("back.mp4", 10, 100)]


def test_files_to_probe_does_not_retry_an_unchanged_failure():
    old = index_of(entry("bad.mp4", 10, 100, status=EntryStatus.ERROR, error="x"))
    assert files_to_probe(old, [FileState("bad.mp4", 10, 100)]) == []


# ------------------------------------------------------------------------------ apply_scan


def test_apply_scan_first_scan():
    found = [FileState("a.mp4", 10, 1), FileState("b/c.mkv", 20, 2), FileState("bad.mp4", 3, 3)]
    probed = {"a.mp4": ok(1.5), "b/c.mkv": ok(2.0),
              "bad.mp4": ProbeOutcome(MediaFacts(truncated=True), "cannot open container")}
    index, summary = apply_scan(None, "/media", found, probed, now=NOW)
    assert index.root == "/media"
    assert index.scanned_at == NOW
    assert set(index.videos) == {video_id("a.mp4"), video_id("b/c.mkv"), video_id("bad.mp4")}
    a = index.videos[video_id("a.mp4")]
    assert (a.path, a.size, a.mtime_ns, a.status, a.error) == ("a.mp4", 10, 1, EntryStatus.OK, None)
    assert a.facts == ok(1.5).facts
    bad = index.videos[video_id("bad.mp4")]
    assert (bad.status, bad.error, bad.facts.truncated) == (
        EntryStatus.ERROR, "cannot open container", True)
    assert sorted(summary.new) == sorted(index.videos)
    assert summary.failed == [video_id("bad.mp4")]
    assert summary.changed == summary.unchanged == summary.missing == []
    assert summary.total_size == 33
    assert summary.total_duration == pytest.approx(3.5)


def test_apply_scan_rescan_keeps_unchanged_replaces_changed_flags_missing():
    old = index_of(entry("keep.mp4", 10, 1, facts=FACTS), entry("edit.mp4", 10, 1, facts=FACTS),
                   entry("gone.mp4", 10, 1, facts=FACTS),
                   settings={"port": 9000}, scanned_at=NOW - timedelta(days=1))
    found = [FileState("keep.mp4", 10, 1), FileState("edit.mp4", 12, 2),
             FileState("new.mp4", 5, 5)]
    probed = {"edit.mp4": ok(7.0), "new.mp4": ok(1.0)}
    index, summary = apply_scan(old, "/elsewhere", found, probed, now=NOW)
    by_path = index.by_path()
    assert by_path["keep.mp4"] == old.by_path()["keep.mp4"]  # facts kept, not re-probed
    assert by_path["edit.mp4"].facts == ok(7.0).facts
    assert (by_path["edit.mp4"].size, by_path["edit.mp4"].mtime_ns) == (12, 2)
    gone = by_path["gone.mp4"]
    assert gone.status == EntryStatus.MISSING and gone.facts == FACTS  # kept for the audit
    assert summary.unchanged == [video_id("keep.mp4")]
    assert summary.changed == [video_id("edit.mp4")]
    assert summary.new == [video_id("new.mp4")]
    assert summary.missing == [video_id("gone.mp4")]
    assert index.settings == {"port": 9000}  # the [server] table survives
    assert index.root == "/elsewhere"
    assert index.scanned_at == NOW
    # totals count present videos only
    assert summary.total_size == 10 + 12 + 5
    assert summary.total_duration == pytest.approx(FACTS.duration + 7.0 + 1.0)


def test_apply_scan_keeps_entries_under_a_folder_it_could_not_read():
    old = index_of(entry("locked/a.mp4", facts=FACTS), entry("locked/deeper/b.mp4"),
                   entry("lockedness/c.mp4"), entry("open/d.mp4"))
    index, summary = apply_scan(old, "/r", [FileState("open/d.mp4", 100, 5)], {},
                                now=NOW, unreadable_dirs=["locked"])
    by_path = index.by_path()
    # not seeing a file is no evidence it is gone: no "missing" flag for the audit to prune
    assert by_path["locked/a.mp4"] == old.by_path()["locked/a.mp4"]
    assert by_path["locked/deeper/b.mp4"].status == EntryStatus.OK
    assert by_path["lockedness/c.mp4"].status == EntryStatus.MISSING  # a sibling, not inside
    assert summary.missing == [video_id("lockedness/c.mp4")]
    assert sorted(summary.unchanged) == sorted(
        video_id(p) for p in ("locked/a.mp4", "locked/deeper/b.mp4", "open/d.mp4"))


def test_apply_scan_missing_stays_missing_and_returning_file_is_new():
    old = index_of(entry("gone.mp4", status=EntryStatus.MISSING), entry("back.mp4",
                                                                    status=EntryStatus.MISSING))
    index, summary = apply_scan(old, "/m", [FileState("back.mp4", 100, 5)],
                                {"back.mp4": ok()}, now=NOW)
    assert index.by_path()["gone.mp4"].status == EntryStatus.MISSING
    assert index.by_path()["back.mp4"].status == EntryStatus.OK
    assert summary.missing == [video_id("gone.mp4")]
    assert summary.new == [video_id("back.mp4")]


def test_apply_scan_requires_a_probe_result_for_a_new_file():
    with pytest.raises(ValueError, match=r"no probe result for new file 'a\.mp4'"):
        apply_scan(None, "/m", [FileState("a.mp4", 1, 1)], {})


def test_apply_scan_drops_microseconds_and_defaults_to_now():
    index, _ = apply_scan(None, "/m", [], {}, now=datetime(2024, 1, 1, 0, 0, 0, 123456,
                                                           tzinfo=UTC))
    assert index.scanned_at == datetime(2024, 1, 1, tzinfo=UTC)
    before = datetime.now(UTC).replace(microsecond=0)
    index, _ = apply_scan(None, "/m", [], {})
    assert index.scanned_at is not None and index.scanned_at >= before
    assert index.scanned_at.tzinfo is not None


def test_apply_scan_keeps_a_file_renamed_to_another_unicode_normalisation():
    # a library copied from macOS (NFD names) onto the disk indexed with NFC names
    nfc = unicodedata.normalize("NFC", "Café.mp4")
    nfd = unicodedata.normalize("NFD", nfc)
    old, _ = apply_scan(None, "/m", [FileState(nfc, 1, 1)], {nfc: ok()}, now=NOW)
    found = [FileState(nfd, 1, 1)]
    todo = files_to_probe(old, found)
    index, summary = apply_scan(old, "/m", found, {s.path: ok() for s in todo}, now=NOW)
    assert list(index.videos) == [video_id(nfc)]
    video = index.videos[video_id(nfc)]
    assert video.status == EntryStatus.OK  # the file is on disk: it must not be flagged missing
    assert video.path == nfd  # the name the disk has, so the server can open it
    assert summary.missing == []


def test_apply_scan_refuses_an_id_collision():
    nfc = unicodedata.normalize("NFC", "é.mp4")
    nfd = unicodedata.normalize("NFD", nfc)  # two distinct names on Linux, one id
    found = [FileState(nfc, 1, 1), FileState(nfd, 1, 1)]
    with pytest.raises(ValueError, match="id collision"):
        apply_scan(None, "/m", found, {nfc: ok(), nfd: ok()})


def test_summary_as_dict():
    summary = ScanSummary(new=["a", "b"], changed=["c"], unchanged=["d"], missing=["e"],
                          failed=["b"], total_duration=12.34567, total_size=99, elapsed=0.12345)
    assert summary.as_dict() == {
        "new": 2, "changed": 1, "unchanged": 1, "missing": 1, "failed": 1, "skipped": [],
        "ignored": 0, "failed_files": [], "unreadable_folders": [], "videos": 4,
        "total_duration_s": 12.346, "total_size_bytes": 99, "elapsed_s": 0.123,
    }


# ------------------------------------------------------------------------- looks_unmounted


def test_looks_unmounted():
    present = index_of(entry("a.mp4"))
    all_missing = index_of(entry("a.mp4", status=EntryStatus.MISSING))
    assert looks_unmounted(present, 0) is True
    assert looks_unmounted(present, 1) is False
    assert looks_unmounted(None, 0) is False  # first scan of an empty folder is fine
    assert looks_unmounted(index_of(), 0) is False
    assert looks_unmounted(all_missing, 0) is False  # nothing left to lose
    failed = index_of(entry("a.mp4", status=EntryStatus.ERROR, error="x"))
    assert looks_unmounted(failed, 0) is True


def test_entry_same_file_state():
    video = entry("a.mp4", 10, 20)
    assert video.same_file_state(10, 20)
    assert not video.same_file_state(11, 20)
    assert not video.same_file_state(10, 21)


def test_scanned_at_keeps_its_offset():
    when = datetime(2024, 5, 1, 12, 0, tzinfo=timezone(timedelta(hours=2)))
    loaded = loads(dumps(index_of(scanned_at=when)))
    assert loaded.scanned_at == when and loaded.scanned_at.utcoffset() == timedelta(hours=2)


def test_totals_count_present_videos_only():
    index = index_of(entry("a.mp4", 10, facts=FACTS), entry("b.mp4", 5),
                     entry("gone.mp4", 99, status=EntryStatus.MISSING, facts=FACTS))
    assert index.totals() == (2, pytest.approx(FACTS.duration), 15)
