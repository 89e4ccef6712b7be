"""A spare worker process, started before it is needed, so no viewer waits for one to start.

A worker's start-up (Python, then PyAV and FFmpeg's libraries) is 0.2-0.3 s on a quiet
machine and 1-2 s on a loaded one: a first play of a remuxed video paid it twice in series
(the keyframe index, then the producer), a seek of a transcode once. ``producer_worker``
imports PyAV *before* it reads its first line, so a process spawned early and handed its
first line later has done that work already. The service keeps one spare while someone
plays (the player's ``GET /api/videos/{id}`` of a video that needs HLS, any HLS request),
tops it up each time one is taken, and kills it after ``idle`` seconds without playback.
Spares are not producers: they hold no converter slot and no source file.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import time
from typing import Any

WORKER_MODULE = "mediaserve.adapters.playback.producer_worker"
#: the environment a worker reads at start; a spare started under other values is not used
_ENV = ("MEDIASERVE_PRODUCER_MEMORY",)


async def start_worker() -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", WORKER_MODULE, stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
        limit=1 << 20)


async def hand(process: asyncio.subprocess.Process, first: dict[str, Any]
               ) -> asyncio.subprocess.Process:
    """Send a worker its first line (it reads it once its imports are done)."""
    assert process.stdin is not None
    process.stdin.write((json.dumps(first) + "\n").encode())
    await process.stdin.drain()
    return process


def _environment() -> tuple[str | None, ...]:
    return tuple(os.environ.get(name) for name in _ENV)


class Spares:
    """At most ``keep`` idle workers, kept while playback was asked for recently."""

    def __init__(self, keep: int = 1, idle: float = 60.0) -> None:
        self.keep = keep
        self.idle = idle
        self.active_at = 0.0
        self.closed = False
        self._spares: list[tuple[asyncio.Task[asyncio.subprocess.Process],
                                 tuple[str | None, ...]]] = []
        self.taken = 0  # statistics and tests: spawns a spare answered

    def warm(self) -> None:
        """Playback is wanted: keep ``keep`` spares from now on (for ``idle`` seconds)."""
        self.active_at = time.monotonic()
        if self.closed:
            return
        while len(self._spares) < self.keep:
            self._spares.append((asyncio.ensure_future(start_worker()), _environment()))

    async def spawn(self, first: dict[str, Any]) -> asyncio.subprocess.Process:
        """A worker with ``first`` sent: a spare when there is a live one, else a new one."""
        while self._spares:
            task, environment = self._spares.pop(0)
            try:
                process = await task
            except OSError:
                continue
            if process.returncode is None and environment == _environment():
                self.taken += 1
                self.warm()  # the next one starts now, while this one works
                return await hand(process, first)
            _kill(process)
        self.warm()
        return await hand(await start_worker(), first)

    def tick(self) -> None:
        """Kill the spares once nobody has asked for playback for ``idle`` seconds."""
        if self._spares and time.monotonic() - self.active_at > self.idle:
            self.drop()

    def drop(self) -> None:
        spares, self._spares = self._spares, []
        for task, _environment in spares:
            if task.done() and task.exception() is None:
                _kill(task.result())
            else:
                task.add_done_callback(_kill_when_started)

    async def close(self) -> None:
        self.closed = True
        processes = []
        for task, _environment in self._spares:
            with contextlib.suppress(OSError):
                processes.append(await task)
        self._spares = []
        for process in processes:
            _kill(process)
        if processes:
            await asyncio.wait([asyncio.ensure_future(p.wait()) for p in processes], timeout=5)

    @property
    def pids(self) -> list[int]:
        return [t.result().pid for t, _e in self._spares
                if t.done() and not t.cancelled() and t.exception() is None]


def _kill(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
    if process.stdin is not None:
        process.stdin.close()


def _kill_when_started(task: asyncio.Task[asyncio.subprocess.Process]) -> None:
    if not task.cancelled() and task.exception() is None:
        _kill(task.result())
