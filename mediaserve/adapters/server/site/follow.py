"""The running server follows its index file: ``scan``, ``audit``, the folder watcher or a
person replaces it, and the catalog is reloaded within a poll interval (and on SIGHUP).

Why polling and not inotify: the server watches exactly one file. Measured with
``benchmarks/follow_bench.py`` (20 s, 10 atomic replaces, 2 CPUs): a ``stat`` every 0.5 s
costs ~0.5 ms of CPU per second, no import, no thread, no memory, and notices a replace within
the interval; ``watchfiles.awatch`` costs ~2.3 ms of CPU per second, 54 ms of imports,
4 MiB and two threads, and has to watch the whole folder to see a rename over the file, for a
reaction that is faster than we need (~40 ms). The folder watcher, which must see every file
of a tree, uses inotify (in its own process).

The reload reads, parses and builds the new catalog in an executor thread (a 10,000-entry
index takes ~0.3 s to parse), then swaps ``state.catalog`` in one assignment on the event
loop. Requests already running keep the ``Video`` they looked up and their open file, so
streams in flight finish untouched. An index that does not parse is not loaded: the server
keeps the last good catalog and logs the error once per bad version of the file.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from pathlib import Path

from mediaserve.adapters.library.store import load_index
from mediaserve.adapters.server.site.catalog import Catalog
from mediaserve.adapters.server.site.state import ServerState
from mediaserve.core.audit.rules import FindingsFor
from mediaserve.core.library.index import IndexFormatError

POLL_INTERVAL = 0.5  # seconds between two stats of the index file

Signature = tuple[int, int, int, int] | None
log = logging.getLogger("mediaserve.library")


def signature(path: Path) -> Signature:
    """What changes when the file is replaced or rewritten: device, inode, size, mtime."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


class IndexFollower:
    """Polls one index file and swaps the server's catalog when it changes."""

    def __init__(self, state: ServerState, path: Path,
                 findings: FindingsFor | None,
                 interval: float = POLL_INTERVAL) -> None:
        self.state = state
        self.path = Path(path)
        self.findings = findings
        self.interval = interval
        self.seen: Signature = signature(self.path)  # the catalog we start with is this one
        self.wake = asyncio.Event()
        self.forced = False
        self.reloads = 0

    def hangup(self) -> None:
        """SIGHUP: reload now, even if the file looks unchanged."""
        self.forced = True
        self.wake.set()

    def _build(self) -> Catalog:
        state = self.state
        # the names of files that did not move are not read again (state.catalog is only
        # read here, and a catalog's videos are fixed once it is built)
        catalog = Catalog(load_index(self.path), self.findings, previous=state.catalog)
        catalog.check_presence(state.opener)
        return catalog

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), self.interval)
            self.wake.clear()
            current = signature(self.path)
            if current == self.seen and not self.forced:
                continue
            forced, self.forced = self.forced, False
            if current is None:
                if current != self.seen:
                    log.warning("index %s is gone; still serving the last one loaded",
                                self.path)
                self.seen = current
                continue
            try:
                catalog = await loop.run_in_executor(None, self._build)
            except (IndexFormatError, OSError, UnicodeDecodeError) as exc:
                if current != self.seen or forced:  # once per bad version of the file
                    log.error("index not reloaded, still serving the last good one: %s", exc)
                self.seen = current
                continue
            if signature(self.path) != current:
                continue  # replaced again while we read it: the next poll takes the newest
            state = self.state
            before = len(state.catalog.videos)
            state.catalog = catalog  # atomic swap: requests in flight keep their Video
            self.seen = current
            self.reloads += 1
            log.info("reloaded index: %d → %d videos", before, len(catalog.videos))


class _Format(logging.Formatter):
    """``mediaserve: reloaded index: ...``; warnings and errors say their level."""

    def format(self, record: logging.LogRecord) -> str:
        level = "" if record.levelno < logging.WARNING else f"{record.levelname.lower()}: "
        return f"mediaserve: {level}{record.getMessage()}"


def configure_log() -> None:
    if not log.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(_Format())
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        log.propagate = False


async def follow(follower: IndexFollower) -> None:
    """Run ``follower`` until cancelled, reloading at once on SIGHUP."""
    configure_log()
    loop = asyncio.get_running_loop()
    try:
        loop.add_signal_handler(signal.SIGHUP, follower.hangup)
        hup = True
    except (RuntimeError, ValueError, NotImplementedError):  # not the main thread
        hup = False
    try:
        await follower.run()
    finally:
        if hup:
            loop.remove_signal_handler(signal.SIGHUP)
