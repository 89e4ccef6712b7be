"""The state store's SQLite file: opening it safely, and its schema's versions.

One file (``DATA_DIR/state.db`` unless ``state_db`` says otherwise) is shared by every
server process (``--workers``), every tab and device behind them, and ``mediaserve
profiles``. What makes that safe:

* **WAL mode**: readers never block the writer nor the writer them; a commit is one append
  to the ``-wal`` file. ``busy_timeout`` makes a second writer wait (up to 5 s) instead of
  failing, and every write transaction starts with ``BEGIN IMMEDIATE``, so two processes
  doing read-modify-write never deadlock upgrading a read lock (SQLite would answer
  ``SQLITE_BUSY`` at once, whatever the timeout).
* **Crash safety**: a transaction is in the file or not at all (the WAL's checksummed
  frames), and a commit that returned survives the process being killed at any moment
  (it is in the WAL, in the kernel's cache). Profile, PIN and preference changes are also
  synced to the disk at commit (``synchronous = FULL``: an fsync, ~0.4 ms on the dev VM's
  disk, 4 ms and more on a loaded or spinning one), so they survive a power cut; progress
  reports are not (``NORMAL``, ~0.05-0.1 ms a report): a power cut may lose the last
  seconds of positions, never the file's consistency.
* **Bounded files**: the WAL is checkpointed into the database every 1,000 pages and cut
  back to ``journal_size_limit`` (4 MiB) afterwards; rows are one per (profile, video).
* **Private**: the file is created with mode 0600 (it holds watching history and PIN
  hashes); SQLite gives its ``-wal`` and ``-shm`` files the same mode.

**Versions.** ``PRAGMA user_version`` is the schema's version. :data:`MIGRATIONS` lists, for
each version, the statements that lead to it from the one before; :func:`migrate` applies
the missing ones in *one* ``BEGIN IMMEDIATE`` transaction (``user_version`` is part of the
database header, so it commits or rolls back with them): two processes opening an old file
at once migrate it once, and a failed migration leaves the file as it was. A file from a
newer mediaserve is refused rather than misread.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

BUSY_TIMEOUT_S = 5.0
JOURNAL_SIZE_LIMIT = 4 * 1024 * 1024

#: MIGRATIONS[n] leads from version n to version n + 1
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (  # 0 -> 1: profiles, their progress rows, the cookie secret
        """CREATE TABLE meta (
            key TEXT PRIMARY KEY,
            value BLOB NOT NULL
        ) WITHOUT ROWID""",
        """CREATE TABLE profiles (
            id TEXT PRIMARY KEY,
            kind TEXT NOT NULL CHECK (kind IN ('local', 'user')),
            name TEXT NOT NULL,
            name_key TEXT NOT NULL,
            colour TEXT NOT NULL,
            pin_hash TEXT,
            created REAL NOT NULL,
            preferences TEXT NOT NULL DEFAULT '{}',
            pin_failures INTEGER NOT NULL DEFAULT 0,
            pin_retry_at REAL NOT NULL DEFAULT 0,
            UNIQUE (kind, name_key)
        ) WITHOUT ROWID""",
        """CREATE TABLE progress (
            profile TEXT NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
            video TEXT NOT NULL,
            position REAL NOT NULL,
            duration REAL,
            watched INTEGER NOT NULL DEFAULT 0 CHECK (watched IN (0, 1)),
            updated REAL NOT NULL,
            PRIMARY KEY (profile, video)
        ) WITHOUT ROWID""",
        "CREATE INDEX progress_by_time ON progress (profile, updated)",
    ),
)
LATEST = len(MIGRATIONS)


class StoreError(Exception):
    """The state store cannot be used (unreadable, not a database, newer, locked); the
    message says which file and why."""


class BusyStoreError(StoreError):
    """Another process held the store's write lock for longer than ``busy_timeout``."""


class NewerStoreError(StoreError):
    """The file was written by a newer mediaserve (its schema version is unknown here)."""


class NoSuchProfile(LookupError):
    """No profile has that id (any more)."""


class Conflict(ValueError):
    """The change would break a rule of the whole store: a name taken, too many profiles."""


@contextlib.contextmanager
def write_transaction(conn: sqlite3.Connection,
                      durable: bool = False) -> Iterator[sqlite3.Connection]:
    """``BEGIN IMMEDIATE`` ... ``COMMIT`` (``ROLLBACK`` on any error): the write lock is
    taken up front, waiting up to ``busy_timeout`` for another writer. ``durable``: the
    commit also reaches the disk (``synchronous = FULL`` for this one transaction)."""
    if durable:
        conn.execute("PRAGMA synchronous = FULL")
    try:
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:  # also when COMMIT itself failed (a full disk)
                conn.execute("ROLLBACK")
            raise
    finally:
        if durable:
            conn.execute("PRAGMA synchronous = NORMAL")


def migrate(conn: sqlite3.Connection,
            migrations: Sequence[Sequence[str]] = MIGRATIONS) -> tuple[int, int]:
    """Bring the schema to ``len(migrations)``; (version before, version after)."""
    latest = len(migrations)
    found = conn.execute("PRAGMA user_version").fetchone()[0]
    if found == latest:  # the usual case: no write lock to wait for
        return found, latest
    with write_transaction(conn, durable=True):
        found = conn.execute("PRAGMA user_version").fetchone()[0]
        if found > latest:
            raise NewerStoreError(f"its schema version {found} is newer than this "
                                  f"mediaserve's ({latest}): upgrade mediaserve")
        for version in range(found, latest):
            for statement in migrations[version]:
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {version + 1}")
    return found, latest


def _create_private(path: Path) -> None:
    """Create the folder and an empty file readable by this user only, if missing."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    os.close(fd)


def connect(path: Path, migrations: Sequence[Sequence[str]] = MIGRATIONS
            ) -> sqlite3.Connection:
    """An open, migrated connection (autocommit mode: transactions are explicit) in the
    calling thread; :class:`StoreError` naming ``path`` when that is impossible."""
    try:
        _create_private(path)
        conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
    except (OSError, sqlite3.Error) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        if isinstance(exc, OSError) and exc.filename and str(exc.filename) != str(path):
            reason = f"{reason}: {exc.filename}"  # a folder on the way, not the file
        raise StoreError(f"cannot open the state store {path}: {reason}") from None
    try:
        conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        _set_up(conn, path, migrations)
    except NewerStoreError as exc:
        conn.close()
        raise NewerStoreError(f"the state store {path}: {exc}") from None
    except StoreError:
        conn.close()
        raise
    except sqlite3.Error as exc:
        conn.close()
        kind = BusyStoreError if "locked" in str(exc) or "busy" in str(exc) else StoreError
        raise kind(f"cannot use the state store {path}: {exc}") from None
    return conn


def _set_up(conn: sqlite3.Connection, path: Path, migrations: Sequence[Sequence[str]]
            ) -> None:
    """WAL mode, the connection's settings and the schema, tried again while SQLite answers
    "locked" at once, up to BUSY_TIMEOUT_S in all.

    Why: a new file starts in rollback-journal mode, where switching to WAL needs the
    exclusive lock. When two processes (``--workers``, the CLI) open a new file together,
    one can hold its read lock while the other waits for the exclusive one; SQLite then
    refuses the first at once ("database is locked") instead of letting both wait forever,
    and ``busy_timeout`` is never consulted. Six threads opening one new file: 6 runs in
    100 failed so. Every step here is idempotent (the migration reads the version again
    inside its write transaction), so trying again is all it takes."""
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    pause = 0.005
    while True:
        try:
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise StoreError(f"the state store {path} cannot use WAL mode ({mode}); is "
                                 "it on a network file system?")
            conn.execute("PRAGMA synchronous = NORMAL")  # write_transaction(durable): FULL
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute(f"PRAGMA journal_size_limit = {JOURNAL_SIZE_LIMIT}")
            migrate(conn, migrations)
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() + pause > deadline:
                raise
        time.sleep(pause)  # the other opener's switch to WAL takes milliseconds
        pause = min(pause * 2, 0.1)
