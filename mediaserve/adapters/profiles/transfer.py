"""Export the store to the JSON document of ``core/profiles/transfer.py``, import it back.

The export reads inside one transaction, so it is a consistent snapshot while servers keep
writing (WAL readers see the last commit, never half of one). The import writes inside
one ``BEGIN IMMEDIATE`` transaction: every profile and row goes in, or none does.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Sequence
from typing import Any

from mediaserve.adapters.profiles.schema import Conflict, write_transaction
from mediaserve.adapters.profiles.store import StateStore
from mediaserve.core.profiles.rules import MAX_PROFILES, profile_key
from mediaserve.core.profiles.transfer import ProfileRecord, export_document


def export_all(store: StateStore, now: float | None = None) -> dict[str, Any]:
    conn = store.conn
    conn.execute("BEGIN")  # one read snapshot for the profiles and all their rows
    try:
        records = [store.with_progress(record) for record in store.profiles()]
    finally:
        conn.execute("COMMIT")
    return export_document(records, time.time() if now is None else now)


def import_all(store: StateStore, records: Sequence[ProfileRecord],
               replace: bool = False) -> tuple[int, int]:
    """Write validated records (``parse_document``'s); a profile with the same id is
    replaced with everything kept for it, ``replace`` first removes every profile.
    (profiles, rows) written; :class:`Conflict` (nothing written) when a name belongs to
    another profile or the local profiles would be too many."""
    rows = 0
    with write_transaction(store.conn, durable=True) as conn:
        if replace:
            conn.execute("DELETE FROM profiles")
        for record in records:
            conn.execute("DELETE FROM profiles WHERE id = ?", (record.id,))
            try:
                conn.execute(
                    "INSERT INTO profiles (id, kind, name, name_key, colour, pin_hash, "
                    "created, preferences) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (record.id, record.kind, record.name,
                     profile_key(record.kind, record.name), record.colour, record.pin_hash,
                     record.created, json.dumps(record.preferences.as_dict())))
            except sqlite3.IntegrityError:  # UNIQUE (kind, name_key): the id was deleted above
                raise Conflict(f"profile {record.id}: the name {record.name!r} belongs to "
                               "another profile in the store (remove or rename it, or "
                               "import with --replace)") from None
            conn.executemany(
                "INSERT INTO progress (profile, video, position, duration, watched, "
                "updated) VALUES (?, ?, ?, ?, ?, ?)",
                [(record.id, r.video, r.position, r.duration, int(r.watched), r.updated)
                 for r in record.progress])
            rows += len(record.progress)
        local = conn.execute("SELECT COUNT(*) FROM profiles WHERE kind = 'local'"
                             ).fetchone()[0]
        if local > MAX_PROFILES:
            raise Conflict(f"the store would hold {local} local profiles, more than the "
                           f"{MAX_PROFILES} allowed")
    return len(records), rows
