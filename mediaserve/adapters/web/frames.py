"""Posters and seek-preview sprites: cached on disk, made on demand in worker processes.

Why worker processes: decoding is CPU work that would stall every stream if it ran on the
event loop, FFmpeg can hang or crash on a hostile file, and the serving process stays lean
when it never loads FFmpeg (``framegen`` imports PyAV only inside the workers). A pool is
started on first use with the ``spawn`` method (forking a process that runs an event loop
and threads is unsafe) and shut down again after a minute without work.

Cache: ``DATA_DIR/cache/LIBRARY-KEY/{posters,sprites}/ID-VERSION[-LAYOUT].jpg`` where
VERSION is derived from the file's current size and mtime (a fresh ``fstat`` on every
request), so a changed video gets a new picture and the old one is removed. A video no frame
can be read from gets an ``.none`` marker instead, and the placeholder image, until it
changes. Nothing is ever written into the library folder.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import multiprocessing
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pebble

from mediaserve.adapters.web import framegen
from mediaserve.core.web.decoding import WORKER_MEMORY_LIMIT
from mediaserve.core.web.media import version_token

log = logging.getLogger("mediaserve")

IDLE_SHUTDOWN_S = 60.0
POSTER_TIMEOUT_S = 30.0
SPRITE_TIMEOUT_S = 300.0
#: a poster's longer side, in pixels
POSTER_SIDE = 480


def cache_root(data_dir: Path, library_root: str) -> Path:
    """This library's cache folder inside the data folder."""
    real = os.path.realpath(library_root)
    digest = hashlib.sha256(real.encode("utf-8", "surrogateescape")).hexdigest()[:12]
    return data_dir / "cache" / digest


@dataclass(frozen=True, slots=True)
class Source:
    """A video opened beneath the root: paths a worker can open, and its current version."""

    paths: tuple[str, ...]
    version: str


class WorkerDied(RuntimeError):
    """The worker running a job died (a crash in FFmpeg, the memory cap, a kill)."""


class _Pool:
    """A lazily started, self-stopping pool of worker processes (pebble's): a job that runs
    over its time, or whose worker dies, costs that one worker, which pebble kills or
    replaces, never the other jobs (``concurrent.futures`` could only break the whole pool,
    and killing a hung worker meant reaching into its private ``_processes``)."""

    def __init__(self, name: str, workers: int) -> None:
        self.name = name
        self.workers = workers
        self._pool: pebble.ProcessPool | None = None
        self._busy = 0
        self._idle: asyncio.TimerHandle | None = None
        # at most one job per worker is handed to the pool, so a job's time limit counts its
        # own run and not the queue in front of it (60 posters asked at once must not time
        # out for waiting, nor get their neighbour killed)
        self._slots = asyncio.Semaphore(workers)

    def _get(self) -> pebble.ProcessPool:
        if self._pool is None:
            # each worker caps its own address space before its first job (a hostile
            # file then costs that job, not the machine's memory)
            self._pool = pebble.ProcessPool(
                max_workers=self.workers, context=multiprocessing.get_context("spawn"),
                initializer=framegen.limit_memory, initargs=(WORKER_MEMORY_LIMIT,))
        return self._pool

    async def run(self, timeout: float, func: Callable[..., Any], *args: Any) -> Any:
        """``func(*args)`` in a worker; TimeoutError past ``timeout`` (the worker is
        killed), :class:`WorkerDied` when its worker died under it."""
        loop = asyncio.get_running_loop()
        if self._idle is not None:
            self._idle.cancel()
            self._idle = None
        self._busy += 1
        try:
            async with self._slots:
                future = self._get().schedule(func, args=args, timeout=timeout)
                try:
                    return await asyncio.wrap_future(future)
                except pebble.ProcessExpired as exc:
                    raise WorkerDied(f"worker exited with {exc.exitcode}") from None
                except asyncio.CancelledError:
                    future.cancel()  # a running job's worker is stopped with it
                    raise
        finally:
            self._busy -= 1
            if self._busy == 0 and self._pool is not None:
                self._idle = loop.call_later(IDLE_SHUTDOWN_S, self.stop)

    def kill(self) -> None:
        """Stop the workers now (shutdown)."""
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.stop()
            pool.join(timeout=1.0)

    def stop(self) -> None:
        """A minute without work: let the workers go."""
        self._idle = None
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.close()  # its own threads join the idle workers


class FrameService:
    """Posters and sprites for one library; one instance per server process."""

    def __init__(self, cache: Path, opener: Any) -> None:
        self.cache = cache
        self.opener = opener
        workers = max(1, min(2, (os.cpu_count() or 1) // 2))
        self._posters = _Pool("posters", workers)
        self._sprites = _Pool("sprites", 1)  # background work: never more than one CPU
        self._jobs: dict[Path, asyncio.Future[bool]] = {}
        self._heavy = asyncio.Semaphore(1)  # one big decode at a time, across both pools

    # -- files -------------------------------------------------------------------------

    def open_source(self, relpath: str) -> tuple[int, Source] | None:
        """Open the video beneath the root (the way a stream does); None when it is gone.
        The worker opens the same open file through ``/proc/PID/fd/N`` (no path is resolved
        twice), or the resolved path if /proc is not available to it."""
        try:
            fd = self.opener.open(relpath)
        except OSError:
            return None
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            os.close(fd)
            return None
        paths = [f"/proc/{os.getpid()}/fd/{fd}"]
        with contextlib.suppress(OSError):
            paths.append(os.readlink(paths[0]))
        return fd, Source(tuple(paths), version_token(info.st_size, info.st_mtime_ns))

    def version(self, relpath: str) -> str | None:
        """The video's current version token (fresh fstat), None when it is gone."""
        opened = self.open_source(relpath)
        if opened is None:
            return None
        os.close(opened[0])
        return opened[1].version

    def poster_path(self, vid: str, version: str) -> Path:
        return self.cache / "posters" / f"{vid}-{version}.jpg"

    def sprite_path(self, vid: str, version: str, layout: str) -> Path:
        return self.cache / "sprites" / f"{vid}-{version}-{layout}.jpg"

    @staticmethod
    def _forget_others(target: Path, vid: str) -> None:
        """Remove cached pictures of older versions of this video."""
        with contextlib.suppress(OSError):
            for old in target.parent.glob(f"{vid}-*"):
                if old.name != target.name and old.name != target.name + ".none":
                    old.unlink(missing_ok=True)

    # -- jobs --------------------------------------------------------------------------

    async def ensure(self, kind: str, vid: str, relpath: str, target: Path,
                     func: Callable[..., bool], *args: Any, heavy: bool = True
                     ) -> Path | None:
        """``target`` once it exists (made now if needed), or None when no picture can be
        made (cached as a ``.none`` marker until the video changes). ``heavy``: a big or
        unknown picture size (``core.web.decoding.decodes_heavy``)."""
        loop = asyncio.get_running_loop()
        marker = target.with_name(target.name + ".none")
        if await loop.run_in_executor(None, target.exists):
            return target
        if await loop.run_in_executor(None, marker.exists):
            return None
        job = self._jobs.get(target)
        if job is None:
            job = asyncio.ensure_future(self._make(kind, vid, relpath, target, func, *args,
                                                   heavy=heavy))
            self._jobs[target] = job
            job.add_done_callback(lambda _f: self._jobs.pop(target, None))
        made = await asyncio.shield(job)
        return target if made else None

    async def _make(self, kind: str, vid: str, relpath: str, target: Path,
                    func: Callable[..., bool], *args: Any, heavy: bool = True) -> bool:
        loop = asyncio.get_running_loop()
        # a big picture, or one of unknown size, is decoded one at a time across both
        # pools: whatever the files, at most one worker holds a big decode
        async with self._heavy if heavy else contextlib.nullcontext():
            made = await self._run(kind, relpath, target, func, *args)
        marker = target.with_name(target.name + ".none")

        def settle() -> None:
            target.parent.mkdir(parents=True, exist_ok=True)
            if not made:
                marker.touch()
            self._forget_others(target, vid)

        with contextlib.suppress(OSError):
            await loop.run_in_executor(None, settle)
        return made

    async def _run(self, kind: str, relpath: str, target: Path, func: Callable[..., bool],
                   *args: Any) -> bool:
        """The job in its pool: True when the picture was made."""
        loop = asyncio.get_running_loop()
        opened = await loop.run_in_executor(None, self.open_source, relpath)
        if opened is None:
            return False
        fd, source = opened
        pool, timeout = ((self._posters, POSTER_TIMEOUT_S) if kind == "poster"
                         else (self._sprites, SPRITE_TIMEOUT_S))
        try:
            # a worker's death is this job's own (pebble keeps the others' apart)
            made = bool(await pool.run(timeout, func, source.paths, str(target), *args))
        except framegen.Refused as exc:  # over the pixel budget or the worker's memory
            log.warning("%s for %s refused (%s); using a placeholder until it changes",
                        kind, relpath, exc)
            made = False
        except (TimeoutError, WorkerDied) as exc:
            log.warning("%s for %s failed (%s); using a placeholder until it changes",
                        kind, relpath, type(exc).__name__)
            made = False
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("%s for %s failed", kind, relpath)
            made = False
        finally:
            os.close(fd)
        return made

    async def poster(self, vid: str, relpath: str, version: str, times: list[float], *,
                     heavy: bool = True, rotation: int = 0) -> Path | None:
        """``version``: the picture's (:func:`core.web.media.picture_version`), which names
        the rotation too, so a poster made before the rotation was known is not reused."""
        return await self.ensure("poster", vid, relpath, self.poster_path(vid, version),
                                 framegen.make_poster, times, POSTER_SIDE, rotation,
                                 heavy=heavy)

    async def sprite(self, vid: str, relpath: str, version: str, layout: str,
                     times: list[float], tile: tuple[int, int], columns: int, *,
                     heavy: bool = True, rotation: int = 0) -> Path | None:
        return await self.ensure("sprite", vid, relpath,
                                 self.sprite_path(vid, version, layout),
                                 framegen.make_sprite, times, tile, columns, rotation,
                                 heavy=heavy)

    def close(self) -> None:
        for job in list(self._jobs.values()):
            job.cancel()
        self._posters.kill()
        self._sprites.kill()
