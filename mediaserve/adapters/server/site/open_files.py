"""Descriptors of the videos being streamed, kept open between requests (nginx's
``open_file_cache``, without its staleness).

Opening a video safely costs an ``openat2(RESOLVE_BENEATH)`` through ctypes, an ``fstat`` and a
``close``: ~9 µs of a seek's ~45 on the 2-core VM (benchmarks/RESULTS.md), for the same file a
player asks for a hundred times a minute. So the descriptor of a recently streamed video stays
open, and a request for it costs one ``stat`` of its path instead. The descriptor is used only
when that ``stat`` finds the very inode it was opened on, unchanged since: same device, inode
and ctime (``ctime`` moves on every write, chmod, rename or link change of the file itself).

That ``stat`` follows the path as it is *now*, so it cannot see everything: a folder on the way
swapped for a symlink to the very same file, or a permission taken away from a folder above,
leaves the file's own inode and ctime as they were. So a descriptor is reused for at most
:data:`REUSE_S` after it was opened beneath the root; past that the file is opened again through
:class:`RootOpener`, which answers as it always did (404, 403, refused outside the root). A
change to the path is thus seen within seconds, as nginx's ``open_file_cache_valid`` does. A
descriptor opened beneath the root names a file of the library whatever the path does later, so
the window decides only how soon a changed path is noticed, never whether a file outside the
library may be served.

Each descriptor is counted while a stream uses it, and closed when it is evicted (the least
recently used beyond ``capacity``, or unused for :data:`IDLE_S`) and unused: an idle server holds
no descriptor of the library (an unmount of the disk is not refused for a film watched an hour
ago).
"""

from __future__ import annotations

import asyncio
import os
import stat
import time
import weakref
from collections import OrderedDict

from mediaserve.adapters.server.site.safe_open import RootOpener

#: descriptors kept open for reuse; the connection cap keeps 64 in reserve (net/listener.py)
CAPACITY = 16
#: a descriptor is reused for this long after it was opened, then the path is opened again
REUSE_S = 5.0
#: a descriptor that no stream used for this long is closed
IDLE_S = 8.0
#: every table of this process (what is open and why, for a diagnosis or a test)
LIVE: weakref.WeakSet[OpenFiles] = weakref.WeakSet()


class NotAFile(OSError):
    """The path names something other than a regular file (a FIFO or a directory swapped
    in): never read, the client gets 404."""


class _Entry:
    __slots__ = ("ctime", "dev", "fd", "ino", "opened", "path", "stale", "used", "users")

    def __init__(self, path: str, fd: int, info: os.stat_result, now: float) -> None:
        self.path = path
        self.fd = fd
        self.dev, self.ino, self.ctime = info.st_dev, info.st_ino, info.st_ctime_ns
        self.opened = self.used = now
        self.users = 0
        self.stale = False  # no longer in the table: closed when the last user is done


class OpenFiles:
    """Leases of open, regular files beneath one root."""

    def __init__(self, opener: RootOpener, capacity: int = CAPACITY) -> None:
        self.opener = opener
        self.capacity = capacity
        self._by_path: OrderedDict[str, _Entry] = OrderedDict()
        self._by_fd: dict[int, _Entry] = {}
        self.reused = 0  # leases answered from an open descriptor (tests, benchmarks)
        self._sweeper: asyncio.TimerHandle | None = None
        LIVE.add(self)

    def lease(self, relpath: str) -> tuple[int, os.stat_result]:
        """A descriptor of ``relpath`` and its current ``stat``; give it back with
        :meth:`release`. Raises what :meth:`RootOpener.open` raises, or :class:`NotAFile`."""
        now = time.monotonic()
        entry = self._by_path.get(relpath)
        if entry is not None and now - entry.opened >= REUSE_S:
            self._forget(entry)  # opened long enough ago: the path is checked again
            entry = None
        if entry is not None:
            try:
                info = os.stat(relpath, dir_fd=self.opener.root_fd)
            except (OSError, ValueError):
                info = None
            if (info is not None and info.st_ino == entry.ino and info.st_dev == entry.dev
                    and info.st_ctime_ns == entry.ctime):
                self._by_path.move_to_end(relpath)
                entry.users += 1
                entry.used = now
                self.reused += 1
                return entry.fd, info
            self._forget(entry)
        fd = self.opener.open(relpath)
        try:
            info = os.fstat(fd)
        except OSError:
            os.close(fd)
            raise
        if not stat.S_ISREG(info.st_mode):
            os.close(fd)
            raise NotAFile(f"{relpath} is not a regular file")
        entry = _Entry(relpath, fd, info, now)
        entry.users = 1
        self._by_path[relpath] = entry
        self._by_fd[fd] = entry
        self._evict()
        return fd, info

    def release(self, fd: int) -> None:
        """A stream is done with ``fd``."""
        entry = self._by_fd.get(fd)
        if entry is None:  # not ours (closed already by close_all): nothing to do
            return
        entry.users -= 1
        entry.used = time.monotonic()
        if entry.stale and entry.users <= 0:
            del self._by_fd[fd]
            os.close(fd)
        elif self._sweeper is None:
            self._schedule_sweep()

    def _schedule_sweep(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop (a test's direct use): descriptors wait for eviction
            return
        # every half period: a descriptor is closed between IDLE_S and 1.5 × IDLE_S unused
        self._sweeper = loop.call_later(IDLE_S / 2, self.sweep)

    def sweep(self) -> None:
        """Close the descriptors no stream used for :data:`IDLE_S`; run again while any
        remain open."""
        self._sweeper = None
        limit = time.monotonic() - IDLE_S
        for entry in list(self._by_path.values()):
            if entry.users <= 0 and entry.used <= limit:
                self._forget(entry)
        if self._by_path:
            self._schedule_sweep()

    def _forget(self, entry: _Entry) -> None:
        """Out of the table; closed now, or when its last stream ends."""
        if self._by_path.get(entry.path) is entry:
            del self._by_path[entry.path]
        entry.stale = True
        if entry.users <= 0:
            self._by_fd.pop(entry.fd, None)
            os.close(entry.fd)

    def _evict(self) -> None:
        while len(self._by_path) > self.capacity:
            oldest = next(iter(self._by_path.values()))
            self._forget(oldest)

    def idle(self) -> list[int]:
        """Descriptors kept open for reuse that no stream uses now."""
        return [entry.fd for entry in self._by_fd.values() if entry.users <= 0]

    def close_all(self) -> None:
        """At shutdown: every descriptor, in use or not (the streams are gone by now)."""
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        for entry in list(self._by_fd.values()):
            os.close(entry.fd)
        self._by_fd.clear()
        self._by_path.clear()
