"""The producers of one server: who makes which segment, within which limits.

A request for segment N of a variant: cached -> served; a producer at or a little before N
-> wait for it (two viewers of one video share it); otherwise (a seek, a first request) a
new producer starts at N. At most ``transcode_workers`` run at once; up to
``transcode_queue`` more wait for a free one; past that :class:`Busy` (a 503 with
Retry-After). A producer whose last request is ``transcode_idle`` seconds old stops; one
that takes longer than ``segment_timeout`` for a segment is killed (a hostile file costs
that one process). ``snapshot()`` is what /api/stats, /metrics and ``mediaserve stats``
show.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import os
import time
from collections import Counter, deque
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from mediaserve.adapters.playback.cache import SegmentCache
from mediaserve.adapters.playback.jobs import Job
from mediaserve.adapters.playback.producers import (
    PREEMPTED,
    STOPPED,
    Producer,
    ProducerFailed,
)
from mediaserve.adapters.playback.spares import Spares
from mediaserve.core.config.settings import Settings

TICK_S = 1.0
ANALYSIS_TIMEOUT_S = 120.0
#: spare workers are kept this long after the last playback request
SPARE_IDLE_S = 60.0
#: a variant whose producer failed is not retried for this long (each retry is a process)
FAILURE_MEMORY_S = 60.0
ANALYSIS_FILE = "analysis.json"
COMPLETE_MARKER = "complete"
STOPPING = "the server is stopping"


class Busy(Exception):
    """Every producer is taken and the queue is full."""

    def __init__(self, retry_after: int) -> None:
        super().__init__("every converter is busy")
        self.retry_after = retry_after


def worker_count(settings: Settings) -> int:
    return settings.transcode_workers or max(1, (os.cpu_count() or 2) - 1)


class PlaybackService:
    """Producers, their queue and the segment cache, for one server process."""

    def __init__(self, cache: SegmentCache, settings: Settings) -> None:
        self.cache = cache
        self.settings = settings
        self.workers = worker_count(settings)
        self.by_folder: dict[Path, list[Producer]] = {}
        self.running: set[Producer] = set()
        self.queue: deque[asyncio.Future[None]] = deque()
        self.failed: dict[Path, tuple[float, str]] = {}
        self._analyses: dict[Path, asyncio.Future[dict[str, Any]]] = {}
        self._ticker: asyncio.Task[None] | None = None
        self.spares = Spares(keep=1, idle=max(SPARE_IDLE_S, settings.transcode_idle))
        self._tasks: set[asyncio.Future[None]] = set()
        self.started: Counter[str] = Counter()
        self.counts: Counter[str] = Counter()
        self.media_seconds = 0.0
        self.work_seconds = 0.0

    # -- life --------------------------------------------------------------------------

    async def start(self) -> None:
        await self.cache.start()
        self._ticker = asyncio.create_task(self._tick_forever())

    async def close(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
        await self.spares.close()
        for producers in list(self.by_folder.values()):
            for producer in producers:
                producer.fail(STOPPING)
        ended = [p.ended for ps in self.by_folder.values() for p in ps]
        if ended:
            await asyncio.wait(ended, timeout=5)

    async def _tick_forever(self) -> None:
        while True:
            await asyncio.sleep(TICK_S)
            self.tick()

    def tick(self) -> None:
        """Stop idle producers, kill those over their time budget, drop unused spares."""
        now = time.monotonic()
        self.spares.tick()
        for producers in list(self.by_folder.values()):
            for producer in producers:
                if not producer.alive or producer.process is None or producer.stopping:
                    continue
                if producer.working and now - producer.progress_at > \
                        self.settings.segment_timeout:
                    self.counts["timeouts"] += 1
                    producer.fail(f"one segment took longer than "
                                  f"{self.settings.segment_timeout:g} s")
                elif not producer.working and now - max(
                        producer.last_demand, producer.progress_at) > \
                        self.settings.transcode_idle:
                    # idle = waiting for allowance with no viewer asking: a producer still
                    # running ahead is bounded by its allowance (AHEAD segments) anyway
                    self.counts["idle_stops"] += 1
                    producer.stop()

    # -- analysis ----------------------------------------------------------------------

    def warm(self) -> None:
        """A viewer is about to play through HLS: have a worker process started already."""
        if self.settings.live_transcode and self.settings.transcode:
            self.spares.warm()

    async def analysis(self, folder: Path, paths: tuple[str, ...]) -> dict[str, Any]:
        """The keyframe index and codecs of a version (``folder``), cached on disk. Every
        HLS request comes here first: playback is going on, so a spare worker is kept."""
        self.warm()
        future = self._analyses.get(folder)
        if future is None or (future.done() and future.exception() is not None):
            future = asyncio.ensure_future(self._analyse(folder, paths))
            self._analyses[folder] = future
            while len(self._analyses) > 256:  # memory: the disk keeps them all
                self._analyses.pop(next(iter(self._analyses)))
        return await asyncio.shield(future)

    async def _analyse(self, folder: Path, paths: tuple[str, ...]) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        target = folder / ANALYSIS_FILE

        def read() -> dict[str, Any] | None:
            with contextlib.suppress(OSError, ValueError):
                return dict(json.loads(target.read_text()))
            return None

        cached = await loop.run_in_executor(None, read)
        if cached is not None:
            return cached
        process = await self.spares.spawn({"analyse": list(paths)})
        try:
            out, _err = await asyncio.wait_for(process.communicate(), ANALYSIS_TIMEOUT_S)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            raise ProducerFailed("reading the keyframe index took too long") from None
        doc = json.loads(out.decode().splitlines()[0]) if out.strip() else {}
        if "analysis" not in doc:
            raise ProducerFailed(str(doc.get("error", "the file cannot be read")))

        def write() -> None:
            tmp = target.with_name(target.name + ".tmp")
            tmp.write_text(json.dumps(doc["analysis"]))
            os.replace(tmp, target)

        await loop.run_in_executor(None, write)
        return dict(doc["analysis"])

    # -- segments ----------------------------------------------------------------------

    async def produced(self, folder: Path, job: Job, number: int, fd: int) -> Path:
        """The path of segment ``number`` (-1: the init segment) once it exists, made by a
        producer if need be. ``fd`` (the open source) is the caller's when the answer
        comes from the cache or an existing producer, else the new producer's (closed
        when it ends). Raises Busy or ProducerFailed."""
        failure = self.failed.get(folder)
        if failure is not None and time.monotonic() - failure[0] < FAILURE_MEMORY_S:
            os.close(fd)
            raise ProducerFailed(failure[1])
        target = number if number >= 0 else 0
        producers = self.by_folder.setdefault(folder, [])
        chosen = next((p for p in producers if p.near(target)), None)
        if chosen is None and number == -1:
            chosen = next((p for p in producers if p.alive), None)
        if chosen is not None:
            os.close(fd)
        else:
            chosen = Producer(folder, _at(job, target), job.kind, fd, self._segment_written,
                              self._unwanted, self.spares.spawn)
            producers.append(chosen)
            chosen.ended.add_done_callback(functools.partial(self._ended_callback, chosen))
            self._preempt(folder, len(self.queue))
            try:
                await self._slot(chosen)
            except BaseException:
                chosen.fail("gave up waiting for a free converter")
                raise
            self.started[job.kind] += 1
            await chosen.start()
        chosen.demand(target)
        path = chosen.path(number)
        if path.exists():  # made between the cache check and now
            return path
        await chosen.wait_for(number)
        return path

    def _preempt(self, folder: Path | None, waiting: int = 0) -> None:
        """Free a converter for a viewer who waits, when every one is taken, by stopping one
        that only works ahead of every request: this video's first (its viewer seeked, or
        picked another rendition: the prefetch of where it was is worthless), else the one
        asked least recently (a viewer who left). Real demand beats prefetch; without this a
        seek on a one-worker server waited for the old producer's idle time (20 s).
        ``waiting``: requests already queued that this one comes after."""
        if len(self.running) < self.workers:
            return
        if sum(p.preempted for p in self.running) > waiting:
            return  # enough converters are being freed already
        ahead = [p for p in self.running if p.speculative and not p.preempted]
        if not ahead:
            return
        video = folder.parent if folder is not None else None
        victim = min(ahead, key=lambda p: (p.folder.parent != video, p.last_demand))
        self.counts["preempted"] += 1
        victim.preempt()

    def _unwanted(self, producer: Producer) -> None:
        """A producer's last waiting request gave up (its viewer seeked away and the request
        was aborted): the requests queued for a converter may take it now."""
        for waiting in range(len(self.queue)):
            self._preempt(producer.folder, waiting)

    async def _slot(self, producer: Producer) -> None:
        if len(self.running) >= self.workers:
            if len(self.queue) >= self.settings.transcode_queue:
                self.counts["busy"] += 1
                raise Busy(max(1, round(self.settings.transcode_idle / 4)))
            future = asyncio.get_running_loop().create_future()
            self.queue.append(future)
            try:
                await future
            except BaseException:
                if future in self.queue:
                    self.queue.remove(future)
                if future.done() and not future.cancelled():
                    self._release()  # the slot was ours already: hand it on
                raise
        self.running.add(producer)

    def _release(self) -> None:
        while self.queue:
            future = self.queue.popleft()
            if not future.done():
                future.set_result(None)
                return

    def _ended_callback(self, producer: Producer, _future: asyncio.Future[None]) -> None:
        self._ended(producer)

    def _ended(self, producer: Producer) -> None:
        producers = self.by_folder.get(producer.folder, [])
        if producer in producers:
            producers.remove(producer)
        if not producers:
            self.by_folder.pop(producer.folder, None)
        if producer in self.running:
            self.running.discard(producer)
            self._release()
        if producer.error is not None and producer.process is not None and \
                producer.error not in (STOPPING, STOPPED, PREEMPTED):
            self.counts["failures"] += 1  # remembered: a retry would fail the same way
            self.failed[producer.folder] = (time.monotonic(), producer.error)
        if producer.done and producer.job.start == 0:
            self.background(self._mark_complete(producer.folder, len(producer.job.starts)))

    async def _mark_complete(self, folder: Path, count: int) -> None:
        from mediaserve.core.playback.hls import segment_name

        def check() -> None:
            if all((folder / segment_name(n)).exists() for n in range(count)):
                (folder / COMPLETE_MARKER).touch()

        with contextlib.suppress(OSError):
            await asyncio.get_running_loop().run_in_executor(None, check)

    def _segment_written(self, producer: Producer, doc: dict[str, Any]) -> None:
        self.counts["segments"] += 1
        self.media_seconds += float(doc.get("media_seconds", 0.0))
        self.work_seconds += float(doc.get("seconds", 0.0))
        self.cache.added(str(producer.path(int(doc["segment"]))), int(doc.get("bytes", 0)))
        self.background(self.cache.evict())

    def background(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- statistics --------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        running = Counter(p.mode for p in self.running)
        return {
            "workers": self.workers,
            "running": {mode: running.get(mode, 0) for mode in ("remux", "audio", "transcode")},
            "queued": len(self.queue),
            "started": {mode: self.started.get(mode, 0)
                        for mode in ("remux", "audio", "transcode")},
            "segments": self.counts["segments"],
            "media_seconds": round(self.media_seconds, 3),
            "realtime_factor": (round(self.media_seconds / self.work_seconds, 2)
                                if self.work_seconds > 0 else None),
            "failures": self.counts["failures"],
            "timeouts": self.counts["timeouts"],
            "idle_stops": self.counts["idle_stops"],
            "preempted": self.counts["preempted"],
            "busy_refusals": self.counts["busy"],
            "cache": self.cache.snapshot(),
        }


def _at(job: Job, start: int) -> Job:
    from dataclasses import replace

    return replace(job, start=start, allow=start)
