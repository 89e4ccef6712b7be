"""``audit`` prints file names with control characters as escapes, never raw or as markup."""

from __future__ import annotations

import json
import os
from pathlib import Path

from tests.terminal import EVIL, SHOWN, assert_terminal_safe, run_main


def test_audit_shows_a_hostile_file_name_as_escapes(tmp_path: Path) -> None:
    folder = tmp_path / "lib"
    folder.mkdir()
    (folder / f"{EVIL}.mp4").write_bytes(os.urandom(4000))  # not media: an error finding
    env = {"MEDIASERVE_DATA_DIR": str(tmp_path / "data"), "COLUMNS": "400"}
    assert run_main("scan", str(folder), "--json", env=env)[0] == 0

    code, out, err = run_main("audit", str(folder), "--dry-run", env=env)
    assert code == 1, err
    assert_terminal_safe(out + err, f"│ {SHOWN}.mp4", f"  - {SHOWN}.mp4  (not-media")
    assert "Would remove from the index (1)" in out

    code, out, _err = run_main("audit", str(folder), "--dry-run", "--json", env=env)
    assert_terminal_safe(out, "\\u001b[31m[bold red]x[blink]\\r\\n:smile:\\u202e")
    assert json.loads(out)["entries"][0]["path"] == f"{EVIL}.mp4"  # exact once parsed

    code, out, err = run_main("audit", str(folder), env=env)  # prunes it
    assert code == 1 and "Removed from the index (1)" in out
    assert_terminal_safe(out + err, f"  - {SHOWN}.mp4  (not-media")
    code, out, err = run_main("audit", str(folder), "--unignore-all", env=env)
    assert code == 0, err
    assert_terminal_safe(out + err, f"  - {SHOWN}.mp4")


def test_audit_shows_a_hostile_folder_name_as_escapes(tmp_path: Path) -> None:
    folder = tmp_path / EVIL
    folder.mkdir()
    (folder / "clip.mp4").write_bytes(os.urandom(4000))
    env = {"MEDIASERVE_DATA_DIR": str(tmp_path / "data"), "COLUMNS": "400"}
    assert run_main("scan", str(folder), "--json", env=env)[0] == 0
    code, out, err = run_main("audit", str(folder), "--dry-run", env=env)
    assert code == 1
    assert_terminal_safe(out + err, f"Audit of {tmp_path}/{SHOWN}  (index {tmp_path}/{SHOWN}/")
    code, _out, err = run_main("audit", "--unignore", "nothing.mp4", str(folder), env=env)
    assert code == 2
    assert_terminal_safe(err, "")
