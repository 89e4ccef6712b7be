"""The state store: profiles, their preferences and PIN tries, the cookie secret.

Synchronous, one connection, one thread: the server runs it in its own thread
(``worker.py``), ``mediaserve profiles`` directly. Every write is one short ``BEGIN
IMMEDIATE`` transaction (``schema.write_transaction``), so several processes can share the
file. Progress rows are in ``progress.py``, a mixin over the same connection.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from mediaserve.adapters.data_dir import data_dir
from mediaserve.adapters.profiles.progress import ProgressRows
from mediaserve.adapters.profiles.schema import (
    BusyStoreError,
    Conflict,
    NoSuchProfile,
    connect,
    write_transaction,
)
from mediaserve.core.profiles import pin as pins
from mediaserve.core.profiles.cookie import PROFILE_ID_RE
from mediaserve.core.profiles.rules import (
    MAX_PROFILES,
    Preferences,
    apply_preferences,
    check_colour,
    check_name,
    check_user_name,
    pick_colour,
    profile_key,
    stored_preferences,
)
from mediaserve.core.profiles.transfer import ProfileRecord

STATE_FILE = "state.db"
_COLUMNS = "id, kind, name, colour, pin_hash, created, preferences"
_SECRET_KEY = "cookie_secret"


#: ``update(..., pin=KEEP)`` leaves the PIN as it is; None removes it
KEEP = object()


@dataclass(frozen=True, slots=True)
class PinVerdict:
    """The outcome of a PIN try: right, wrong, or not even tried (``locked``) because of
    earlier wrong ones; ``wait``: seconds before the next try counts."""

    ok: bool
    wait: float = 0.0
    locked: bool = False


def _record(row: tuple) -> ProfileRecord:
    pid, kind, name, colour, pin_hash, created, prefs = row
    try:
        parsed = json.loads(prefs)
    except ValueError:
        parsed = {}
    return ProfileRecord(pid, kind, name, colour, pin_hash, created,
                         stored_preferences(parsed))


class StateStore(ProgressRows):
    """Profiles and per-profile state in one SQLite file (see ``schema.py``)."""

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self.conn = conn
        self.path = path
        self.secret = self._cookie_secret()

    @classmethod
    def open(cls, path: Path) -> StateStore:
        conn = connect(path)
        try:
            return cls(conn, path)
        except sqlite3.OperationalError as exc:  # the secret's first write, busy
            conn.close()
            raise BusyStoreError(f"cannot use the state store {path}: {exc}") from None

    def close(self) -> None:
        self.conn.close()

    def _cookie_secret(self) -> bytes:
        """32 random bytes made once per store; every process reads the same ones (a
        write lock only the first time, and then whoever inserts first wins)."""
        query = "SELECT value FROM meta WHERE key = ?"
        row = self.conn.execute(query, (_SECRET_KEY,)).fetchone()
        if row is None:
            with write_transaction(self.conn, durable=True) as conn:
                conn.execute("INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)",
                             (_SECRET_KEY, secrets.token_bytes(32)))
            row = self.conn.execute(query, (_SECRET_KEY,)).fetchone()
        return bytes(row[0])

    # ------------------------------------------------------------------ reading

    def profiles(self, kind: str | None = None) -> list[ProfileRecord]:
        """Every profile (of ``kind``), by name."""
        where, args = ("WHERE kind = ?", (kind,)) if kind else ("", ())
        rows = self.conn.execute(f"SELECT {_COLUMNS} FROM profiles {where} "
                                 "ORDER BY kind, name_key, id", args).fetchall()
        return [_record(row) for row in rows]

    def profile(self, pid: str) -> ProfileRecord | None:
        row = self.conn.execute(f"SELECT {_COLUMNS} FROM profiles WHERE id = ?",
                                (pid,)).fetchone()
        return _record(row) if row else None

    def find(self, ref: str) -> ProfileRecord | None:
        """A profile by id, else by name (local profiles first, then users)."""
        if PROFILE_ID_RE.fullmatch(ref):
            found = self.profile(ref)
            if found is not None:
                return found
        for kind in ("local", "user"):
            row = self.conn.execute(
                f"SELECT {_COLUMNS} FROM profiles WHERE kind = ? AND name_key = ?",
                (kind, profile_key(kind, ref.strip()))).fetchone()
            if row:
                return _record(row)
        return None

    def user_profile(self, user: str, now: float | None = None) -> ProfileRecord:
        """The profile of an ``--auth-users`` user, made on first use (named after them)."""
        key = profile_key("user", check_user_name(user))
        query = f"SELECT {_COLUMNS} FROM profiles WHERE kind = 'user' AND name_key = ?"
        row = self.conn.execute(query, (key,)).fetchone()
        if row:
            return _record(row)
        with write_transaction(self.conn, durable=True) as conn:  # another process may have made it
            conn.execute("INSERT OR IGNORE INTO profiles (id, kind, name, name_key, colour, "
                         "created) VALUES (?, 'user', ?, ?, ?, ?)",
                         (_new_id(), user, key, self._free_colour(), _now(now)))
        return _record(self.conn.execute(query, (key,)).fetchone())

    def _free_colour(self) -> str:
        used = [row[0] for row in self.conn.execute("SELECT colour FROM profiles")]
        return pick_colour(used)

    # ------------------------------------------------------------------ changing

    def create(self, name: object, colour: object = None, pin: object = None,
               now: float | None = None) -> ProfileRecord:
        """A new local profile (:class:`~mediaserve.core.profiles.rules.RuleError` for a
        bad value, :class:`Conflict` for a taken name or one profile too many)."""
        clean = check_name(name)
        chosen = None if colour is None else check_colour(colour)
        pin_hash = None if pin is None else pins.hash_pin(pins.check_pin(pin),
                                                          secrets.token_bytes(16))
        pid = _new_id()
        with write_transaction(self.conn, durable=True) as conn:
            count = conn.execute("SELECT COUNT(*) FROM profiles WHERE kind = 'local'"
                                 ).fetchone()[0]
            if count >= MAX_PROFILES:
                raise Conflict(f"there are already {MAX_PROFILES} profiles, the most "
                               "allowed; remove one first")
            try:
                conn.execute("INSERT INTO profiles (id, kind, name, name_key, colour, "
                             "pin_hash, created) VALUES (?, 'local', ?, ?, ?, ?, ?)",
                             (pid, clean, profile_key("local", clean),
                              chosen or self._free_colour(), pin_hash, _now(now)))
            except sqlite3.IntegrityError:
                raise Conflict(f"a profile named {clean!r} exists already") from None
        return self._get(pid)

    def update(self, pid: str, name: object = None, colour: object = None,
               pin: object = KEEP) -> ProfileRecord:
        """Rename, recolour, or set (a string) or remove (None) the PIN of a profile. A
        user's profile keeps its name: it is the user's."""
        current = self._get(pid)
        changes: dict[str, object] = {}
        if name is not None:
            if current.kind == "user":
                raise Conflict("a user's profile is named after the user")
            clean = check_name(name)
            changes.update(name=clean, name_key=profile_key("local", clean))
        if colour is not None:
            changes["colour"] = check_colour(colour)
        if pin is not KEEP:
            changes["pin_hash"] = None if pin is None else pins.hash_pin(
                pins.check_pin(pin), secrets.token_bytes(16))
            changes.update(pin_failures=0, pin_retry_at=0.0)
        if changes:
            assignments = ", ".join(f"{column} = ?" for column in changes)
            with write_transaction(self.conn, durable=True) as conn:
                try:
                    done = conn.execute(f"UPDATE profiles SET {assignments} WHERE id = ?",
                                        (*changes.values(), pid))
                except sqlite3.IntegrityError:
                    raise Conflict(f"a profile named {changes['name']!r} exists "
                                   "already") from None
                if done.rowcount == 0:
                    raise NoSuchProfile(pid)
        return self._get(pid)

    def delete(self, pid: str) -> bool:
        """Remove a profile and everything kept for it; False if there was none."""
        with write_transaction(self.conn, durable=True) as conn:
            return conn.execute("DELETE FROM profiles WHERE id = ?", (pid,)).rowcount > 0

    def try_pin(self, pid: str, pin: object, now: float | None = None) -> PinVerdict:
        """Check a PIN, counting wrong ones in the store (shared by every process) and
        refusing tries while the wait after them runs (``core/profiles/pin.py``)."""
        moment = _now(now)
        with write_transaction(self.conn, durable=True) as conn:
            row = conn.execute("SELECT pin_hash, pin_failures, pin_retry_at FROM profiles "
                               "WHERE id = ?", (pid,)).fetchone()
            if row is None:
                raise NoSuchProfile(pid)
            stored, failures, retry_at = row
            if stored is None:
                return PinVerdict(True)
            if moment < retry_at:
                return PinVerdict(False, retry_at - moment, locked=True)
            if isinstance(pin, str) and pins.verify_pin(pin, stored):
                conn.execute("UPDATE profiles SET pin_failures = 0, pin_retry_at = 0 "
                             "WHERE id = ?", (pid,))
                return PinVerdict(True)
            failures += 1
            wait = pins.wait_after(failures)
            conn.execute("UPDATE profiles SET pin_failures = ?, pin_retry_at = ? "
                         "WHERE id = ?", (failures, moment + wait, pid))
            return PinVerdict(False, wait)

    def set_preferences(self, pid: str, changes: object) -> Preferences:
        """Merge ``changes`` (checked, see ``rules.apply_preferences``) into the profile's
        preferences, read and written in one transaction (two tabs cannot lose a key)."""
        with write_transaction(self.conn, durable=True) as conn:
            row = conn.execute("SELECT preferences FROM profiles WHERE id = ?",
                               (pid,)).fetchone()
            if row is None:
                raise NoSuchProfile(pid)
            try:
                current = stored_preferences(json.loads(row[0]))
            except ValueError:
                current = Preferences()
            updated = apply_preferences(current, changes)
            conn.execute("UPDATE profiles SET preferences = ? WHERE id = ?",
                         (json.dumps(updated.as_dict()), pid))
        return updated

    def _get(self, pid: str) -> ProfileRecord:
        found = self.profile(pid)
        if found is None:
            raise NoSuchProfile(pid)
        return found


def store_path(state_db: str = "") -> Path:
    """The ``state_db`` setting, else ``state.db`` in the data folder."""
    return Path(state_db) if state_db else data_dir() / STATE_FILE


def _new_id() -> str:
    return secrets.token_hex(8)


def _now(now: float | None) -> float:
    return time.time() if now is None else now
