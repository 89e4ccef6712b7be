"""The pure side of the library's life: ignored files, stored ids, content hashes, and the
watcher's incremental updates (moves keep ids)."""

from __future__ import annotations

import pytest

from mediaserve.core.library.changes import (
    ChangeLog,
    apply_move,
    apply_probe,
    find_move,
    mark_gone,
    needs_probe,
)
from mediaserve.core.library.ids import video_id
from mediaserve.core.library.index import (
    FileState,
    IndexFormatError,
    LibraryIndex,
    MediaFacts,
    ProbeOutcome,
    VideoEntry,
    apply_scan,
    dumps,
    files_to_probe,
    loads,
)
from mediaserve.core.library.status import EntryStatus

FACTS = MediaFacts(container="mp4", duration=2.0, video_codec="h264", frames=50)


def entry(path: str, size: int = 100, mtime_ns: int = 5, **kw: object) -> VideoEntry:
    return VideoEntry(id=str(kw.pop("id", video_id(path))), path=path, size=size,
                      mtime_ns=mtime_ns, facts=FACTS, **kw)  # type: ignore[arg-type]


def index_of(*entries: VideoEntry) -> LibraryIndex:
    return LibraryIndex(root="/m", videos={e.id: e for e in entries})


def test_ignore_round_trips_and_unignore() -> None:
    index = index_of(entry("a.mp4"), entry("b.mp4", content_hash="ab" * 16))
    index.ignore(index.by_path()["a.mp4"], "too-few-frames: 2", size=7, mtime_ns=9)
    assert set(index.by_path()) == {"b.mp4"}
    loaded = loads(dumps(index))
    assert loaded.ignored == index.ignored
    assert loaded.ignored["a.mp4"].reason == "too-few-frames: 2"
    assert loaded.by_path()["b.mp4"].content_hash == "ab" * 16
    assert loaded.unignore("a.mp4") and not loaded.unignore("a.mp4")
    loaded.ignore(loaded.by_path()["b.mp4"], "x")
    assert set(loaded.ignored) == {"b.mp4"} and loaded.unignore("b.mp4") and not loaded.ignored


@pytest.mark.parametrize("bad", ['ignored = 3', '[[ignored]]\npath = "/abs"\nsize = 1\n'
                                 'mtime_ns = 1\nreason = "r"',
                                 '[[ignored]]\npath = "a"\nsize = "1"\nmtime_ns = 1\n'
                                 'reason = "r"'])
def test_bad_ignored_tables_are_refused(bad: str) -> None:
    with pytest.raises(IndexFormatError):
        loads('schema_version = 1\nroot = "/m"\n' + bad + "\n")


def test_scan_skips_ignored_until_the_file_changes() -> None:
    old = index_of(entry("keep.mp4"))
    old.ignore(entry("pruned.mp4"), "empty", size=10, mtime_ns=20)
    same = [FileState("keep.mp4", 100, 5), FileState("pruned.mp4", 10, 20)]
    assert files_to_probe(old, same) == []
    index, summary = apply_scan(old, "/m", same, {})
    assert summary.ignored == ["pruned.mp4"] and set(index.ignored) == {"pruned.mp4"}
    assert set(index.by_path()) == {"keep.mp4"}

    changed = [FileState("keep.mp4", 100, 5), FileState("pruned.mp4", 10, 21)]
    assert files_to_probe(old, changed) == [changed[1]]
    index, summary = apply_scan(old, "/m", changed,
                                {"pruned.mp4": ProbeOutcome(FACTS, content_hash="h")})
    assert summary.new == [video_id("pruned.mp4")] and not index.ignored
    assert index.by_path()["pruned.mp4"].content_hash == "h"

    index, _ = apply_scan(old, "/m", same[:1], {})  # the ignored file is gone: forgotten
    assert not index.ignored


def test_scan_keeps_stored_ids_and_names_failures() -> None:
    moved_in = entry("a.mp4", id="0123456789ab")  # an id not derived from this path
    index, summary = apply_scan(index_of(moved_in), "/m",
                                [FileState("a.mp4", 100, 6), FileState("bad.mp4", 1, 1)],
                                {"a.mp4": ProbeOutcome(FACTS),
                                 "bad.mp4": ProbeOutcome(MediaFacts(), error="boom")})
    assert index.by_path()["a.mp4"].id == "0123456789ab"
    assert summary.failed_files == [("bad.mp4", "boom")]
    assert summary.as_dict()["failed_files"] == [{"path": "bad.mp4", "error": "boom"}]


def test_a_move_keeps_the_id_by_hash_or_by_mtime() -> None:
    hashed = entry("old/a.mp4", 100, 5, content_hash="h1")
    legacy = entry("b.mp4", 200, 7)
    index = index_of(hashed, legacy)
    log = ChangeLog()
    mark_gone(index, ["old"], log)
    assert log.missing == ["old/a.mp4"]
    mark_gone(index, ["b.mp4"], log)
    assert index.videos[hashed.id].status == EntryStatus.MISSING

    new_a = FileState("new/a.mp4", 100, 999)  # copied: another mtime, same content
    assert find_move(index, new_a, "other") is None
    found = find_move(index, new_a, "h1")
    assert found is not None and found.id == hashed.id
    apply_move(index, found, new_a, "h1", log)
    assert index.videos[hashed.id].path == "new/a.mp4"
    assert index.videos[hashed.id].status == EntryStatus.OK
    assert log.moved == [("old/a.mp4", "new/a.mp4")] and log.missing == ["b.mp4"]

    assert find_move(index, FileState("c.mp4", 200, 8), "x") is None  # no hash: mtime too
    renamed = find_move(index, FileState("c.mp4", 200, 7), "x")
    assert renamed is not None and renamed.id == legacy.id


def test_probe_arrivals_new_changed_and_ignored() -> None:
    index = index_of(entry("a.mp4"))
    index.ignore(entry("z.mp4"), "empty", size=0, mtime_ns=1)
    assert not needs_probe(index, FileState("a.mp4", 100, 5))
    assert not needs_probe(index, FileState("z.mp4", 0, 1))
    assert needs_probe(index, FileState("z.mp4", 50, 2))
    log = ChangeLog()
    apply_probe(index, FileState("a.mp4", 101, 6), ProbeOutcome(FACTS), log)
    apply_probe(index, FileState("z.mp4", 50, 2), ProbeOutcome(FACTS), log)
    assert log.updated == ["a.mp4"] and log.added == ["z.mp4"] and not index.ignored
    assert index.by_path()["a.mp4"].id == video_id("a.mp4")
    assert log.lines() == ["added z.mp4", "updated a.mp4"]


def test_among_identical_copies_the_same_name_keeps_its_id() -> None:
    a = entry("x/a.mp4", content_hash="same")
    b = entry("x/b.mp4", content_hash="same")
    index = index_of(a, b)
    mark_gone(index, ["x"], ChangeLog())
    found = find_move(index, FileState("y/b.mp4", 100, 9), "same")
    assert found is not None and found.id == b.id
