"""The profiles' bandwidth limits, read from the state store every few seconds.

A stream asks for its profile's limit on the serving path, so the answer must come from
memory: this keeps a :class:`~mediaserve.core.profiles.limits.LimitTable` that a background
task (``site.Site``) refreshes every ``REFRESH`` seconds, reading the store in an executor
thread. Every worker process reads the same file, so a limit set through one worker applies
to streams started on any of them within that time. A store that does not exist is not
created (a server without profiles reads nothing); one that cannot be read keeps the last
table and says so once.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from mediaserve.adapters.profiles.schema import StoreError
from mediaserve.adapters.profiles.store import StateStore, store_path
from mediaserve.core.profiles.limits import LimitTable

#: seconds between two reads of the store
REFRESH = 5.0
log = logging.getLogger("mediaserve")


def read_limits(path: Path) -> LimitTable:
    """The limits stored at ``path`` (an empty table when there is no store yet)."""
    if not path.exists():
        return LimitTable()
    store = StateStore.open(path)
    try:
        by_profile: dict[str, int] = {}
        by_user: dict[str, int] = {}
        for record in store.profiles():
            limit = record.preferences.bandwidth_limit
            if limit:
                by_profile[record.id] = limit
                if record.kind == "user":
                    by_user[record.name] = limit
        return LimitTable(by_profile, by_user)
    finally:
        store.close()


class ProfileLimits:
    """The current table, and the task that keeps it current."""

    def __init__(self, state_db: str = "") -> None:
        self.path = store_path(state_db)
        self.table = LimitTable()
        self._failing = False

    async def refresh(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            self.table = await loop.run_in_executor(None, read_limits, self.path)
            self._failing = False
        except (StoreError, OSError) as exc:
            if not self._failing:  # once per spell of trouble
                log.warning("bandwidth limits not read from %s (kept the last ones): %s",
                            self.path, exc)
            self._failing = True

