"""One served library, without aiohttp: its state, access policy and background work.

A :class:`Site` is what a serving process holds from the start: the catalog, the opener
beneath the root, the settings, the statistics collector, the access policy, and the work
that runs beside requests (the presence check at start, following the index file, the
statistics tick, publishing numbers for the other workers). The connection's stream fast
path needs nothing more, so a server that has only streamed never imports aiohttp (idle
memory: README, Performance). aiohttp's application is built from a site on the first
request that needs it (``runner.py``), or at once by ``create_app`` (tests, tools).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from mediaserve.adapters.server.site.access import Access
from mediaserve.adapters.server.site.catalog import Catalog
from mediaserve.adapters.server.site.follow import IndexFollower, follow
from mediaserve.adapters.server.site.limits import REFRESH, ProfileLimits
from mediaserve.adapters.server.site.safe_open import RootOpener
from mediaserve.adapters.server.site.state import ServerState
from mediaserve.core.audit.rules import FindingsFor, findings_from_facts
from mediaserve.core.config.settings import Settings
from mediaserve.core.library.index import LibraryIndex
from mediaserve.core.stats import DisabledCollector, StatsCollector

#: seconds between two statistics ticks (running streams' bytes, the throughput windows)
TICK = 1.0


class Site:
    """The library one server serves, and what runs beside its requests."""

    def __init__(self, index: LibraryIndex, root: Path | str, settings: Settings | None = None,
                 *, index_path: str | None = None,
                 findings: FindingsFor | None = findings_from_facts,
                 follow: bool = True, access: Access | None = None) -> None:
        """``access``: the policy, made once before workers fork so that all of them share
        its secrets (the login form's CSRF key); by default made here. Raises
        ``AccessError`` for access settings that cannot be used."""
        self.settings = settings = settings or Settings()
        self.access = access or Access.from_settings(settings)
        self.state = ServerState(
            catalog=Catalog(index, findings), opener=RootOpener(root), settings=settings,
            index_path=index_path, logger=logging.getLogger("mediaserve"),
            stats=StatsCollector() if settings.stats else DisabledCollector())
        self.follower = (IndexFollower(self.state, Path(index_path), findings)
                         if index_path is not None and follow else None)
        self.shared: Any = None  # stats.shared.SharedStats, with workers
        self.limits = ProfileLimits(settings.state_db)
        self._tasks: list[asyncio.Task[None]] = []
        self.running = False

    async def start(self) -> None:
        """Check which files are there (off the loop), then start the background work."""
        if self.running:
            return
        self.running = True
        state = self.state
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, state.catalog.check_presence, state.opener)
        if self.follower is not None:  # reload when scan, audit or the watcher replace it
            self._spawn(follow(self.follower), "index-follower")
        if state.stats.enabled:
            self._spawn(self._tick(), "stats-tick")
        if self.shared is not None:
            self._spawn(self.shared.run(), "stats-share")
        self._spawn(self._follow_limits(), "profile-limits")

    async def stop(self) -> None:
        if not self.running:
            return
        self.running = False
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self.shared is not None:
            with contextlib.suppress(OSError):
                self.shared.publish()  # the final numbers of a worker that shuts down
        if self.access.passwords is not None:
            self.access.passwords.queue.close()  # scrypt's threads
        self.state.files.close_all()
        self.state.opener.close()

    def _spawn(self, work: Coroutine[Any, Any, None], name: str) -> None:
        self._tasks.append(asyncio.get_running_loop().create_task(work, name=name))

    async def _follow_limits(self) -> None:
        """Keep ``state.limits`` (what streams read) current with the state store."""
        limits = self.limits
        while True:
            await limits.refresh()
            self.state.limits = limits.table
            await asyncio.sleep(REFRESH)

    async def _tick(self) -> None:
        """Tick the collector every second: it credits the bytes of running streams and
        takes the throughput sample the 10 s and 60 s windows are made of."""
        stats = self.state.stats
        while True:
            await asyncio.sleep(TICK)
            stats.tick()
