"""One writer at a time: an advisory ``fcntl`` lock on a file beside the index.

``scan``, ``audit`` and the folder watcher each read the index, change it and write it back.
Two of them interleaving would lose one's update (both read version 1, the last rename wins).
Each writer therefore holds ``INDEX.lock`` (``flock``, exclusive) from before it reads until
after it has renamed the new index into place. A second writer waits a little, then gives up
with a message that names the holder (pid and command line), which the holder writes into the
lock file.

Readers (the server) take no lock at all: writes are atomic renames, so a reader always sees a
complete old or new index, and a long scan can never stall a server. The lock file is never
deleted (deleting it would let two writers lock two different files); the kernel releases the
lock when its holder exits, even by ``kill -9``.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

LOCK_SUFFIX = ".lock"
DEFAULT_WAIT = 5.0  # seconds a second writer waits before it gives up
ENV_WAIT = "MEDIASERVE_LOCK_WAIT"  # overrides DEFAULT_WAIT (seconds)


def default_wait() -> float:
    try:
        return max(0.0, float(os.environ.get(ENV_WAIT, DEFAULT_WAIT)))
    except ValueError:
        return DEFAULT_WAIT


class IndexLocked(RuntimeError):
    """Another writer holds the index; the message says who."""

    def __init__(self, message: str, holder: dict[str, object]) -> None:
        super().__init__(message)
        self.holder = holder


def lock_path(index_path: Path) -> Path:
    return Path(index_path).with_name(Path(index_path).name + LOCK_SUFFIX)


def _holder(fd: int) -> dict[str, object]:
    try:
        data = os.pread(fd, 4096, 0)
        holder = json.loads(data.decode("utf-8")) if data.strip() else {}
    except (OSError, ValueError):
        return {}
    return holder if isinstance(holder, dict) else {}


def _describe(holder: dict[str, object]) -> str:
    if not holder:
        return "another process"
    return f"pid {holder.get('pid', '?')} ({holder.get('command', '?')})"


@contextlib.contextmanager
def writer_lock(index_path: Path, command: str | None = None,
                wait: float | None = None) -> Iterator[None]:
    """Hold the writer lock of ``index_path`` for the ``with`` block.

    Waits up to ``wait`` seconds (default 5, or ``MEDIASERVE_LOCK_WAIT``) for another writer,
    then raises :class:`IndexLocked`.
    """
    wait = default_wait() if wait is None else wait
    path = lock_path(index_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
    try:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    raise
            if time.monotonic() >= deadline:
                holder = _holder(fd)
                raise IndexLocked(
                    f"{index_path} is being written by {_describe(holder)}; waited "
                    f"{wait:g} s. Try again when it has finished (lock file {path})", holder)
            time.sleep(0.05)
        me = {"pid": os.getpid(), "command": command or " ".join(
            [Path(sys.argv[0]).name, *sys.argv[1:]])}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(me).encode("utf-8") + b"\n", 0)
        try:
            yield
        finally:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
