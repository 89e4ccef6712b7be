"""``mediaserve profiles``: through click's runner, and once as a real process."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from mediaserve.adapters.profiles import schema
from mediaserve.adapters.profiles.store import StateStore
from mediaserve.cli import cli
from mediaserve.cli.common import ExitStatus
from mediaserve.core.profiles.progress import ProgressReport


def run(db: Path, *args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(cli, ["profiles", *args, "--state-db", str(db)], input=stdin,
                              catch_exceptions=False)


def listed(db: Path) -> list[dict[str, Any]]:
    result = run(db, "list", "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_list_of_a_missing_store_creates_nothing(db_path: Path) -> None:
    assert listed(db_path) == []
    result = run(db_path, "list")
    assert result.exit_code == 0 and "No profiles" in result.stdout
    assert not db_path.exists()


def test_add_list_and_remove(db_path: Path) -> None:
    assert run(db_path, "add", "Alice").exit_code == 0
    result = run(db_path, "add", "Bob", "--pin-stdin", "--colour", "#112233", stdin="2468\n")
    assert result.exit_code == 0 and "added profile Bob" in result.stderr
    for args, stdin in ((("add", "ALICE"), None), (("add", "Carol", "--colour", "red"), None),
                        (("add", ""), None), (("add", "Dan", "--pin-stdin"), "12\n")):
        result = run(db_path, *args, stdin=stdin)
        assert result.exit_code == ExitStatus.USAGE, args
        assert result.stderr.startswith("mediaserve: error: ") and "Traceback" not in \
            result.stderr
    store = StateStore.open(db_path)
    alice = store.find("alice")
    store.report(alice.id, "0123456789ab", ProgressReport(60.0, 600.0), now=1_700_000_000.0)
    store.report(alice.id, "ba9876543210", ProgressReport(599.0, 600.0))
    store.close()
    rows = {row["name"]: row for row in listed(db_path)}
    assert rows["Alice"]["in_progress"] == 1 and rows["Alice"]["watched"] == 1
    assert rows["Bob"]["has_pin"] and rows["Bob"]["colour"] == "#112233"
    assert rows["Bob"]["last_played"] is None
    table = run(db_path, "list").stdout
    assert "Alice" in table and "Bob" in table and "never" in table
    assert run(db_path, "remove", "Bob").exit_code == ExitStatus.USAGE  # no --yes, no tty
    assert run(db_path, "remove", "Nobody", "--yes").exit_code == ExitStatus.USAGE
    assert run(db_path, "remove", alice.id, "--yes").exit_code == 0
    assert [row["name"] for row in listed(db_path)] == ["Bob"]


def test_a_forgotten_pin_is_reset(db_path: Path) -> None:
    run(db_path, "add", "Kid", "--pin-stdin", stdin="1111\n")
    assert run(db_path, "pin", "Kid", "--pin-stdin", stdin="2222\n").exit_code == 0
    store = StateStore.open(db_path)
    pid = store.find("Kid").id
    assert store.try_pin(pid, "2222").ok and not store.try_pin(pid, "1111").ok
    store.close()
    assert run(db_path, "pin", "Kid", "--remove").exit_code == 0
    assert listed(db_path)[0]["has_pin"] is False


def test_export_and_import_round_trip(db_path: Path, tmp_path: Path) -> None:
    run(db_path, "add", "Alice", "--pin-stdin", stdin="1234\n")
    store = StateStore.open(db_path)
    store.report(store.find("Alice").id, "0123456789ab", ProgressReport(42.0, 100.0))
    store.set_preferences(store.find("Alice").id, {"quality": "720p"})
    store.close()
    backup = tmp_path / "backup.json"
    assert run(db_path, "export", str(backup)).exit_code == 0
    assert stat.S_IMODE(os.stat(backup).st_mode) == 0o600
    printed = run(db_path, "export").stdout
    assert json.loads(printed)["profiles"] == json.loads(backup.read_text())["profiles"]
    other = tmp_path / "other.db"
    result = run(other, "import", str(backup))
    assert result.exit_code == 0 and "1 profiles and 1 progress rows" in result.stderr
    assert run(other, "export").stdout.split('"profiles"')[1] == printed.split('"profiles"')[1]
    assert run(other, "import", "-", stdin=backup.read_text()).exit_code == 0  # idempotent


def test_a_bad_import_changes_nothing(db_path: Path, tmp_path: Path) -> None:
    run(db_path, "add", "Alice")
    before = run(db_path, "export").stdout
    document = json.loads(before)
    document["profiles"].append({**document["profiles"][0], "id": "1" * 16, "name": "B",
                                 "progress": [{"video": "nope", "position": 1,
                                               "watched": False, "updated": 1}]})
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(document))
    result = run(db_path, "import", str(bad))
    assert result.exit_code == ExitStatus.USAGE
    assert "profiles[1].progress[0].video" in result.stderr
    for text in ("{", "[]", "\xff"):
        assert run(db_path, "import", "-", stdin=text).exit_code == ExitStatus.USAGE
    clash = json.loads(before)
    clash["profiles"][0]["id"] = "2" * 16  # another profile named Alice
    bad.write_text(json.dumps(clash))
    result = run(db_path, "import", str(bad))
    assert result.exit_code == ExitStatus.USAGE and "--replace" in result.stderr
    assert run(db_path, "export").stdout.split('"profiles"')[1] == before.split('"profiles"')[1]
    assert run(db_path, "import", str(bad), "--replace").exit_code == 0
    assert [row["id"] for row in listed(db_path)] == ["2" * 16]


def test_a_newer_or_busy_store_is_refused(db_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    run(db_path, "add", "Alice")
    monkeypatch.setattr(schema, "BUSY_TIMEOUT_S", 0.2)
    holder = sqlite3.connect(db_path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # a server in the middle of a long write
    result = run(db_path, "add", "Bob")
    assert result.exit_code == ExitStatus.REFUSED and "locked" in result.stderr
    holder.execute("ROLLBACK")
    holder.execute(f"PRAGMA user_version = {schema.LATEST + 1}")
    holder.close()
    result = run(db_path, "list")
    assert result.exit_code == ExitStatus.REFUSED and "upgrade mediaserve" in result.stderr


def test_as_a_real_process(db_path: Path) -> None:
    env = {**os.environ, "MEDIASERVE_STATE_DB": str(db_path)}
    add = subprocess.run([sys.executable, "-m", "mediaserve", "profiles", "add", "Zoë"],
                         capture_output=True, text=True, env=env, timeout=60, check=False)
    assert add.returncode == 0, add.stderr
    done = subprocess.run([sys.executable, "-m", "mediaserve", "profiles", "list", "--json"],
                          capture_output=True, text=True, env=env, timeout=60, check=False)
    assert done.returncode == 0 and json.loads(done.stdout)[0]["name"] == "Zoë"
