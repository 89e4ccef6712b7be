"""Heartbeats from workers to their supervisor: a worker whose event loop hangs is replaced.

The supervisor restarts a worker that dies; one that hangs (a stuck loop: a bug spinning, a
blocking call that never returns, a process stopped) keeps its connections and its share of
the port while serving nobody. So each worker's event loop writes one byte a second into a
pipe of its own, and the supervisor, which reads every pipe between its other chores, kills
a worker it has not heard from for ``worker_timeout`` seconds; the usual restart follows.
A byte written from the loop proves the loop turns, which a thread could not.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time

#: seconds between two beats of a worker
BEAT_EVERY = 1.0
#: a worker's first beat may take this long (imports, building its catalog)
START_GRACE = 60.0


class Heartbeats:
    """The supervisor's side: one pipe per worker, and when each last beat."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._pipes: dict[int, tuple[int, float, bool]] = {}  # pid -> (fd, last, started)

    def pipe(self) -> tuple[int, int]:
        """(read, write) for a worker about to be forked."""
        read, write = os.pipe()
        os.set_blocking(read, False)
        return read, write

    def forked(self, pid: int, read: int) -> None:
        self._pipes[pid] = (read, time.monotonic(), False)

    def inherited(self) -> list[int]:
        """The read ends a newly forked worker must close (its siblings' pipes)."""
        return [fd for fd, _last, _started in self._pipes.values()]

    def gone(self, pid: int) -> None:
        entry = self._pipes.pop(pid, None)
        if entry is not None:
            os.close(entry[0])

    def hung(self) -> list[tuple[int, float]]:
        """(pid, seconds silent) of every worker silent past its limit; reads the beats."""
        now = time.monotonic()
        silent = []
        for pid, (fd, last, started) in list(self._pipes.items()):
            with contextlib.suppress(BlockingIOError, OSError):
                if os.read(fd, 4096):
                    last, started = now, True
                    self._pipes[pid] = (fd, last, started)
            limit = self.timeout if started else max(self.timeout, START_GRACE)
            if now - last > limit:
                silent.append((pid, now - last))
        return silent


async def beat_forever(fd: int) -> None:
    """The worker's side: a byte a second from the event loop, until cancelled."""
    os.set_blocking(fd, False)
    while True:
        with contextlib.suppress(BlockingIOError, OSError):  # a full pipe: the next one
            os.write(fd, b".")
        await asyncio.sleep(BEAT_EVERY)
