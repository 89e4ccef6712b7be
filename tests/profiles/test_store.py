"""The state store on a real SQLite file: profiles, PIN tries, preferences, progress rows,
their bounds, and export/import."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
from pathlib import Path

import pytest

from mediaserve.adapters.profiles.schema import JOURNAL_SIZE_LIMIT, Conflict, NoSuchProfile
from mediaserve.adapters.profiles.store import KEEP, StateStore
from mediaserve.adapters.profiles.transfer import export_all, import_all
from mediaserve.core.profiles.pin import FREE_TRIES, wait_after
from mediaserve.core.profiles.progress import ProgressReport
from mediaserve.core.profiles.rules import MAX_PROFILES, Preferences, RuleError
from mediaserve.core.profiles.transfer import parse_document

VIDEO = "0123456789ab"


def test_a_new_store_is_private_and_in_wal_mode(store: StateStore, db_path: Path) -> None:
    assert stat.S_IMODE(os.stat(db_path).st_mode) == 0o600
    assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.conn.execute("PRAGMA busy_timeout").fetchone()[0] == 5000
    assert store.conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    store.create("Alice")
    for suffix in ("-wal", "-shm"):
        assert stat.S_IMODE(os.stat(f"{db_path}{suffix}").st_mode) == 0o600


def test_the_cookie_secret_is_made_once(store: StateStore, db_path: Path) -> None:
    again = StateStore.open(db_path)
    assert again.secret == store.secret and len(store.secret) == 32
    again.close()


def test_profiles_are_created_listed_changed_and_removed(store: StateStore) -> None:
    alice = store.create("Alice", pin="1234", now=1.0)
    bob = store.create(" Bob ", colour="#ABCDEF", now=2.0)
    assert [p.name for p in store.profiles()] == ["Alice", "Bob"]
    assert alice.pin_hash and "1234" not in alice.pin_hash and alice.colour != bob.colour
    assert bob.colour == "#abcdef" and bob.pin_hash is None
    with pytest.raises(Conflict):
        store.create("ALICE")
    with pytest.raises(RuleError):
        store.create("")
    renamed = store.update(bob.id, name="Robert", pin="0000")
    assert renamed.name == "Robert" and renamed.pin_hash
    assert store.update(bob.id, pin=None).pin_hash is None
    assert store.update(bob.id, colour="#000000", pin=KEEP).colour == "#000000"
    with pytest.raises(Conflict):
        store.update(bob.id, name="alice")
    assert store.find("robert") == store.profile(bob.id) == store.find(bob.id)
    assert store.delete(bob.id) and not store.delete(bob.id)
    with pytest.raises(NoSuchProfile):
        store.update(bob.id, colour="#111111")


def test_local_profiles_are_capped(store: StateStore) -> None:
    for n in range(MAX_PROFILES):
        store.create(f"P{n}")
    with pytest.raises(Conflict):
        store.create("One more")
    store.user_profile("carol")  # users are not local profiles
    assert len(store.profiles("user")) == 1


def test_a_user_profile_is_made_on_first_use_and_kept(store: StateStore) -> None:
    first = store.user_profile("alice")
    assert first.kind == "user" and first.name == "alice"
    assert store.user_profile("alice") == first
    assert store.user_profile("Alice") != first  # Basic user names are exact
    local = store.create("alice")  # a local profile may share the name
    assert local.id != first.id
    with pytest.raises(Conflict):
        store.update(first.id, name="x")


def test_wrong_pins_are_counted_and_then_refused(store: StateStore) -> None:
    pid = store.create("Alice", pin="1234").id
    t = 1000.0
    for _ in range(FREE_TRIES - 1):
        verdict = store.try_pin(pid, "0000", now=t)
        assert not verdict.ok and not verdict.locked and verdict.wait == 0
    verdict = store.try_pin(pid, "0000", now=t)  # the fifth: the waits start
    assert not verdict.ok and verdict.wait == wait_after(FREE_TRIES)
    locked = store.try_pin(pid, "1234", now=t + 1)  # even the right PIN waits
    assert not locked.ok and locked.locked and locked.wait == pytest.approx(29.0)
    assert store.try_pin(pid, "1234", now=t + 31).ok  # after the wait, it counts
    assert store.try_pin(pid, "0000", now=t + 32).wait == 0  # and the count restarted
    assert store.try_pin(pid, 1234, now=t + 33).ok is False  # not a string: just wrong
    assert store.try_pin(store.create("Bob").id, None).ok  # no PIN: nothing to check


def test_preferences_merge_in_one_transaction(store: StateStore) -> None:
    pid = store.create("Alice").id
    store.set_preferences(pid, {"quality": "720p"})
    merged = store.set_preferences(pid, {"subtitles": True})
    assert merged == Preferences(quality="720p", subtitles=True)
    assert store.profile(pid).preferences == merged
    with pytest.raises(RuleError):
        store.set_preferences(pid, {"quality": "8k"})
    with pytest.raises(NoSuchProfile):
        store.set_preferences("0" * 16, {})


def test_reports_become_one_row_per_video(store: StateStore) -> None:
    pid = store.create("Alice").id
    row = store.report(pid, VIDEO, ProgressReport(30.0), known_duration=600.0, now=5.0)
    assert (row.position, row.duration, row.watched, row.updated) == (30.0, 600.0, False, 5.0)
    row = store.report(pid, VIDEO, ProgressReport(700.0), now=6.0)  # clamped, row's duration
    assert row.position == 600.0 and row.watched
    row = store.report(pid, VIDEO, ProgressReport(10.0, 600.0), now=7.0)  # a scene again
    assert row.watched and row.position == 10.0
    assert store.rows(pid) == [row] and store.last_played(pid) == row
    unmarked = store.mark(pid, VIDEO, False, now=8.0)
    assert not unmarked.watched and unmarked.position == 0.0
    marked = store.mark(pid, "ba9876543210", True, now=9.0)
    assert marked.watched and marked.position == 0.0 and marked.duration is None
    assert [r.video for r in store.rows(pid)] == ["ba9876543210", VIDEO]
    assert [r.video for r in store.rows(pid, [VIDEO, "ffffffffffff"])] == [VIDEO]
    with pytest.raises(NoSuchProfile):
        store.report("f" * 16, VIDEO, ProgressReport(1.0))


def test_rows_go_with_their_profile(store: StateStore) -> None:
    pid = store.create("Alice").id
    store.report(pid, VIDEO, ProgressReport(30.0))
    store.delete(pid)
    assert store.conn.execute("SELECT COUNT(*) FROM progress").fetchone()[0] == 0


def test_a_profile_keeps_at_most_max_rows_the_least_recent_go(store: StateStore) -> None:
    pid = store.create("Alice").id
    other = store.create("Bob").id
    store.report(other, VIDEO, ProgressReport(1.0), now=0.0)
    store.max_rows = 50
    for n in range(80):
        store.report(pid, f"{n:012x}", ProgressReport(10.0), now=100.0 + n)
    kept = {row.video for row in store.rows(pid)}
    assert kept == {f"{n:012x}" for n in range(30, 80)}
    assert store.rows(other)  # another profile's rows are not its to trim


def test_a_flood_of_reports_does_not_grow_the_file(store: StateStore, db_path: Path) -> None:
    pid = store.create("Alice").id
    for n in range(500):
        store.report(pid, VIDEO, ProgressReport(float(n)))
    pages = store.conn.execute("PRAGMA page_count").fetchone()[0]
    for n in range(5000):
        store.report(pid, VIDEO, ProgressReport(float(n)))
    assert store.conn.execute("PRAGMA page_count").fetchone()[0] == pages
    wal = os.stat(f"{db_path}-wal").st_size
    # checkpointed every 1,000 pages and cut back to the limit: a few MiB at most
    assert wal <= JOURNAL_SIZE_LIMIT + 1001 * (4096 + 24), wal


def test_export_and_import_round_trip(store: StateStore, tmp_path: Path) -> None:
    alice = store.create("Alice", pin="1234", now=1.0)
    store.set_preferences(alice.id, {"quality": "480p", "bandwidth_limit": 500_000})
    store.report(alice.id, VIDEO, ProgressReport(30.0, 600.0), now=2.0)
    store.mark(alice.id, "ba9876543210", True, now=3.0)
    store.user_profile("carol", now=4.0)
    doc = json.loads(json.dumps(export_all(store, now=9.0)))
    other = StateStore.open(tmp_path / "other.db")
    assert import_all(other, parse_document(doc)) == (2, 2)
    again = export_all(other, now=9.0)
    assert again == doc
    assert other.try_pin(alice.id, "1234").ok  # the PIN travelled as its hash
    other.close()


def test_an_import_is_all_or_nothing(store: StateStore) -> None:
    alice = store.create("Alice")
    store.report(alice.id, VIDEO, ProgressReport(30.0))
    doc = export_all(store)
    clash = json.loads(json.dumps(doc))
    clash["profiles"].append({**clash["profiles"][0], "id": "1" * 16, "name": "Bob"})
    store.create("Bob")  # the file's second Bob clashes with this one, by name
    before = export_all(store, now=0.0)
    with pytest.raises(Conflict):
        import_all(store, parse_document(clash))
    assert export_all(store, now=0.0) == before
    # --replace: the file's profiles are the store's afterwards
    assert import_all(store, parse_document(clash), replace=True) == (2, 2)
    assert sorted(p.name for p in store.profiles()) == ["Alice", "Bob"]


def test_an_import_refuses_too_many_local_profiles(store: StateStore) -> None:
    extra = store.create("Extra")
    doc = export_all(store)
    store.delete(extra.id)
    for n in range(MAX_PROFILES):
        store.create(f"P{n}")
    doc["profiles"] = [p for p in doc["profiles"] if p["id"] == extra.id]
    with pytest.raises(Conflict):
        import_all(store, parse_document(doc))
    assert store.profile(extra.id) is None


def test_a_file_that_is_not_a_database_is_a_clear_error(tmp_path: Path) -> None:
    from mediaserve.adapters.profiles.schema import StoreError

    path = tmp_path / "state.db"
    path.write_bytes(b"not sqlite at all" * 100)
    with pytest.raises(StoreError) as caught:
        StateStore.open(path)
    assert str(path) in str(caught.value) and "not a database" in str(caught.value)
    folder = tmp_path / "locked"
    folder.mkdir(mode=0o500)
    if os.geteuid() != 0:
        with pytest.raises(StoreError):
            StateStore.open(folder / "state.db")


def test_integrity_after_everything(store: StateStore) -> None:
    pid = store.create("Alice").id
    for n in range(100):
        store.report(pid, f"{n:012x}", ProgressReport(float(n)))
    assert store.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert store.conn.execute("PRAGMA foreign_key_check").fetchall() == []
    with pytest.raises(sqlite3.IntegrityError):  # the schema itself refuses nonsense
        store.conn.execute("INSERT INTO progress VALUES ('x', 'y', 1, 1, 2, 1)")
