"""Progress rows: one per (profile, video), whatever the number of reports.

A player reports every few seconds; each report *replaces* its row (an upsert on the
primary key), so a flood of reports rewrites one row and the file does not grow. New rows
are capped per profile (:data:`MAX_ROWS_PER_PROFILE`): past the cap the least recently
played rows go. The watched mark is decided here from the core's rule, in the same
transaction as the row it reads, so two tabs reporting at once cannot lose it.
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import replace
from pathlib import Path

from mediaserve.adapters.profiles.schema import NoSuchProfile, write_transaction
from mediaserve.core.profiles.home import Row
from mediaserve.core.profiles.progress import RESUME_MIN_S, ProgressReport, finished
from mediaserve.core.profiles.transfer import MAX_ROWS_PER_PROFILE, ProfileRecord

_ROW = "video, position, duration, watched, updated"
_UPSERT = ("INSERT INTO progress (profile, video, position, duration, watched, updated) "
           "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (profile, video) DO UPDATE SET "
           "position = excluded.position, duration = excluded.duration, "
           "watched = excluded.watched, updated = excluded.updated")


def _row(values: tuple) -> Row:
    video, position, duration, watched, updated = values
    return Row(video, position, duration, bool(watched), updated)


class ProgressRows:
    """The progress half of :class:`~mediaserve.adapters.profiles.store.StateStore`."""

    conn: sqlite3.Connection
    path: Path
    #: rows a profile keeps at most (a class attribute so a test can lower it)
    max_rows: int = MAX_ROWS_PER_PROFILE

    def report(self, pid: str, video: str, report: ProgressReport,
               known_duration: float | None = None, now: float | None = None) -> Row:
        """Record a player's report. The duration is the player's, else the one the row
        has, else the library's (``known_duration``)."""
        moment = time.time() if now is None else now
        with write_transaction(self.conn) as conn:
            old = conn.execute(f"SELECT {_ROW} FROM progress WHERE profile = ? AND video = ?",
                               (pid, video)).fetchone()
            previous = _row(old) if old else None
            duration = (report.duration
                        or (previous.duration if previous else None) or known_duration)
            position = min(report.position, duration) if duration else report.position
            watched = ((previous is not None and previous.watched)
                       or finished(position, duration, report.ended))
            row = Row(video, position, duration, watched, moment)
            self._put(conn, pid, row, new=previous is None)
        return row

    def mark(self, pid: str, video: str, watched: bool, now: float | None = None) -> Row:
        """Watched or not, by hand. Clearing the mark also rewinds: "not watched" means
        "start again", not "resume at the credits"."""
        moment = time.time() if now is None else now
        with write_transaction(self.conn) as conn:
            old = conn.execute(f"SELECT {_ROW} FROM progress WHERE profile = ? AND video = ?",
                               (pid, video)).fetchone()
            previous = _row(old) if old else None
            position = previous.position if previous and watched else 0.0
            row = Row(video, position, previous.duration if previous else None, watched,
                      moment)
            self._put(conn, pid, row, new=previous is None)
        return row

    def _put(self, conn: sqlite3.Connection, pid: str, row: Row, new: bool) -> None:
        try:
            conn.execute(_UPSERT, (pid, row.video, row.position, row.duration,
                                   int(row.watched), row.updated))
        except sqlite3.IntegrityError:  # the profile was removed meanwhile
            raise NoSuchProfile(pid) from None
        if new:
            self._trim(conn, pid)

    def _trim(self, conn: sqlite3.Connection, pid: str) -> None:
        count = conn.execute("SELECT COUNT(*) FROM progress WHERE profile = ?",
                             (pid,)).fetchone()[0]
        if count > self.max_rows:
            conn.execute("DELETE FROM progress WHERE profile = ? AND video IN (SELECT video "
                         "FROM progress WHERE profile = ? ORDER BY updated, video LIMIT ?)",
                         (pid, pid, count - self.max_rows))

    def rows(self, pid: str, videos: list[str] | None = None) -> list[Row]:
        """The profile's rows (only those of ``videos`` when given), last played first."""
        if videos is None:
            found = self.conn.execute(f"SELECT {_ROW} FROM progress WHERE profile = ? "
                                      "ORDER BY updated DESC, video", (pid,))
        else:
            found = self.conn.execute(
                f"SELECT {_ROW} FROM progress WHERE profile = ? AND video IN "
                "(SELECT value FROM json_each(?)) ORDER BY updated DESC, video",
                (pid, json.dumps(videos)))
        return [_row(values) for values in found]

    def summary(self) -> dict[str, tuple[int, int, float | None]]:
        """Per profile: (videos in progress, videos watched, last played) for listings."""
        found = self.conn.execute(
            "SELECT profile, SUM(watched = 0 AND position >= ?), SUM(watched), MAX(updated) "
            "FROM progress GROUP BY profile", (RESUME_MIN_S,))
        return {pid: (int(going or 0), int(done or 0), last) for pid, going, done, last
                in found}

    def last_played(self, pid: str) -> Row | None:
        found = self.conn.execute(f"SELECT {_ROW} FROM progress WHERE profile = ? "
                                  "ORDER BY updated DESC, video LIMIT 1", (pid,)).fetchone()
        return _row(found) if found else None

    def with_progress(self, record: ProfileRecord) -> ProfileRecord:
        return replace(record, progress=tuple(self.rows(record.id)))
