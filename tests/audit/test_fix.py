"""The fix step called as a function (what a server or a script would do), and the deep
worker started through its public entry point."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mediaserve.adapters.audit.deep_pool import WORKER_MODULE, worker_command
from mediaserve.adapters.audit.fix import (
    IndexChanged,
    RemuxStatus,
    apply_fix,
    backup_path,
    fix_index,
)
from mediaserve.adapters.audit.run import run_audit
from mediaserve.adapters.library.locate import open_library
from mediaserve.adapters.library.store import load_index
from mediaserve.core.audit.plan import ChangeAction
from tests.audit.conftest import Sources, make_library

NAMES = ["good.mp4", "three-frames.mp4", "moov-at-end.mp4", "stale.mp4"]


def test_fix_index_returns_the_new_index_and_writes_nothing(audit_sources: Sources,
                                                            tmp_path: Path):
    lib = make_library(audit_sources, tmp_path / "lib", NAMES)
    before = lib.index_path.read_bytes()
    library = open_library(lib.root, None)
    assert library.index is not None
    run = run_audit(library)
    result = fix_index(library.root, library.index, run.report, remux=True, dry_run=True)
    assert [(c.action, c.path) for c in result.changes] == [
        (ChangeAction.UPDATE, "stale.mp4"), (ChangeAction.REMOVE, "three-frames.mp4")]
    assert sorted(e.path for e in result.index.videos.values()) == [
        "good.mp4", "moov-at-end.mp4", "stale.mp4"]
    assert [(r.path, r.output, r.status) for r in result.remux] == [
        ("moov-at-end.mp4", "moov-at-end.faststart.mp4", RemuxStatus.PLANNED)]
    assert result.backup is None and not result.remux_failed
    assert lib.index_path.read_bytes() == before  # nothing written, nothing remuxed
    assert not (lib.root / "moov-at-end.faststart.mp4").exists()
    assert len(library.index.videos) == len(NAMES)  # the input index is not modified


def test_apply_fix_writes_with_a_backup_and_refuses_a_changed_index(audit_sources: Sources,
                                                                   tmp_path: Path):
    lib = make_library(audit_sources, tmp_path / "lib", NAMES)
    original = lib.index_path.read_bytes()
    library = open_library(lib.root, None)
    report = run_audit(library).report
    result = apply_fix(library, original, report)
    assert result.backup == backup_path(lib.index_path)
    assert result.backup.read_bytes() == original
    assert {e.path for e in load_index(lib.index_path).videos.values()} == {
        "good.mp4", "moov-at-end.mp4", "stale.mp4"}
    with pytest.raises(IndexChanged):  # the index on disk is no longer `original`
        apply_fix(library, original, report)


def test_the_deep_worker_runs_as_a_module(audit_sources: Sources):
    command = worker_command(5.0, 1000)
    assert command[-4:-2] == ["-m", WORKER_MODULE] and command[0] == sys.executable
    good = str(audit_sources.folder / "good.mp4")
    done = subprocess.run(command, input=json.dumps(good) + "\n", capture_output=True,
                          text=True, timeout=120, check=True)
    ready, answer = done.stdout.splitlines()
    assert ready == "ready"
    facts = json.loads(answer)
    assert facts["opened"] and facts["video_packets"] == 30 and not facts["timed_out"]
