"""``mediaserve prepare``'s engine: make whole variants ahead of time, into the server's cache.

The same producers as the server's (one ``producer_worker`` process per variant, from
segment 0 to the end, no allowance limit) write into the same folders (``cache_folder``,
version by file identity), and a finished variant gets the ``complete`` marker that
``serve --no-live-transcode`` looks for. A variant already complete is skipped. Runs
threads that each drive one worker process: the CPU work is in the workers.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from mediaserve.adapters.playback.cache import SegmentCache, cache_folder, version_key
from mediaserve.adapters.playback.jobs import Job
from mediaserve.adapters.playback.manager import ANALYSIS_FILE, COMPLETE_MARKER
from mediaserve.adapters.playback.producers import WORKER_MODULE
from mediaserve.adapters.playback.variants import NoVariant, variant_job
from mediaserve.adapters.server.site.safe_open import RootOpener
from mediaserve.core.library.index import LibraryIndex, VideoEntry
from mediaserve.core.library.status import EntryStatus
from mediaserve.core.playback.decide import CONTAINER_KEY, Mode, decide
from mediaserve.core.playback.segments import ladder


@dataclass(slots=True)
class Task:
    """One variant of one video to make."""

    entry: VideoEntry
    variant: str
    mode: str
    segments: int = 0
    done: int = 0
    status: str = "waiting"  # made, cached, failed, skipped
    error: str | None = None
    seconds: float = 0.0

    def as_json(self) -> dict[str, Any]:
        return {"id": self.entry.id, "path": self.entry.path, "variant": self.variant,
                "mode": self.mode, "segments": self.segments, "status": self.status,
                "error": self.error, "seconds": round(self.seconds, 3)}


@dataclass(slots=True)
class Plan:
    tasks: list[Task] = field(default_factory=list)
    direct: int = 0  # videos that play as they are in the default browser


def plan_tasks(index: LibraryIndex, qualities: tuple[str, ...], only_needed: bool) -> Plan:
    """Which variants to make: the default browser's plan of each video (the top rendition,
    or the ``qualities`` asked for, of a transcode), and without ``only_needed`` also the
    remux of a Matroska/WebM/QuickTime file that Chromium plays as it is (Safari cannot)."""
    plan = Plan()
    for entry in sorted(index.videos.values(), key=lambda e: e.path):
        if entry.status != EntryStatus.OK:
            continue
        decision = decide(entry.facts)
        if decision.mode is Mode.TRANSCODE:
            names = [r.name for r in ladder(entry.facts.width, entry.facts.height)]
            wanted = names if "all" in qualities else [n for n in names if n in qualities]
            for name in wanted or names[:1]:
                plan.tasks.append(Task(entry, name, "transcode"))
        elif decision.hls:
            plan.tasks.append(Task(entry, str(decision.mode), str(decision.mode)))
        elif decision.mode is Mode.DIRECT:
            plan.direct += 1
            container = CONTAINER_KEY.get(entry.facts.container or "")
            if not only_needed and container not in (None, "mp4"):
                plan.tasks.append(Task(entry, "remux", "remux"))
    return plan


class Preparer:
    """Makes the tasks of a plan with ``workers`` producer processes at once."""

    def __init__(self, index: LibraryIndex, root: Path, cache_dir: str = "",
                 workers: int = 1) -> None:
        self.index = index
        self.opener = RootOpener(root)
        self.cache = SegmentCache(cache_folder(index.root, cache_dir), 0)
        self.workers = max(1, workers)

    def run(self, tasks: list[Task], progress: Callable[[Task], None]) -> None:
        with ThreadPoolExecutor(self.workers) as pool:
            for _ in pool.map(lambda task: self._one(task, progress), tasks):
                pass

    def _one(self, task: Task, progress: Callable[[Task], None]) -> None:
        began = time.monotonic()
        try:
            self._make(task, progress)
        except (OSError, NoVariant, ValueError) as exc:
            task.status, task.error = "failed", str(exc)[:300]
        task.seconds = time.monotonic() - began
        progress(task)

    def close(self) -> None:
        self.opener.close()

    def _make(self, task: Task, progress: Callable[[Task], None]) -> None:
        fd = self.opener.open(task.entry.path)
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise OSError("not a regular file")
            folder, _removed = self.cache.prepare_version(
                task.entry.id, version_key(info.st_size, info.st_mtime_ns, info.st_ino))
            source = (f"/proc/{os.getpid()}/fd/{fd}",)
            analysis = self._analysis(folder, source)
            job = variant_job(task.entry.facts, analysis, task.variant, source, folder)
            task.segments = len(job.starts)
            out = Path(job.out)
            if (out / COMPLETE_MARKER).exists():
                task.status, task.done = "cached", task.segments
                return
            out.mkdir(parents=True, exist_ok=True)
            self._produce(replace(job, start=0, allow=len(job.starts)), task, progress)
            (out / COMPLETE_MARKER).touch()
            task.status = "made"
        finally:
            os.close(fd)

    def _worker(self, first: dict[str, Any]) -> subprocess.Popen[str]:
        process = subprocess.Popen([sys.executable, "-m", WORKER_MODULE], text=True,
                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                   stderr=subprocess.DEVNULL, pass_fds=())
        assert process.stdin is not None
        process.stdin.write(json.dumps(first) + "\n")
        process.stdin.flush()
        return process

    def _analysis(self, folder: Path, source: tuple[str, ...]) -> dict[str, Any]:
        target = folder / ANALYSIS_FILE
        if target.exists():
            return dict(json.loads(target.read_text()))
        process = self._worker({"analyse": list(source)})
        out, _err = process.communicate(timeout=600)
        doc = json.loads(out.splitlines()[0]) if out.strip() else {}
        if "analysis" not in doc:
            raise OSError(doc.get("error", "the file cannot be read"))
        target.write_text(json.dumps(doc["analysis"]))
        return dict(doc["analysis"])

    def _produce(self, job: Job, task: Task, progress: Callable[[Task], None]) -> None:
        process = self._worker({"job": job.to_json()})
        assert process.stdout is not None
        error = None
        finished = False
        for line in process.stdout:
            doc = json.loads(line)
            if "segment" in doc:
                task.done = int(doc["segment"]) + 1
                task.status = "making"
                progress(task)
            elif doc.get("done"):
                finished = True
            elif "error" in doc:
                error = str(doc["error"])
        process.wait()
        if not finished:
            raise OSError(error or f"the producer exited ({process.returncode})")
