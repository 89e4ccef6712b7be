"""One producer: a worker process making one variant's segments, as the server sees it.

The process runs ``producer_worker`` with one job; this side reads its JSON lines, wakes the
requests waiting for each segment, raises its allowance as viewers ask further on, and kills
it by pid when told (idle, over its time budget, shutdown). Its source file stays open here
for the producer's life: the worker opens it through ``/proc/SERVER/fd/N``, so no path is
resolved twice (the way posters are made, see adapters/web/frames.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from mediaserve.adapters.playback.jobs import Job
from mediaserve.adapters.playback.spares import WORKER_MODULE, hand, start_worker
from mediaserve.core.playback.hls import INIT_NAME, segment_name

__all__ = ["WORKER_MODULE", "Producer", "ProducerFailed", "spawn_worker"]
#: segments a producer may run ahead of the furthest one asked for
AHEAD = 4
#: a request this many segments past a producer's next one still waits for it (a seek
#: further away starts a producer of its own)
NEAR = 2
#: the same for a transcode, counted from the segment it is making: each segment costs real
#: time (~1 s at 720p on a free core), so a request 2 or more past it is sooner served by a
#: new producer there (a spare worker's start plus one segment) than by waiting
NEAR_TRANSCODE = 1
KILL_GRACE_S = 2.0
STOPPED = "stopped: its viewers left"
PREEMPTED = "stopped: its converter was needed by a viewer waiting for a segment"


class ProducerFailed(Exception):
    """The producer ended without making the segment: its message says why."""


async def spawn_worker(first: dict[str, Any]) -> asyncio.subprocess.Process:
    """A new worker process with its first line already sent (see ``spares`` for one
    started ahead)."""
    return await hand(await start_worker(), first)


Spawn = Callable[[dict[str, Any]], Awaitable[asyncio.subprocess.Process]]


class Producer:
    """A running (or queued) worker for one variant folder."""

    def __init__(self, folder: Path, job: Job, mode: str, fd: int,
                 on_segment: Callable[[Producer, dict[str, Any]], None],
                 on_unwanted: Callable[[Producer], None] | None = None,
                 spawn: Spawn = spawn_worker) -> None:
        self.folder = folder
        self._spawn = spawn
        self.job = job
        self.mode = mode
        self.fd = fd
        self.next = job.start  # the next segment it will write
        self.allow = job.allow
        self.preempted = False
        self.last_demand = self.progress_at = time.monotonic()
        self.process: asyncio.subprocess.Process | None = None
        self.error: str | None = None
        self.done = False
        self.stopping = False
        self.ended = asyncio.get_running_loop().create_future()
        self._waiters: dict[int, list[asyncio.Future[None]]] = {}
        self._on_segment = on_segment
        self._on_unwanted = on_unwanted  # its last waiting request gave up (client gone)
        self._reader: asyncio.Task[None] | None = None

    @property
    def alive(self) -> bool:
        return not self.ended.done() and self.error is None

    @property
    def working(self) -> bool:
        """Making a segment now (not waiting for allowance, not finished)."""
        return self.process is not None and not self.done and self.next <= self.allow

    @property
    def speculative(self) -> bool:
        """Running only ahead of every request (prefetch): no request is waiting for what it
        makes (a request whose client left stops waiting, see routes._while_connected)."""
        return (self.process is not None and not self.done
                and not any(self._waiters.values()))

    def near(self, number: int) -> bool:
        if not self.alive or self.stopping:
            return False
        if self.mode == "transcode":
            return self.next <= number <= self.next + NEAR_TRANSCODE
        return self.next <= number <= max(self.next, self.allow) + NEAR

    async def start(self) -> None:
        """Spawn the worker with the allowance known now. A viewer may raise it while the
        process is still being spawned (``_send`` has no process to write to then), so a
        rise during the spawn is sent as soon as the process exists."""
        self.progress_at = time.monotonic()
        allow = self.allow
        self.process = await self._spawn({"job": {**self.job.to_json(), "allow": allow}})
        if self.allow > allow:
            self._send({"allow": self.allow})
        self._reader = asyncio.create_task(self._read())

    def demand(self, number: int) -> None:
        """A viewer wants ``number``: keep running, and run up to AHEAD past it."""
        self.last_demand = time.monotonic()
        wanted = min(number + AHEAD, len(self.job.starts) - 1)
        if wanted > self.allow:
            was_waiting = not self.working
            self.allow = wanted
            if was_waiting:
                self.progress_at = time.monotonic()
            self._send({"allow": wanted})

    def _send(self, doc: dict[str, Any]) -> None:
        process = self.process
        if process is None or process.stdin is None or process.stdin.is_closing():
            return
        with contextlib.suppress(ConnectionError, RuntimeError):
            process.stdin.write((json.dumps(doc) + "\n").encode())

    async def wait_for(self, number: int) -> None:
        """Until segment ``number`` (-1: the init segment) is written by this producer."""
        if number < self.next and number >= self.job.start:
            return
        if number == -1 and self.next > self.job.start:
            return
        if not self.alive:
            raise ProducerFailed(self.error or "the producer has stopped")
        future = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(number, []).append(future)
        try:
            await future
        except asyncio.CancelledError:
            self._forget(number, future)
            if self._on_unwanted is not None and self.speculative:
                self._on_unwanted(self)
            raise
        finally:
            self._forget(number, future)

    def _forget(self, number: int, future: asyncio.Future[None]) -> None:
        waiting = self._waiters.get(number)
        if waiting and future in waiting:
            waiting.remove(future)

    def path(self, number: int) -> Path:
        return self.folder / (INIT_NAME if number == -1 else segment_name(number))

    async def _read(self) -> None:
        process = self.process
        assert process is not None and process.stdout is not None
        try:
            async for raw in process.stdout:
                try:
                    doc = json.loads(raw)
                except ValueError:
                    continue
                if "segment" in doc:
                    self._segment_done(doc)
                elif doc.get("done"):
                    self.done = True
                elif doc.get("stopped"):
                    self.error = self.error or STOPPED
                elif "error" in doc:
                    self.error = str(doc["error"])
        finally:
            await process.wait()
            if not self.done and self.error is None:  # killed, or crashed in FFmpeg
                self.error = f"the producer exited ({process.returncode})"
            # a worker killed mid-segment (preempted, over its budget, past its stop's
            # grace) leaves the segment it was writing as a temporary file of its pid
            with contextlib.suppress(OSError):
                await asyncio.get_running_loop().run_in_executor(
                    None, remove_leftovers, self.folder, process.pid)
            self._end(self.error or "finished")

    def _segment_done(self, doc: dict[str, Any]) -> None:
        number = int(doc["segment"])
        self.next = number + 1
        self.progress_at = time.monotonic()
        self._on_segment(self, doc)
        for key in (number, -1):
            for future in self._waiters.pop(key, []):
                if not future.done():
                    future.set_result(None)

    def _end(self, why: str) -> None:
        for waiting in self._waiters.values():
            for future in waiting:
                if not future.done():
                    future.set_exception(ProducerFailed(why))
        self._waiters.clear()
        with contextlib.suppress(OSError):
            os.close(self.fd)
        self.fd = -1
        if not self.ended.done():
            self.ended.set_result(None)

    def fail(self, why: str) -> None:
        """Stop it now (over its time budget, or shutting down)."""
        if self.error is None and not self.done:
            self.error = why
        self.kill()
        if self.process is None:  # still queued: nothing to wait for
            self._end(why)

    def preempt(self) -> None:
        """Stop it now to free its converter (it was only working ahead): not a failure."""
        self.preempted = True
        if self.error is None and not self.done:
            self.error = PREEMPTED
        self.kill()

    def stop(self) -> None:
        """Ask it to end (its viewers left); killed if it does not within the grace."""
        self.stopping = True
        self._send({"stop": True})
        process = self.process
        if process is not None and process.stdin is not None:
            with contextlib.suppress(ConnectionError, RuntimeError, OSError):
                process.stdin.close()
        asyncio.get_running_loop().call_later(KILL_GRACE_S, self.kill)

    def kill(self) -> None:
        process = self.process
        if process is not None and process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.kill()

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None


def remove_leftovers(folder: Path, pid: int) -> None:
    """Delete the temporary files the worker ``pid`` left in ``folder`` (its files are
    named ``NAME.PID.tmp``, segmenter.py): nobody else writes under that pid."""
    suffix = f".{pid}.tmp"
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.name.endswith(suffix):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(entry.path)
