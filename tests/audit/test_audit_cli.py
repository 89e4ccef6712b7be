"""``mediaserve audit`` end to end (in-process through ``main``, the real entry point):
dry run changes nothing, a fix prunes exactly the errors and keeps a backup, exit codes."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from mediaserve.adapters.audit.fix import IndexChanged, backup_path, write_fixed_index
from mediaserve.adapters.library.store import INDEX_NAME, load_index, save_index
from mediaserve.adapters.media.clips import ClipSpec, encode_clip
from mediaserve.adapters.media.prober import probe
from mediaserve.cli import main
from mediaserve.core.audit.duplicates import MAX_NAMED
from mediaserve.core.audit.rules import RULES
from mediaserve.core.library.ids import video_id
from mediaserve.core.library.index import LibraryIndex, VideoEntry
from tests.audit.conftest import ERROR_CODES, AuditLib, Sources, make_library

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.setenv("COLUMNS", "250")
    monkeypatch.setenv("MEDIASERVE_DATA_DIR", str(tmp_path / "data"))

    def run(*args: str | Path) -> tuple[int, str, str]:
        with pytest.raises(SystemExit) as exc:
            main(["audit", *map(str, args)])
        out, err = capsys.readouterr()
        return exc.value.code or 0, out, err

    return run


def error_paths(lib: AuditLib) -> set[str]:
    return {n for n, codes in lib.expected().items() if set(codes) & ERROR_CODES}


def test_dry_run_changes_nothing(audit_lib: AuditLib, cli):
    index_before = audit_lib.index_path.read_bytes()
    media_before = audit_lib.media_state()
    code, out, err = cli(audit_lib.root, "--dry-run", "--remux-faststart")
    assert code == 1 and err == ""
    assert audit_lib.index_path.read_bytes() == index_before
    assert audit_lib.media_state() == media_before
    assert not backup_path(audit_lib.index_path).exists()
    invalid = len(error_paths(audit_lib))
    total = len(audit_lib.names)
    assert f"Total: {total} | Valid: {total - invalid} | Invalid: {invalid}" in out
    assert "Would remove from the index" in out and "Dry run: nothing was changed" in out
    assert "Would remux to faststart: moov-at-end.mp4 → moov-at-end.faststart.mp4" in out
    for name in error_paths(audit_lib):
        assert re.search(rf"- {re.escape(name)}\s", out), name


def test_fix_prunes_exactly_the_errors_and_keeps_a_backup(audit_lib: AuditLib, cli):
    index_before = audit_lib.index_path.read_bytes()
    media_before = audit_lib.media_state()
    code, out, _ = cli(audit_lib.root, "--json")
    report = json.loads(out)
    assert code == 1 and report["exit_code"] == 1 and not report["dry_run"]
    removed = {c["path"] for c in report["changes"] if c["action"] == "remove"}
    updated = {c["path"] for c in report["changes"] if c["action"] == "update"}
    assert removed == error_paths(audit_lib)
    assert updated == {"stale.mp4"}
    # the index lost exactly those entries; the stale one now has the file's new mtime
    after = load_index(audit_lib.index_path)
    assert {e.path for e in after.videos.values()} == set(audit_lib.names) - removed
    stale = next(e for e in after.videos.values() if e.path == "stale.mp4")
    assert stale.mtime_ns == (audit_lib.root / "stale.mp4").stat().st_mtime_ns
    # the previous index is kept beside it, byte for byte
    backup = backup_path(audit_lib.index_path)
    assert report["backup"] == str(backup)
    assert backup.name == INDEX_NAME + ".bak" and backup.read_bytes() == index_before
    # no media file was deleted, moved or modified
    assert audit_lib.media_state() == media_before
    # a second audit finds only the warnings, exits 0, and changes nothing
    code, out, _ = cli(audit_lib.root)
    assert code == 0
    assert "Invalid: 0" in out and "Nothing to change in the index." in out
    code, _, _ = cli(audit_lib.root, "--fail-on", "warning")
    assert code == 1


def test_fix_refuses_when_the_index_changed_meanwhile(audit_lib: AuditLib):
    original = audit_lib.index_path.read_bytes()
    audit_lib.index_path.write_bytes(original + b"\n# edited by hand meanwhile\n")
    edited = audit_lib.index_path.read_bytes()
    with pytest.raises(IndexChanged):
        write_fixed_index(audit_lib.index_path, original, audit_lib.index)
    assert audit_lib.index_path.read_bytes() == edited
    assert not backup_path(audit_lib.index_path).exists()


def test_json_report(audit_lib: AuditLib, cli):
    code, out, _ = cli(audit_lib.root, "--dry-run", "--json", "--fail-on", "never")
    data = json.loads(out)
    assert code == 0 and data["exit_code"] == 0
    assert data["summary"]["total"] == len(audit_lib.names)
    got = {e["path"]: tuple(f["code"] for f in e["findings"]) for e in data["entries"]}
    assert got == {k: v for k, v in audit_lib.expected().items() if v}
    finding = data["entries"][0]["findings"][0]
    assert set(finding) == {"code", "severity", "message", "fix"}


def copies_library(root: Path, copies: int) -> Path:
    """``copies`` byte-identical copies of one tiny clip, indexed directly (one probe)."""
    clip = encode_clip(root / "_src", ClipSpec("clip.mp4", frames=12))
    facts = probe(clip).facts
    videos = {}
    for i in range(copies):
        rel = f"copies/copy{i:03d}.mp4"
        (root / "copies").mkdir(exist_ok=True)
        shutil.copyfile(clip, root / rel)
        st = (root / rel).stat()
        videos[video_id(rel)] = VideoEntry(video_id(rel), rel, st.st_size, st.st_mtime_ns,
                                           facts=facts)
    shutil.rmtree(root / "_src")
    save_index(root / INDEX_NAME, LibraryIndex(root=str(root), videos=videos))
    return root


def test_duplicates_are_reported_linearly(tmp_path: Path, cli):
    """Issue 13: 3,009 copies of one clip gave a 9-million-line report, every copy naming
    every other. Now each copy names at most a few others, so both reports grow linearly:
    N copies give N findings and O(N) mentions of copies, and --json lists the group once."""
    n = 300
    root = copies_library(tmp_path / "lib", n)
    code, out, _ = cli(root, "--dry-run", "--json", "--fail-on", "never")
    data = json.loads(out)
    assert code == 0 and data["summary"]["by_code"] == {"duplicate": n}
    findings = [f for e in data["entries"] for f in e["findings"]]
    assert len(findings) == n
    named = sum(f["message"].count("copies/copy") for f in findings)
    assert named <= (MAX_NAMED + 1) * n  # was n * (n - 1): 89,700
    [group] = data["duplicate_groups"]
    assert group["count"] == n and len(set(group["paths"])) == n
    assert group["paths"] == sorted(group["paths"])
    first = group["paths"][0]
    assert all(first in f["message"] for f in findings[1:])  # each copy names the first

    code, text, _ = cli(root, "--dry-run", "--fail-on", "never")
    assert code == 0
    assert text.count("copies/copy") <= (MAX_NAMED + 2) * n
    assert len(text.splitlines()) <= 4 * n  # a row or two per copy, whatever N is


def test_exit_codes_follow_fail_on(audit_sources: Sources, tmp_path: Path, cli):
    clean = make_library(audit_sources, tmp_path / "clean", ["good.mp4", "good.webm"])
    assert cli(clean.root, "--dry-run")[0] == 0
    assert "No problems found." in cli(clean.root, "--dry-run")[1]
    warn = make_library(audit_sources, tmp_path / "warn", ["good.mp4", "moov-at-end.mp4"])
    assert cli(warn.root, "--dry-run")[0] == 0
    assert cli(warn.root, "--dry-run", "--fail-on", "warning")[0] == 1
    bad = make_library(audit_sources, tmp_path / "bad", ["good.mp4", "three-frames.mp4"])
    assert cli(bad.root, "--dry-run", "--fail-on", "never")[0] == 0
    assert cli(bad.root, "--dry-run")[0] == 1
    assert cli(bad.root, "--dry-run", "--min-frames", "3")[0] == 0


def test_index_only_invocation(audit_sources: Sources, tmp_path: Path, cli):
    lib = make_library(audit_sources, tmp_path / "lib", ["good.mp4", "three-frames.mp4"])
    code, out, _ = cli("--index", lib.index_path, "--dry-run", "--json")
    assert code == 1 and json.loads(out)["root"] == str(lib.root)


@pytest.mark.parametrize(("args", "fragment"), [
    (["--in-place"], "--in-place only applies to --remux-faststart"),
    (["--fail-on", "sometimes"], "sometimes"),
    (["--min-frames", "-1"], "-1"),
])
def test_usage_errors_exit_2(audit_lib: AuditLib, cli, args, fragment):
    code, out, err = cli(audit_lib.root, *args)
    assert code == 2 and out == "" and fragment in err
    assert err.startswith("mediaserve: error: ") and err.count("\n") == 1


def test_index_errors_exit_2(tmp_path: Path, cli):
    (tmp_path / "never-scanned").mkdir()
    code, _, err = cli(tmp_path / "never-scanned")
    assert code == 2 and "run `mediaserve scan" in err
    assert cli()[0] == 2
    assert cli(tmp_path / "nope")[0] == 2
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / INDEX_NAME).write_text("schema_version = 1\nroot = 3\n")
    code, _, err = cli(broken)
    assert code == 2 and f"{INDEX_NAME}:2:1" in err


def test_man_page_documents_every_rule_and_exit_code():
    man = (REPO / "man" / "mediaserve-audit.1").read_text()
    for rule in RULES:
        assert rule.code.replace("-", r"\-") in man, rule.code
    for option in ("--dry-run", "--min-frames", "--deep", "--deep-timeout", "--json",
                   "--fail-on", "--remux-faststart", "--in-place", "--index", "--workers"):
        assert option.replace("-", r"\-") in man, option
    assert ".SH EXIT STATUS" in man


def test_docs_list_the_rules_as_the_table_declares_them():
    """The rule table is the one source: README and man page list the same rules, with the
    same severities, in the same order."""
    readme = (REPO / "README.md").read_text()
    rows = re.findall(r"^\| `([a-z-]+)` \| (error|warning) \|", readme, re.MULTILINE)
    assert rows == [(r.code, str(r.severity)) for r in RULES]
    man = (REPO / "man" / "mediaserve-audit.1").read_text()
    table = man[man.index(".SH RULES"):man.index(".TE", man.index(".SH RULES"))]
    man_rows = re.findall(r"^([a-z\\-]+)\t(error|warning)\t", table, re.MULTILINE)
    assert [(code.replace("\\-", "-"), sev) for code, sev in man_rows] == rows
