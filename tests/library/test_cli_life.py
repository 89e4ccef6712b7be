"""The commands agree and say what happened: scan names failed files and counts what the
audit would flag; pruned files stay pruned until touched or unignored; the index keeps the
user's umask and mode; output to a pipe is not cut at 80 columns."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from mediaserve.adapters.library.store import load_index
from tests.library.conftest import mediaserve

INDEX = ".mediaserve-index.toml"
LONG = "a folder with a rather long name for a pipe" + "/" + "x" * 60 + " junk.mp4"


@pytest.fixture
def lib(tmp_path: Path, clips: dict[str, bytes]) -> Path:
    root = tmp_path / "lib"
    (root / LONG).parent.mkdir(parents=True)
    for name in ("a.mp4", "short.mp4"):
        (root / name).write_bytes(clips[name])
    (root / LONG).write_bytes(b"not a video at all" * 50)
    return root


def test_scan_names_failures_and_agrees_with_audit(lib: Path) -> None:
    scan = mediaserve("scan", str(lib), "--json")
    assert scan.returncode == 0, scan.stderr
    data = json.loads(scan.stdout)
    assert data["failed"] == 1
    assert [f["path"] for f in data["failed_files"]] == [LONG]
    assert "cannot open" in data["failed_files"][0]["error"]
    assert data["audit"] == {"invalid": 2, "with_warnings": 0}
    audit = json.loads(mediaserve("audit", str(lib), "--dry-run", "--json").stdout)
    assert audit["summary"]["invalid"] == data["audit"]["invalid"]

    table = mediaserve("scan", str(lib), env={"COLUMNS": ""})  # a pipe, no COLUMNS
    assert any(LONG in line for line in table.stdout.splitlines()), table.stdout
    assert "would report 2 invalid entries" in table.stdout


def test_pruned_files_stay_pruned_until_touched_or_unignored(lib: Path) -> None:
    assert mediaserve("scan", str(lib)).returncode == 0
    assert mediaserve("audit", str(lib)).returncode == 1
    index = load_index(lib / INDEX)
    assert {e.path for e in index.videos.values()} == {"a.mp4"}
    assert set(index.ignored) == {"short.mp4", LONG}
    assert index.ignored["short.mp4"].reason.startswith("too-few-frames")

    again = json.loads(mediaserve("scan", str(lib), "--json").stdout)
    assert again["new"] == 0 and again["ignored"] == 2
    table = mediaserve("scan", str(lib))
    assert "Skipped 2 file(s) the audit pruned" in table.stdout

    os.utime(lib / "short.mp4", ns=(1, 1_000_000_000))  # the file changed: welcome back
    touched = json.loads(mediaserve("scan", str(lib), "--json").stdout)
    assert touched["new"] == 1 and touched["ignored"] == 1

    unknown = mediaserve("audit", str(lib), "--unignore", "nope.mp4")
    assert unknown.returncode == 2 and "not ignored: nope.mp4" in unknown.stderr
    back = mediaserve("audit", str(lib), "--unignore", str(lib / LONG))  # a path works too
    assert back.returncode == 0, back.stderr
    assert LONG in back.stdout and f"mediaserve scan {lib}" in back.stdout
    assert not load_index(lib / INDEX).ignored
    final = json.loads(mediaserve("scan", str(lib), "--json").stdout)
    assert final["new"] == 1 and final["ignored"] == 0


def test_unignore_all(lib: Path) -> None:
    assert mediaserve("scan", str(lib)).returncode == 0
    assert mediaserve("audit", str(lib)).returncode == 1
    everything = mediaserve("audit", str(lib), "--unignore-all", "--json")
    assert json.loads(everything.stdout)["unignored"] == sorted([LONG, "short.mp4"])
    assert not load_index(lib / INDEX).ignored


def test_index_mode_follows_the_umask_and_survives_rewrites(lib: Path) -> None:
    code = ("import os, sys; os.umask(0o002); "
            "from mediaserve.cli import main; main(['scan', sys.argv[1]])")
    subprocess.run([sys.executable, "-c", code, str(lib)], check=True, capture_output=True)
    index_path = lib / INDEX
    assert stat.S_IMODE(index_path.stat().st_mode) == 0o664
    index_path.chmod(0o640)
    (lib / "a.mp4").touch()
    assert mediaserve("scan", str(lib)).returncode == 0
    assert stat.S_IMODE(index_path.stat().st_mode) == 0o640
