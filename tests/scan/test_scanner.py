"""The walk, the incremental scan and the index file on disk, on real generated media."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import threading
import unicodedata
from pathlib import Path

import pytest

from mediaserve.adapters.library.scanner import LibraryUnavailable, scan, walk
from mediaserve.adapters.library.store import (
    INDEX_NAME,
    _data_dir_index,
    default_index_path,
    load_index,
    load_index_if_exists,
    save_index,
    write_atomic,
)
from mediaserve.adapters.media import prober
from mediaserve.core.library.ids import video_id
from mediaserve.core.library.index import (
    FileState,
    IndexFormatError,
    LibraryIndex,
    MediaFacts,
    ProbeOutcome,
    apply_scan,
    dumps,
)
from mediaserve.core.library.status import EntryStatus
from tests.conftest import DURATION_TOLERANCE, Corpus, unprivileged_python


def key(index: LibraryIndex, path: str) -> str:
    """The id a scan gives ``path``: keyed with the index's own secret."""
    return video_id(path, secret=index.id_secret)


class CountingProbe:
    """The real prober, counting calls (thread safe): how we see what a rescan re-probes."""

    def __init__(self) -> None:
        self.paths: list[str] = []
        self._lock = threading.Lock()

    def __call__(self, path: str) -> ProbeOutcome:
        with self._lock:
            self.paths.append(os.path.basename(path))
        return prober.probe(path)

    def reset(self) -> list[str]:
        seen, self.paths = sorted(self.paths), []
        return seen


def rel_paths(root: Path) -> list[str]:
    return [state.path for state in walk(root)]


# ------------------------------------------------------------------------------------ walk


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A library with every kind of entry the walk must keep or skip."""
    root = tmp_path / "lib"
    outside = tmp_path / "lib2"  # shares a prefix with the root: must still count as outside
    for rel in ("a.mp4", "UPPER.MP4", "Sub/b.mkv", "Sub/deeper/c.webm", ".hidden/x.mp4",
                ".dot.mp4", "Sub/.cache/y.mp4", "notes.txt", "cover.jpg", "folder.mp4/z.mkv"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(b"data of " + rel.encode())
    outside.mkdir()
    (outside / "secret.mp4").write_bytes(b"outside the library")
    (root / "link_in.mp4").symlink_to(root / "Sub" / "b.mkv")
    (root / "rel_link_in.mp4").symlink_to(Path("Sub") / "b.mkv")
    (root / "link_out.mp4").symlink_to(outside / "secret.mp4")
    (root / "rel_link_out.mp4").symlink_to(Path("..") / "lib2" / "secret.mp4")
    (root / "link_to_etc.mp4").symlink_to("/etc/passwd")
    (root / "dirlink").symlink_to(outside, target_is_directory=True)
    (root / "dangling.mp4").symlink_to(root / "nowhere.mp4")
    os.mkfifo(root / "pipe.mp4")  # opening it would block the scan
    return root


def test_walk_keeps_videos_and_skips_the_rest(tree: Path):
    assert sorted(rel_paths(tree)) == sorted([
        "a.mp4", "UPPER.MP4", "Sub/b.mkv", "Sub/deeper/c.webm", "folder.mp4/z.mkv",
        "link_in.mp4", "rel_link_in.mp4",
    ])


def test_walk_records_size_and_mtime(tree: Path):
    for state in walk(tree):
        st = os.stat(tree / state.path)
        assert (state.size, state.mtime_ns) == (st.st_size, st.st_mtime_ns)


def test_walk_is_sorted_and_relative_to_the_real_root(tree: Path, tmp_path: Path):
    alias = tmp_path / "alias"
    alias.symlink_to(tree, target_is_directory=True)
    assert rel_paths(alias) == rel_paths(tree) == rel_paths(Path(str(tree) + "/"))
    assert rel_paths(tree) == list(dict.fromkeys(rel_paths(tree)))  # no duplicates
    top = [p for p in rel_paths(tree) if "/" not in p]
    assert top == sorted(top)


def test_walk_of_an_empty_or_missing_root(tmp_path: Path):
    assert rel_paths(tmp_path) == []
    assert rel_paths(tmp_path / "missing") == []


# ------------------------------------------------------------------------------------ scan


def test_first_scan_indexes_every_video_with_its_facts(corpus: Corpus, library: Path):
    index, summary = scan(library, None, workers=4)
    assert index.root == str(library.resolve())
    expected = {key(index, f.name): f for f in corpus.indexed()}
    assert set(index.videos) == set(expected)
    for vid, video in index.videos.items():
        item = expected[vid]
        assert video.path == item.name
        assert video.size == (library / item.name).stat().st_size
        assert video.mtime_ns == (library / item.name).stat().st_mtime_ns
        if item.playable:
            assert (video.status, video.error) == (EntryStatus.OK, None), item.name
            assert video.facts.duration == pytest.approx(item.expected["duration"],
                                                         rel=DURATION_TOLERANCE)
            for field in ("container", "video_codec", "audio_codec", "width", "height",
                          "frames", "faststart", "truncated"):
                assert getattr(video.facts, field) == item.expected[field], (item.name, field)
        else:
            assert video.status == EntryStatus.ERROR and item.probe_error in video.error
    failed = {f.name for f in corpus.indexed() if not f.playable}
    assert sorted(summary.failed) == sorted(key(index, n) for n in failed)
    assert sorted(summary.new) == sorted(expected)
    assert summary.total_size == sum((library / f.name).stat().st_size
                                     for f in corpus.indexed())
    assert summary.elapsed > 0


def test_rescan_probes_only_what_changed(corpus: Corpus, library: Path):
    counting = CountingProbe()
    names = sorted(f.name for f in corpus.indexed())
    index, _ = scan(library, None, workers=2, probe=counting)
    assert counting.reset() == names

    index, summary = scan(library, index, workers=2, probe=counting)
    assert counting.reset() == []
    assert len(summary.unchanged) == len(names) and not summary.new + summary.changed

    clip = corpus.require("h264_aac_faststart.mp4").name
    st = (library / clip).stat()
    os.utime(library / clip, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    empty = library / "empty.mp4"
    empty.write_bytes(b"not empty any more")  # size changes
    new = library / "Sub" / "new.mkv"
    new.parent.mkdir()
    new.write_bytes((library / corpus.require("h264_aac.mkv").name).read_bytes())
    index, summary = scan(library, index, workers=2, probe=counting)
    assert counting.reset() == sorted([clip, "empty.mp4", "new.mkv"])
    assert sorted(summary.changed) == sorted([key(index, clip), key(index, "empty.mp4")])
    assert summary.new == [key(index, "Sub/new.mkv")]
    assert index.videos[key(index, "Sub/new.mkv")].facts.video_codec == "h264"
    assert index.videos[key(index, "empty.mp4")].error != "empty file"


def test_vanished_file_is_flagged_missing_and_keeps_its_facts(corpus: Corpus, library: Path):
    name = corpus.require("vp9_opus.webm").name
    index, _ = scan(library, None)
    before = index.videos[key(index, name)]
    (library / name).unlink()
    counting = CountingProbe()
    index, summary = scan(library, index, probe=counting)
    assert counting.reset() == []
    gone = index.videos[key(index, name)]
    assert gone.status == EntryStatus.MISSING
    assert (gone.path, gone.facts, gone.size) == (before.path, before.facts, before.size)
    assert summary.missing == [key(index, name)]
    assert summary.as_dict()["videos"] == len(corpus.indexed()) - 1
    # still there, still missing, on the next scan; back to ok (re-probed) when it returns
    index, summary = scan(library, index, probe=counting)
    assert index.videos[key(index, name)].status == EntryStatus.MISSING
    assert summary.missing == [key(index, name)]
    (library / name).write_bytes(corpus.path(name).read_bytes())
    index, summary = scan(library, index, probe=counting)
    assert counting.reset() == [name]
    assert index.videos[key(index, name)].status == EntryStatus.OK
    assert summary.new == [key(index, name)] and summary.missing == []


def test_unmounted_root_is_refused(corpus: Corpus, library: Path, tmp_path: Path):
    index, _ = scan(library, None)
    mountpoint = tmp_path / "mnt"
    mountpoint.mkdir()
    (mountpoint / "lost+found").mkdir()
    (mountpoint / "readme.txt").write_text("not a video")
    with pytest.raises(LibraryUnavailable, match=r"no video files.*--allow-empty"):
        scan(mountpoint, index)
    flagged, summary = scan(mountpoint, index, allow_empty=True)
    assert {v.status for v in flagged.videos.values()} == {EntryStatus.MISSING}
    assert len(summary.missing) == len(index.videos)
    # an empty folder scanned for the first time is not an error
    fresh, summary = scan(mountpoint, None)
    assert fresh.videos == {} and summary.as_dict()["videos"] == 0


def test_ids_are_stable_across_scans_and_a_moved_root(corpus: Corpus, library: Path,
                                                      tmp_path: Path):
    first, _ = scan(library, None)
    second, _ = scan(library, first)
    assert second.videos == first.videos
    moved = tmp_path / "elsewhere" / "renamed library"
    moved.parent.mkdir()
    library.rename(moved)
    counting = CountingProbe()
    third, summary = scan(moved, second, probe=counting)
    assert counting.reset() == []  # a rename keeps size and mtime: nothing to probe
    assert third.root == str(moved.resolve())
    assert {v: e.path for v, e in third.videos.items()} == {
        v: e.path for v, e in first.videos.items()}
    assert summary.missing == []


def test_ids_are_stable_across_nfc_and_nfd_names(corpus: Corpus, tmp_path: Path):
    source = corpus.path(corpus.require("three_frames.mp4").name)
    nfc = unicodedata.normalize("NFC", "Été à Noël.mp4")
    nfd = unicodedata.normalize("NFD", nfc)
    root = tmp_path / "lib"
    root.mkdir()
    (root / nfc).write_bytes(source.read_bytes())
    index, _ = scan(root, None)
    assert list(index.videos) == [key(index, nfc)]
    # the same library copied from a Mac: the name is now NFD on disk
    os.rename(root / nfc, root / nfd)
    index, summary = scan(root, index)
    assert list(index.videos) == [key(index, nfc)]
    video = index.videos[key(index, nfc)]
    assert video.status == EntryStatus.OK and video.path == nfd
    assert summary.missing == []


def test_symlink_out_of_the_root_is_not_indexed(corpus: Corpus, tmp_path: Path):
    root = tmp_path / "lib"
    outside = tmp_path / "private"
    corpus.copy_to(root, [corpus.require("three_frames.mp4").name])
    corpus.copy_to(outside, [corpus.require("h264_aac.mkv").name])
    (root / "escape.mkv").symlink_to(outside / "h264_aac.mkv")
    (root / "private").symlink_to(outside, target_is_directory=True)
    (root / ".hidden").mkdir()
    (root / ".hidden" / "h.mkv").write_bytes((outside / "h264_aac.mkv").read_bytes())
    index, _ = scan(root, None)
    assert [v.path for v in index.videos.values()] == ["three_frames.mp4"]


def test_thread_and_process_executors_agree(library: Path):
    serial, _ = scan(library, None, workers=1)
    threads, _ = scan(library, None, workers=4, executor="thread")
    processes, _ = scan(library, None, workers=2, executor="process")
    by_path = [{e.path: dataclasses.replace(e, id="") for e in index.videos.values()}
               for index in (serial, threads, processes)]  # ids: each scan drew a secret
    assert by_path[0] == by_path[1] == by_path[2]


def test_progress_is_reported(corpus: Corpus, library: Path):
    calls: list[tuple[int, int]] = []
    index, _ = scan(library, None, workers=3, on_progress=lambda d, t: calls.append((d, t)))
    total = len(corpus.indexed())
    assert calls[0] == (0, total) and calls[-1] == (total, total)
    assert [d for d, _ in calls] == list(range(total + 1))
    calls.clear()
    scan(library, index, on_progress=lambda d, t: calls.append((d, t)))
    assert calls == [(0, 0)]


# ----------------------------------------------------------------------------- index store


def sample_index(root: str = "/media") -> LibraryIndex:
    outcome = ProbeOutcome(MediaFacts(container="mp4", duration=2.0))
    index, _ = apply_scan(None, root, [FileState("a.mp4", 10, 1)], {"a.mp4": outcome})
    return index


def test_save_and_load_round_trip(tmp_path: Path):
    path = tmp_path / "deep" / "er" / INDEX_NAME
    index = sample_index()
    save_index(path, index)
    assert path.read_text(encoding="utf-8") == dumps(index)
    assert load_index(path) == index
    assert load_index_if_exists(tmp_path / "absent.toml") is None
    assert [p.name for p in path.parent.iterdir()] == [INDEX_NAME]  # no temp file left


def test_a_file_dated_before_1970_round_trips(tmp_path: Path):
    """Camera clocks reset to zero and old archives give files negative mtimes; a scan must
    not write an index that it (and serve, and audit) then refuses to read."""
    root = tmp_path / "lib"
    root.mkdir()
    clip = root / "old.mp4"
    clip.write_bytes(b"not really a video")
    os.utime(clip, ns=(-86_400_000_000_123, -86_400_000_000_123))
    index, _ = scan(root, None, workers=1)
    path = root / INDEX_NAME
    save_index(path, index)
    again = load_index(path)
    assert again == index
    assert [e.mtime_ns for e in again.videos.values()] == [-86_400_000_000_123]
    _, summary = scan(root, again, workers=1)
    assert summary.unchanged == list(again.videos) and not summary.changed


def test_save_keeps_the_file_mode(tmp_path: Path):
    path = tmp_path / INDEX_NAME
    save_index(path, sample_index())
    path.chmod(0o640)
    save_index(path, sample_index("/other"))
    assert path.stat().st_mode & 0o777 == 0o640
    assert load_index(path).root == "/other"


def test_failing_write_leaves_the_old_index_intact(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch):
    path = tmp_path / INDEX_NAME
    save_index(path, sample_index())
    before = path.read_bytes()

    def disk_full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(OSError, match="No space left"):
        save_index(path, sample_index("/new"))
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == [INDEX_NAME]


def test_write_past_the_file_size_limit_leaves_the_old_index_intact(tmp_path: Path):
    # a real failing write: RLIMIT_FSIZE makes write() fail with EFBIG part-way through
    path = tmp_path / INDEX_NAME
    write_atomic(path, b"old index\n")
    script = (
        "import resource, signal, sys\n"
        "from pathlib import Path\n"
        "from mediaserve.adapters.library.store import write_atomic\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))\n"
        "try:\n"
        "    write_atomic(Path(sys.argv[1]), b'x' * 100_000)\n"
        "except OSError as exc:\n"
        "    print(exc.errno)\n"
        "    sys.exit(9)\n"
    )
    done = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 9, done.stderr
    assert path.read_bytes() == b"old index\n"
    assert [p.name for p in tmp_path.iterdir()] == [INDEX_NAME]


def test_corrupt_index_names_file_line_and_column(tmp_path: Path):
    path = tmp_path / INDEX_NAME
    text = dumps(sample_index()).replace("size = 10", "size = ten")
    path.write_text(text)
    line = text.splitlines().index("size = ten") + 1
    with pytest.raises(IndexFormatError) as info:
        load_index(path)
    assert (info.value.source, info.value.line, info.value.column) == (str(path), line, 8)
    assert str(info.value).startswith(f"{path}:{line}:8: invalid TOML")


def test_index_that_is_not_utf8_is_a_format_error(tmp_path: Path):
    path = tmp_path / INDEX_NAME
    path.write_bytes(b'schema_version = 1\nroot = "/m\xe9dia"\n')
    with pytest.raises(IndexFormatError) as info:
        load_index(path)
    assert (info.value.line, info.value.column) == (2, 11)
    assert "UTF-8" in info.value.message


def test_default_index_path(tmp_path: Path, data_dir: Path):
    root = tmp_path / "lib"
    root.mkdir()
    assert default_index_path(root) == root / INDEX_NAME  # writable: beside the library
    save_index(root / INDEX_NAME, sample_index())
    assert default_index_path(root) == root / INDEX_NAME


def test_default_index_path_prefers_an_existing_one_in_the_data_dir(tmp_path: Path,
                                                                    data_dir: Path):
    root = tmp_path / "Films & Séries"
    root.mkdir()
    (data_dir / "libraries").mkdir(parents=True)
    path = default_index_path(root)  # the beside path, as the folder is writable
    assert path == root / INDEX_NAME
    fallback = _data_dir_index(root)
    assert fallback.parent == data_dir / "libraries"
    assert fallback.name.startswith("Films___S") and fallback.suffix == ".toml"
    save_index(fallback, sample_index())
    assert default_index_path(root) == fallback


def test_default_index_path_of_a_read_only_folder(tmp_path: Path, data_dir: Path):
    """Run in a child where permissions apply even to root (it inherits data_dir's
    MEDIASERVE_DATA_DIR): as root in this process the folder would look writable."""
    root = tmp_path / "ro"
    root.mkdir()
    root.chmod(0o555)
    try:
        chosen = unprivileged_python(
            "import json, sys\n"
            "from pathlib import Path\n"
            "from mediaserve.adapters.library.store import default_index_path\n"
            "print(json.dumps(str(default_index_path(Path(sys.argv[1])))))\n", root)
    finally:
        root.chmod(0o755)
    assert Path(chosen).parent == data_dir / "libraries"
