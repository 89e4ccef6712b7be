"""``scan`` prints file names with control characters as escapes, never raw or as markup."""

from __future__ import annotations

import json
import os
from pathlib import Path

from click.testing import CliRunner

from mediaserve.cli import cli
from tests.terminal import EVIL, SHOWN, assert_terminal_safe, run_main


def test_scan_shows_a_hostile_file_name_as_escapes(tmp_path: Path) -> None:
    folder = tmp_path / "lib"
    folder.mkdir()
    (folder / f"{EVIL}.mp4").write_bytes(os.urandom(4000))  # fails to probe: listed
    env = {"MEDIASERVE_DATA_DIR": str(tmp_path / "data"), "COLUMNS": "400"}
    result = CliRunner().invoke(cli, ["scan", str(folder)], env=env)
    assert result.exit_code == 0, result.output
    assert_terminal_safe(result.stdout + result.stderr, f"{SHOWN}.mp4")
    assert "Failed (1)" in result.stdout

    as_json = CliRunner().invoke(cli, ["scan", str(folder), "--json", "--rebuild"], env=env)
    assert as_json.exit_code == 0
    assert_terminal_safe(as_json.stdout, "\\u001b[31m[bold red]x[blink]\\r\\n:smile:\\u202e")
    failed = json.loads(as_json.stdout)["failed_files"]
    assert [entry["path"] for entry in failed] == [f"{EVIL}.mp4"]  # exact once parsed


def test_scan_shows_a_hostile_folder_name_in_its_titles_and_messages(tmp_path: Path) -> None:
    folder = tmp_path / EVIL
    folder.mkdir()
    (folder / "clip.mp4").write_bytes(os.urandom(4000))
    result = CliRunner().invoke(cli, ["scan", str(folder)],
                                env={"MEDIASERVE_DATA_DIR": str(tmp_path / "data")})
    assert result.exit_code == 0, result.output
    assert_terminal_safe(result.output, "")  # the title holds it (wrapped to the table)
    (folder / ".mediaserve-index.toml").write_text("x = [\n")  # a corrupt index: an error
    code, _out, err = run_main("scan", str(folder),
                               env={"MEDIASERVE_DATA_DIR": str(tmp_path / "data")})
    assert code == 2
    assert_terminal_safe(err, SHOWN)
    assert err.count("\n") == 1 and err.startswith("mediaserve: error: ")
