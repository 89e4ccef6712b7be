"""Schema versions: a store file of every older version opens and keeps its data, a newer
one is refused untouched, a failing migration leaves the file as it was.

Adding a version to ``schema.MIGRATIONS`` means adding the previous version's line to
``WRITE_AT`` (what a file of that version holds) and ``STILL_THERE`` (how to find it after
the upgrade): ``test_every_older_version_has_a_fixture`` fails until both exist.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from mediaserve.adapters.profiles.schema import (
    LATEST,
    MIGRATIONS,
    NewerStoreError,
    connect,
    migrate,
)
from mediaserve.adapters.profiles.store import StateStore
from mediaserve.core.profiles.progress import ProgressReport


def _nothing(conn: sqlite3.Connection) -> None:
    return None


def _nothing_lost(store: StateStore) -> None:
    assert store.profiles() == []


#: version -> what a file of that version holds, written with that version's schema
WRITE_AT: dict[int, Callable[[sqlite3.Connection], None]] = {0: _nothing}
#: version -> the check that the data written at that version survived the upgrade
STILL_THERE: dict[int, Callable[[StateStore], None]] = {0: _nothing_lost}


def at_version(path: Path, version: int) -> None:
    """A file whose schema is ``version``, made by the migrations up to it."""
    conn = sqlite3.connect(path, isolation_level=None)
    migrate(conn, MIGRATIONS[:version])
    WRITE_AT[version](conn)
    conn.close()


def test_every_older_version_has_a_fixture() -> None:
    assert set(WRITE_AT) == set(STILL_THERE) == set(range(LATEST))


@pytest.mark.parametrize("version", range(LATEST))
def test_every_older_version_opens_and_keeps_its_data(tmp_path: Path, version: int) -> None:
    path = tmp_path / "state.db"
    at_version(path, version)
    store = StateStore.open(path)
    assert store.conn.execute("PRAGMA user_version").fetchone()[0] == LATEST
    STILL_THERE[version](store)
    pid = store.create("After the upgrade").id  # and it works as a new file would
    store.report(pid, "0123456789ab", ProgressReport(5.0))
    assert store.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    store.close()


def test_a_newer_file_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    StateStore.open(path).close()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute(f"PRAGMA user_version = {LATEST + 1}")
    conn.close()
    before = path.read_bytes()
    with pytest.raises(NewerStoreError) as caught:
        StateStore.open(path)
    assert str(path) in str(caught.value) and "upgrade mediaserve" in str(caught.value)
    assert path.read_bytes() == before


def _populated(path: Path) -> str:
    store = StateStore.open(path)
    pid = store.create("Alice", pin="1234").id
    store.report(pid, "0123456789ab", ProgressReport(42.0, 100.0))
    store.close()
    return pid


def test_a_later_migration_keeps_the_data_of_the_version_before(tmp_path: Path) -> None:
    """The mechanism, with a version this mediaserve does not have yet."""
    path = tmp_path / "state.db"
    pid = _populated(path)
    later = (*MIGRATIONS, ("ALTER TABLE progress ADD COLUMN audio_track INTEGER",
                           "UPDATE progress SET audio_track = 1"))
    conn = connect(path, later)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == LATEST + 1
    assert conn.execute("SELECT profile, position, audio_track FROM progress").fetchall() == [
        (pid, 42.0, 1)]
    conn.close()


def test_a_failing_migration_leaves_the_file_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    pid = _populated(path)
    broken = (*MIGRATIONS, ("CREATE TABLE half_done (x)", "THIS IS NOT SQL"))
    with pytest.raises(Exception, match="syntax error"):
        connect(path, broken)
    store = StateStore.open(path)
    assert store.conn.execute("PRAGMA user_version").fetchone()[0] == LATEST
    assert store.conn.execute("SELECT name FROM sqlite_master WHERE name = 'half_done'"
                              ).fetchall() == []
    assert store.rows(pid)[0].position == 42.0
    store.close()
