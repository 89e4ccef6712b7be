"""Deep-check many files in killable worker processes.

A corrupt file cannot hang or crash the audit: each file is demuxed in a worker process
(:mod:`.deep_worker`) within a time and packet budget checked per packet, and a worker that
does not answer in time (stuck inside FFmpeg, or on a dead network mount) is killed and the
file reported as timed out. Threads could not give that guarantee: a thread blocked in C
cannot be stopped, and the interpreter waits for it at exit.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from mediaserve.adapters.audit import deep_worker
from mediaserve.adapters.audit.deep import DEFAULT_DEEP_TIMEOUT, DEFAULT_MAX_PACKETS
from mediaserve.core.audit.model import DeepFacts

ProgressCallback = Callable[[int, int], None]  # (done, total)

WORKER_MODULE = deep_worker.__name__  # started with ``python -m``
KILL_GRACE = 2.0  # seconds past the budget before a silent worker is killed
WORKER_START_TIMEOUT = 60.0  # interpreter + PyAV import; slow only on a cold, loaded machine


class DeepCheckUnavailable(RuntimeError):
    """A worker process could not be started (not a property of any media file)."""


def worker_command(budget: float, max_packets: int) -> list[str]:
    """How a worker is started: the public module entry point, with ``-P`` so that the
    current folder cannot shadow the package."""
    return [sys.executable, "-P", "-m", WORKER_MODULE, repr(budget), str(max_packets)]


class _Worker:
    """One worker process and the task it is on."""

    def __init__(self, budget: float, max_packets: int) -> None:
        package_parent = str(Path(__file__).resolve().parents[3])
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (package_parent, env.get("PYTHONPATH")) if p)
        self.proc = subprocess.Popen(
            worker_command(budget, max_packets),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            env=env, close_fds=True)
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.stdin, self.fd = self.proc.stdin, self.proc.stdout.fileno()
        os.set_blocking(self.fd, False)
        self.buffer = b""
        self.spawned = time.monotonic()
        self.ready = False
        self.task: str | None = None
        self.deadline = 0.0
        self.started = 0.0

    def send(self, path: str, deadline: float) -> bool:
        """Hand ``path`` to the worker; False if it has already gone (EOF comes next)."""
        try:
            self.stdin.write((json.dumps(path) + "\n").encode())
            self.stdin.flush()
        except OSError:
            return False
        self.task, self.started, self.deadline = path, time.monotonic(), deadline
        return True

    def read_lines(self) -> list[str] | None:
        """Complete lines available now; None once the worker has exited."""
        try:
            chunk = os.read(self.fd, 65536)
        except BlockingIOError:
            return []
        if not chunk:
            return None
        self.buffer += chunk
        *lines, self.buffer = self.buffer.split(b"\n")
        return [line.decode() for line in lines]

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.stdin.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=2)
        self.kill()


def deep_check_all(paths: Iterable[str], *, workers: int = 0,
                   timeout: float = DEFAULT_DEEP_TIMEOUT,
                   max_packets: int = DEFAULT_MAX_PACKETS, kill_grace: float = KILL_GRACE,
                   on_progress: ProgressCallback | None = None) -> dict[str, DeepFacts]:
    """:func:`~.deep.deep_demux` every path in worker processes; results keyed by path.

    Each file gets ``timeout`` seconds (checked by the worker per packet); a worker silent
    for ``timeout + kill_grace`` is killed and replaced, and its file comes back
    ``timed_out``. A worker that dies on a file (FFmpeg crashing on corrupt data) twice,
    each time in a fresh worker, yields an ``error`` for that file. Raises
    DeepCheckUnavailable if workers cannot start at all.
    """
    todo = list(dict.fromkeys(paths))
    results: dict[str, DeepFacts] = {}
    total = len(todo)
    if on_progress:
        on_progress(0, total)
    if not todo:
        return results
    count = max(1, min(workers or min(4, os.cpu_count() or 1), total))
    pending = list(reversed(todo))
    sel = selectors.DefaultSelector()
    pool: list[_Worker] = []
    crashes: dict[str, int] = {}

    def spawn() -> _Worker:
        worker = _Worker(timeout, max_packets)
        sel.register(worker.fd, selectors.EVENT_READ, worker)
        pool.append(worker)
        return worker

    def retire(worker: _Worker) -> None:
        sel.unregister(worker.fd)
        pool.remove(worker)
        worker.kill()

    def finish(worker: _Worker, facts: DeepFacts) -> None:
        assert worker.task is not None
        results[worker.task] = facts
        worker.task = None
        if on_progress:
            on_progress(len(results), total)

    def dispatch(worker: _Worker) -> None:
        if pending and worker.ready and worker.task is None:
            path = pending.pop()
            if not worker.send(path, time.monotonic() + timeout + kill_grace):
                pending.append(path)

    try:
        for _ in range(count):
            spawn()
        while len(results) < total:
            busy = [w for w in pool if w.task is not None]
            now = time.monotonic()
            wait = min((w.deadline for w in busy), default=now + 1.0) - now
            for key, _ in sel.select(timeout=max(0.0, min(wait, 1.0))):
                worker: _Worker = key.data
                lines = worker.read_lines()
                if lines is None:  # the worker died
                    task, elapsed = worker.task, time.monotonic() - worker.started
                    if task is None and not worker.ready:
                        raise DeepCheckUnavailable(
                            "a --deep worker process exited at start-up; check that "
                            f"'{sys.executable} -m {WORKER_MODULE} 1 1 </dev/null' works")
                    if task is not None:
                        code = worker.proc.wait()
                        crashes[task] = crashes.get(task, 0) + 1
                        if crashes[task] < 2:  # once more in a fresh worker: the OOM
                            pending.append(task)  # killer may have hit an innocent file
                            worker.task = None
                        else:
                            finish(worker, DeepFacts(
                                opened=True, elapsed=elapsed,
                                error=f"the demuxer crashed twice (exit status {code})"))
                    retire(worker)
                    if pending:
                        spawn()
                    continue
                for line in lines:
                    if line == deep_worker.READY:
                        worker.ready = True
                    elif worker.task is not None:
                        finish(worker, DeepFacts(**json.loads(line)))
                dispatch(worker)
            now = time.monotonic()
            for worker in [w for w in pool if w.task is not None and w.deadline < now]:
                finish(worker, DeepFacts(
                    opened=True, timed_out=True, elapsed=now - worker.started,
                    error=f"no answer within {timeout:g} s; the worker was stopped"))
                retire(worker)
                if pending:
                    spawn()
            if any(not w.ready and now - w.spawned > WORKER_START_TIMEOUT for w in pool):
                raise DeepCheckUnavailable(
                    f"a --deep worker did not start within {WORKER_START_TIMEOUT:g} s")
    finally:
        for worker in list(pool):
            sel.unregister(worker.fd)
            worker.close()
        sel.close()
    return results


__all__ = [
    "KILL_GRACE",
    "WORKER_MODULE",
    "DeepCheckUnavailable",
    "ProgressCallback",
    "deep_check_all",
    "worker_command",
]
