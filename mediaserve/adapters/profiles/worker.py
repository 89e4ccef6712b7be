"""The state store's own thread: every SQLite call of a server process runs there.

SQLite calls block (a commit waits for the file, a busy store waits for the other writer up
to 5 s), so none may run on the event loop. One thread per process owns the one connection
(opened there on first use, so a server whose pages never ask for profiles never creates
the file, and a forked worker never inherits a connection). Calls queue in order; each is
a few hundred microseconds, so one thread keeps up with thousands of reports a second
(README, *Profiles*, has the measurement).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from mediaserve.adapters.profiles.schema import StoreError
from mediaserve.adapters.profiles.store import StateStore

log = logging.getLogger("mediaserve")
_T = TypeVar("_T")
#: an unusable store is reported once per this many seconds, not once per request
_LOG_EVERY_S = 60.0


class StoreThread:
    """Runs ``func(store, *args)`` in the store's thread and awaits the result."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="mediaserve-state")
        self._store: StateStore | None = None
        self._logged_at = -_LOG_EVERY_S
        self._closed = False

    async def run(self, func: Callable[..., _T], *args: Any) -> _T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._call, func, args)

    def _call(self, func: Callable[..., _T], args: tuple[Any, ...]) -> _T:
        if self._closed:
            raise StoreError("the server is stopping")
        if self._store is None:
            try:
                self._store = StateStore.open(self.path)
            except StoreError as exc:
                now = time.monotonic()
                if now - self._logged_at >= _LOG_EVERY_S:
                    self._logged_at = now
                    log.error("mediaserve: profiles are unavailable: %s", exc)
                raise
        return func(self._store, *args)

    def _close_store(self) -> None:
        self._closed = True
        if self._store is not None:
            self._store.close()
            self._store = None

    async def close(self) -> None:
        """Close the connection in its own thread, after the calls already queued."""
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, self._close_store)
        self._executor.shutdown(wait=False)
