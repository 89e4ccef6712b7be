"""``mediaserve scan`` end to end: a real ``python -m mediaserve`` process, its exit code,
its stdout, and the one line it prints on stderr for every user mistake."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest

from mediaserve.adapters.library.store import INDEX_NAME, load_index
from mediaserve.core.library.status import EntryStatus
from tests.conftest import Corpus, without_dac_override

EXIT_OK, EXIT_IO, EXIT_USAGE, EXIT_REFUSED = 0, 1, 2, 3


@pytest.fixture
def run(tmp_path: Path):
    """Run ``python -m mediaserve ARGS`` with its data folder in tmp_path."""
    env = {**os.environ, "MEDIASERVE_DATA_DIR": str(tmp_path / "data"), "COLUMNS": "200",
           "NO_COLOR": "1"}

    def run(*args: str | Path, unprivileged: bool = False) -> subprocess.CompletedProcess[str]:
        cmd: list[str] | None = [sys.executable, "-m", "mediaserve", *map(str, args)]
        if unprivileged:
            cmd = without_dac_override(cmd)
            if cmd is None:
                pytest.skip("root without setpriv: permissions cannot be enforced")
        return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120,
                              cwd=tmp_path)

    return run


def assert_one_line_error(done: subprocess.CompletedProcess[str], code: int,
                          *fragments: str) -> str:
    assert done.returncode == code, (done.returncode, done.stderr)
    assert "Traceback" not in done.stderr
    assert done.stderr.endswith("\n") and done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith("mediaserve: error: ")
    for fragment in fragments:
        assert fragment in done.stderr
    assert done.stdout == ""
    return done.stderr


def scan_json(run, *args: str | Path) -> dict:
    done = run("scan", "--json", *args)
    assert done.returncode == EXIT_OK, done.stderr
    assert done.stderr == ""  # no progress bar when stderr is not a terminal
    return json.loads(done.stdout)


# ----------------------------------------------------------------------------- success


def test_scan_json_summary_and_index(corpus: Corpus, library: Path, tmp_path: Path, run):
    outside = tmp_path / "outside"
    corpus.copy_to(outside, [corpus.require("three_frames.mp4").name])
    (library / "escape.mp4").symlink_to(outside / "three_frames.mp4")
    (library / ".thumbnails").mkdir()
    (library / ".thumbnails" / "t.mp4").write_bytes(b"hidden")

    summary = scan_json(run, library)
    indexed = corpus.indexed()
    failed = [f for f in indexed if not f.playable]
    assert summary["index"] == str(library / INDEX_NAME)
    assert summary["root"] == str(library.resolve())
    assert (summary["new"], summary["changed"], summary["unchanged"], summary["missing"]) == (
        len(indexed), 0, 0, 0)
    assert summary["failed"] == len(failed)
    assert summary["videos"] == len(indexed)
    assert summary["total_size_bytes"] == sum((library / f.name).stat().st_size
                                              for f in indexed)
    assert summary["total_duration_s"] == pytest.approx(
        sum(f.expected["duration"] for f in indexed if f.playable), rel=0.05)
    index = load_index(library / INDEX_NAME)
    assert sorted(v.path for v in index.videos.values()) == sorted(f.name for f in indexed)

    again = scan_json(run, library)
    assert (again["new"], again["unchanged"], again["failed"]) == (0, len(indexed),
                                                                  len(failed))


def test_scan_prints_a_table(corpus: Corpus, library: Path, run):
    done = run("scan", library)
    assert done.returncode == EXIT_OK, done.stderr
    assert done.stderr == ""
    assert "Scan summary" in done.stdout
    lines = done.stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if "Unchanged" in line)
    assert cells(lines[header]) == ["New", "Changed", "Unchanged", "Missing", "Failed"]
    failed = sum(1 for f in corpus.indexed() if not f.playable)
    assert cells(lines[header + 2]) == [str(len(corpus.indexed())), "0", "0", "0", str(failed)]


def cells(line: str) -> list[str]:
    """The first five cells of a rich table row (either kind of vertical bar)."""
    return [c.strip() for c in re.split("[│┃]", line)[1:6]]


def test_scan_with_an_explicit_index_and_the_process_executor(corpus: Corpus, library: Path,
                                                              tmp_path: Path, run):
    index_path = tmp_path / "indexes" / "new" / "films.toml"
    summary = scan_json(run, library, "--index", index_path, "--executor", "process",
                        "--workers", "2")
    assert summary["index"] == str(index_path)
    assert summary["new"] == len(corpus.indexed())
    assert not (library / INDEX_NAME).exists()
    assert len(load_index(index_path).videos) == len(corpus.indexed())


def test_vanished_file_is_reported_missing(corpus: Corpus, library: Path, run):
    scan_json(run, library)
    name = corpus.require("h264_aac.mkv").name
    (library / name).unlink()
    summary = scan_json(run, library)
    assert summary["missing"] == 1 and summary["videos"] == len(corpus.indexed()) - 1
    entry = load_index(library / INDEX_NAME).by_path()[name]
    assert entry.status == EntryStatus.MISSING


# ------------------------------------------------------------------------- refusals


def test_unmounted_root_is_refused_and_the_index_left_untouched(library: Path, tmp_path: Path,
                                                                 run):
    index_path = tmp_path / "films.toml"
    scan_json(run, library, "--index", index_path)
    before = index_path.read_bytes()
    mountpoint = tmp_path / "mnt"
    mountpoint.mkdir()
    done = run("scan", mountpoint, "--index", index_path)
    assert_one_line_error(done, EXIT_REFUSED, "is the drive mounted", "--allow-empty",
                          f"index left untouched: {index_path}")
    assert index_path.read_bytes() == before

    summary = scan_json(run, mountpoint, "--index", index_path, "--allow-empty")
    assert summary["missing"] == len(load_index(index_path).videos) and summary["videos"] == 0


def test_two_names_with_one_id_are_refused(corpus: Corpus, tmp_path: Path, run):
    # Linux keeps "é" composed (NFC) and decomposed (NFD) as two files; both map to one id
    root = tmp_path / "lib"
    clip = corpus.path(corpus.require("three_frames.mp4").name).read_bytes()
    root.mkdir()
    for form in ("NFC", "NFD"):
        (root / unicodedata.normalize(form, "é.mp4")).write_bytes(clip)
    assert_one_line_error(run("scan", root), EXIT_REFUSED, "id collision", "rename one")
    assert not (root / INDEX_NAME).exists()


# ------------------------------------------------------------------ user mistakes: exit 2


def test_missing_folder(run, tmp_path: Path):
    assert_one_line_error(run("scan", tmp_path / "nope"), EXIT_USAGE,
                          f"library folder not found: {tmp_path / 'nope'}")


def test_not_a_folder(run, tmp_path: Path):
    file = tmp_path / "film.mp4"
    file.write_bytes(b"x")
    assert_one_line_error(run("scan", file), EXIT_USAGE, f"not a folder: {file}")


def test_unreadable_folder(run, tmp_path: Path):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o000)
    try:
        assert_one_line_error(run("scan", locked, unprivileged=True), EXIT_USAGE,
                              "library folder not readable")
    finally:
        locked.chmod(0o755)


def test_an_unreadable_subfolder_keeps_its_entries(corpus: Corpus, library: Path, run):
    """A folder scan cannot list is no evidence its files are gone: they must not be
    flagged missing (the audit would then prune them)."""
    locked = library / "locked"
    locked.mkdir()
    clip = next(library.glob("*.mp4"))
    os.link(clip, locked / "inside.mp4")
    assert run("scan", library).returncode == 0
    locked.chmod(0o000)
    try:
        done = run("scan", library, "--json", unprivileged=True)
    finally:
        locked.chmod(0o755)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["missing"] == 0 and summary["unreadable_folders"] == ["locked"]
    assert "cannot read the folder locked/" in done.stderr
    entry = load_index(library / INDEX_NAME).by_path()["locked/inside.mp4"]
    assert entry.status != EntryStatus.MISSING


def test_folder_whose_path_is_not_utf8(run, tmp_path: Path):
    """The index is UTF-8 TOML and records the root: a folder named by an old system
    (latin-1 bytes) is refused in one line instead of a traceback after the probing."""
    folder = os.fsencode(tmp_path) + b"/caf\xe9"
    os.mkdir(folder)
    with open(folder + b"/clip.mp4", "wb") as handle:
        handle.write(b"x" * 100)
    done = run("scan", os.fsdecode(folder))
    assert_one_line_error(done, EXIT_USAGE, "not valid UTF-8", "caf\\xe9")
    assert os.listdir(folder) == [b"clip.mp4"]


@pytest.mark.parametrize("args,fragment", [
    (("--workers", "99"), "Invalid value for '--workers'"),
    (("--workers", "many"), "Invalid value for '--workers'"),
    (("--executor", "fork"), "Invalid value for '--executor'"),
    (("--bogus",), "No such option '--bogus'"),
])
def test_bad_option(run, library: Path, args, fragment: str):
    assert_one_line_error(run("scan", *args, library), EXIT_USAGE, fragment)
    assert not (library / INDEX_NAME).exists()


def test_missing_argument(run):
    assert_one_line_error(run("scan"), EXIT_USAGE, "Missing argument 'FOLDER'")


def test_index_option_pointing_at_a_folder(run, library: Path, tmp_path: Path):
    assert_one_line_error(run("scan", library, "--index", tmp_path), EXIT_USAGE,
                          "Invalid value for '--index'")


def test_corrupt_index_names_its_line_and_is_not_overwritten(run, library: Path):
    path = library / INDEX_NAME
    text = ('schema_version = 1\nroot = "/old"\n\n[videos.0123456789ab]\npath = "a.mp4"\n'
            'size = 10\nmtime_ns = "yesterday"\n')
    path.write_text(text)
    assert_one_line_error(run("scan", library), EXIT_USAGE,
                          f"{path}:7:1: video 0123456789ab: 'mtime_ns' must be an integer")
    assert path.read_text() == text


def test_index_that_is_not_text(run, library: Path):
    path = library / INDEX_NAME
    path.write_bytes(b"schema_version = 1\n\xff\xfe\x00binary")
    assert_one_line_error(run("scan", library), EXIT_USAGE, f"{path}:2:1: not UTF-8")
    assert path.read_bytes().startswith(b"schema_version = 1\n\xff")


# ------------------------------------------------------------------------- I/O: exit 1


def test_index_path_that_cannot_be_written(run, library: Path, tmp_path: Path):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    assert_one_line_error(run("scan", library, "--index", blocker / "index.toml"), EXIT_IO,
                          str(blocker))


def test_help_exits_zero(run):
    done = run("scan", "--help")
    assert done.returncode == EXIT_OK and "--allow-empty" in done.stdout


def test_names_that_are_not_utf8_are_skipped_with_a_warning(corpus: Corpus, library: Path,
                                                             run):
    good = next(library.glob("*.mp4"))
    bad = os.fsencode(library) + b"/caf\xe9 latin-1.mp4"  # a name written by an old system
    os.link(good, bad)
    done = run("scan", library, "--json")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["skipped"] == ["caf\\xe9 latin-1.mp4"]
    assert "skipped caf\\xe9 latin-1.mp4: its name is not valid UTF-8" in done.stderr
    assert "Traceback" not in done.stderr
    index_text = (library / ".mediaserve-index.toml").read_text(encoding="utf-8")
    assert "latin-1" not in index_text
