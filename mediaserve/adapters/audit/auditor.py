"""The audit's I/O: fresh stats, content hashes, bounded deep demuxing, re-probing, fixing
the index, and the faststart remux.

Decisions live in :mod:`mediaserve.core.audit.rules`; this module only gathers evidence and
carries out a plan. Two promises hold everywhere here:

* no media file is deleted, moved or modified, except by :func:`remux_faststart` with
  ``in_place=True``, which replaces a file only with a verified stream copy of itself;
* a corrupt file cannot hang or crash the audit: ``--deep`` demuxes in worker processes,
  each file within a time and packet budget checked per packet, and a worker that does not
  answer in time (stuck inside FFmpeg, or on a dead network mount) is killed and the file
  reported as a ``timeout``. Threads could not give that guarantee: a thread blocked in C
  cannot be stopped, and the interpreter waits for it at exit.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import selectors
import shutil
import stat as stat_mod
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av

from mediaserve.adapters.library.locate import Library
from mediaserve.adapters.library.store import save_index, write_atomic
from mediaserve.adapters.media import prober
from mediaserve.adapters.media.containers import mp4_boxes
from mediaserve.adapters.media.hashing import HASH_SPAN, content_key  # noqa: F401 (re-export)
from mediaserve.core.audit.rules import (
    DEFAULT_OPTIONS,
    AuditOptions,
    AuditReport,
    DeepFacts,
    FreshStat,
    audit_library,
    duplicate_candidates,
    duplicate_groups,
    needs_reprobe,
    refreshed_entry,
    with_duplicates,
)
from mediaserve.core.library.index import LibraryIndex, ProbeOutcome, VideoEntry

ProgressCallback = Callable[[int, int], None]  # (done, total)

DEFAULT_DEEP_TIMEOUT = 30.0  # seconds per file
DEFAULT_MAX_PACKETS = 5_000_000  # ~55 h of 25 fps video: beyond that, give up (timeout)
KILL_GRACE = 2.0  # seconds past the budget before a silent worker is killed
WORKER_START_TIMEOUT = 60.0  # interpreter + PyAV import; slow only on a cold, loaded machine
BACKUP_SUFFIX = ".bak"


# --------------------------------------------------------------------------- stat and hash


def fresh_stat(path: Path) -> FreshStat:
    """Stat ``path`` now (following symlinks, as the server does) and check read permission
    with ``os.access``, which answers for this process's real user without opening."""
    try:
        st = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return FreshStat(exists=False)
    except PermissionError:  # a parent folder we cannot search
        return FreshStat(exists=True, readable=False)
    regular = stat_mod.S_ISREG(st.st_mode)
    return FreshStat(exists=True, size=st.st_size, mtime_ns=st.st_mtime_ns,
                     readable=os.access(path, os.R_OK), regular=regular)


# --------------------------------------------------------------------------- deep demux


def _attached_pic(stream: Any) -> bool:
    return bool(stream.disposition & av.stream.Disposition.attached_pic)


def deep_demux(path: str | os.PathLike[str], budget_s: float = DEFAULT_DEEP_TIMEOUT,
               max_packets: int = DEFAULT_MAX_PACKETS) -> DeepFacts:
    """Read every audio/video packet of ``path`` without decoding: the video packet count
    and where the last packet ends. Checks its budget on every packet; never raises for a
    bad file. Runs in a worker process (see :func:`deep_check_all`); callable directly."""
    started = time.monotonic()
    deadline = started + budget_s
    try:
        container = av.open(os.fspath(path), metadata_errors="ignore")
    except (av.error.FFmpegError, OSError, ValueError, UnicodeDecodeError) as exc:
        return DeepFacts(opened=False, error=_describe(exc),
                         elapsed=time.monotonic() - started)
    with container:
        video = next((s for s in container.streams.video if not _attached_pic(s)), None)
        streams = [s for s in container.streams
                   if s.type in ("video", "audio") and not _attached_pic(s)]
        duration = container.duration / av.time_base if container.duration else None
        origin = container.start_time / av.time_base if container.start_time else 0.0
        packets = seen = 0
        end: float | None = None
        error: str | None = None
        timed_out = False
        try:
            for packet in container.demux(streams):
                if not packet.size:
                    continue  # flush packets and AVI padding
                seen += 1
                if video is not None and packet.stream.index == video.index:
                    packets += 1
                ts = packet.pts if packet.pts is not None else packet.dts
                if ts is not None and packet.time_base is not None:
                    stop = float((ts + (packet.duration or 0)) * packet.time_base) - origin
                    end = stop if end is None else max(end, stop)
                if time.monotonic() > deadline:
                    timed_out, error = True, f"time budget of {budget_s:g} s exceeded"
                    break
                if seen >= max_packets:
                    timed_out, error = True, f"packet budget of {max_packets} exceeded"
                    break
        except (av.error.FFmpegError, OSError, ValueError) as exc:
            error = _describe(exc)
    return DeepFacts(opened=True, has_video=video is not None, video_packets=packets,
                     end_time=round(end, 3) if end is not None else None,
                     duration=round(duration, 3) if duration is not None else None,
                     error=error, timed_out=timed_out, elapsed=time.monotonic() - started)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, av.error.FFmpegError):
        kind = type(exc).__name__.removesuffix("Error") or "FFmpeg"
        return f"{kind}: {getattr(exc, 'strerror', None) or exc}"
    return f"{type(exc).__name__}: {exc}"


def _worker_main() -> None:
    """A deep-check worker: paths in on stdin (one JSON string a line), DeepFacts out."""
    budget, max_packets = float(sys.argv[1]), int(sys.argv[2])
    out = sys.stdout
    out.write("ready\n")
    out.flush()
    for line in sys.stdin:
        started = time.monotonic()
        try:
            facts = deep_demux(json.loads(line), budget, max_packets)
        except Exception as exc:  # a bug here must not pass for a corrupt file
            facts = DeepFacts(timed_out=True, error=f"deep check failed: {exc!r}",
                              elapsed=time.monotonic() - started)
        out.write(json.dumps(dataclasses.asdict(facts)) + "\n")
        out.flush()


class DeepCheckUnavailable(RuntimeError):
    """A worker process could not be started (not a property of any media file)."""


class _Worker:
    """One worker process and the task it is on."""

    def __init__(self, budget: float, max_packets: int) -> None:
        package_parent = str(Path(__file__).resolve().parents[2])
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (package_parent, env.get("PYTHONPATH")) if p)
        self.proc = subprocess.Popen(
            [sys.executable, "-c",
             "from mediaserve.adapters.audit.auditor import _worker_main; _worker_main()",
             repr(budget), str(max_packets)],
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
    """:func:`deep_demux` every path in worker processes; results keyed by path.

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
                            f"'{sys.executable} -c \"import mediaserve.adapters.audit.auditor\"' "
                            "works")
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
                    if line == "ready":
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


# --------------------------------------------------------------------------- the audit


@dataclass(slots=True)
class AuditRun:
    """A report and the evidence behind it (kept for throughput numbers and for the fix)."""

    report: AuditReport
    stats: dict[str, FreshStat]
    elapsed: float
    deep_bytes: int = 0
    deep_files: int = 0
    deep_elapsed: float = 0.0


def run_audit(library: Library, options: AuditOptions = DEFAULT_OPTIONS, *,
              deep: bool = False, deep_timeout: float = DEFAULT_DEEP_TIMEOUT,
              workers: int = 0, on_progress: ProgressCallback | None = None) -> AuditRun:
    """Audit the library's index against the disk. Read-only: changes nothing anywhere.

    Unchanged entries are judged on their recorded facts (a stat each, no media opened);
    changed ones, and ones the index recorded as failed, are re-probed; same-size files
    are hashed to find duplicates; ``deep`` demuxes every file that is there.
    """
    started = time.perf_counter()
    index = library.index
    if index is None:
        raise ValueError("library has no index")
    root = library.root
    stats = {vid: fresh_stat(root / entry.path) for vid, entry in index.videos.items()}
    reprobed: dict[str, ProbeOutcome] = {
        vid: prober.probe(root / entry.path)
        for vid, entry in index.videos.items() if needs_reprobe(entry, stats[vid])}
    deep_facts: dict[str, DeepFacts] = {}
    run = AuditRun(report=AuditReport(()), stats=stats, elapsed=0.0)
    if deep:
        todo = {vid: str(root / entry.path) for vid, entry in index.videos.items()
                if _can_open(stats[vid])}
        deep_started = time.perf_counter()
        by_path = deep_check_all(todo.values(), workers=workers, timeout=deep_timeout,
                                 on_progress=on_progress)
        run.deep_elapsed = time.perf_counter() - deep_started
        deep_facts = {vid: by_path[path] for vid, path in todo.items()}
        run.deep_files = len(todo)
        run.deep_bytes = sum(stats[vid].size for vid in todo)
    report = audit_library(index, stats, deep=deep_facts, reprobed=reprobed, options=options)
    if deep:
        report = dataclasses.replace(report, deep=True)
    keys: dict[str, tuple[int, str]] = {}
    for group in duplicate_candidates(report, stats):
        for vid in group:
            try:
                keys[vid] = content_key(root / index.videos[vid].path, stats[vid].size)
            except OSError:
                continue  # vanished or became unreadable since the stat: not a duplicate
    run.report = with_duplicates(report, duplicate_groups(keys))
    run.elapsed = time.perf_counter() - started
    return run


def _can_open(stat: FreshStat) -> bool:
    return stat.exists and stat.regular and stat.readable and stat.size > 0


# --------------------------------------------------------------------------- fixing


def backup_path(index_path: Path) -> Path:
    """Where a fix keeps the previous index: beside it, ``NAME.bak`` (one generation)."""
    return index_path.with_name(index_path.name + BACKUP_SUFFIX)


class IndexChanged(RuntimeError):
    """The index file changed on disk while the audit ran (a scan?): a fix would lose that."""


def write_fixed_index(index_path: Path, original: bytes, new_index: LibraryIndex) -> Path:
    """Back up ``original`` (the bytes the audit read) to ``NAME.bak``, then atomically write
    ``new_index``. Refuses when the file no longer holds ``original``. Returns the backup."""
    if Path(index_path).read_bytes() != original:
        raise IndexChanged(f"{index_path} changed while the audit ran; "
                           "nothing was written, run the audit again")
    backup = backup_path(Path(index_path))
    write_atomic(backup, original)
    save_index(Path(index_path), new_index)
    return backup


# --------------------------------------------------------------------------- remux


class RemuxError(RuntimeError):
    """The remux failed or did not verify; the original file is untouched."""


@dataclass(frozen=True, slots=True)
class RemuxResult:
    source: Path
    output: Path  # the new file: the source itself when replaced in place
    in_place: bool


def faststart_name(path: Path) -> Path:
    """``clip.mp4`` → ``clip.faststart.mp4``, beside the original."""
    return path.with_name(f"{path.stem}.faststart{path.suffix}")


def _packet_signature(path: Path) -> tuple[dict[int, tuple[str | None, int, int, int]],
                                            float | None]:
    """Per stream (codec, packet count, total bytes, CRC-32 of all payloads), and the
    container duration: what must survive a stream copy unchanged."""
    sig: dict[int, list[Any]] = {}
    with av.open(str(path), metadata_errors="ignore") as container:
        for stream in container.streams:
            sig[stream.index] = [stream.codec_context.name if stream.codec_context else None,
                                 0, 0, 0]
        for packet in container.demux():
            if not packet.size or packet.dts is None:
                continue
            entry = sig[packet.stream.index]
            payload = bytes(packet)
            entry[1] += 1
            entry[2] += len(payload)
            entry[3] = zlib.crc32(payload, entry[3])
        duration = container.duration / av.time_base if container.duration else None
    return {k: (v[0], v[1], v[2], v[3]) for k, v in sig.items()}, duration


def _stream_copy(source: Path, target: Path, fmt: str) -> None:
    with av.open(str(source), metadata_errors="ignore") as inp, \
            av.open(str(target), "w", format=fmt, options={"movflags": "+faststart"}) as out:
        mapping = {s.index: out.add_stream_from_template(s) for s in inp.streams}
        for packet in inp.demux():
            if packet.dts is None:  # flush packets carry no data
                continue
            packet.stream = mapping[packet.stream.index]
            out.mux(packet)


def _verify(source: Path, target: Path) -> None:
    before, before_duration = _packet_signature(source)
    after, after_duration = _packet_signature(target)
    if before != after:
        raise RemuxError(f"verification failed: streams or packets differ ({before} vs {after})")
    if (before_duration is None) != (after_duration is None) or (
            before_duration is not None and after_duration is not None
            and abs(before_duration - after_duration) > 0.05):
        raise RemuxError(f"verification failed: duration {before_duration} → {after_duration}")
    size = target.stat().st_size
    with open(target, "rb") as handle:
        layout = mp4_boxes(handle, size)
    if not layout.faststart or layout.overrun:
        raise RemuxError("verification failed: the new file is not faststart")


def remux_faststart(path: Path, in_place: bool = False) -> RemuxResult:
    """Rewrite ``path`` with its ``moov`` box first, by stream copy (no re-encoding).

    The copy is written to a hidden temp file in the same folder, verified (same streams,
    same packets byte for byte, same duration, faststart), and only then renamed: over the
    original with ``in_place``, else to ``NAME.faststart.EXT`` (never over an existing
    file). Any failure removes the temp file and leaves the original untouched. The caller
    updates the index.
    """
    path = Path(path)
    target = path if in_place else faststart_name(path)
    if not in_place and target.exists():
        raise RemuxError(f"{target.name} already exists; not overwriting it")
    fmt = "mov" if path.suffix.lower() == ".mov" else "mp4"
    try:
        before = path.stat()
    except OSError as exc:  # gone since the audit
        raise RemuxError(f"cannot stat: {exc.strerror or exc}") from None
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".remux.tmp",
                                        dir=path.parent)
    except OSError as exc:  # a folder we cannot write to
        raise RemuxError(f"cannot write a copy beside it: {exc.strerror or exc}") from None
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        try:
            _stream_copy(path, tmp, fmt)
        except (av.error.FFmpegError, OSError, ValueError) as exc:
            raise RemuxError(f"cannot remux: {_describe(exc)}") from None
        try:
            _verify(path, tmp)
        except (av.error.FFmpegError, OSError, ValueError) as exc:
            raise RemuxError(f"cannot verify the new file: {_describe(exc)}") from None
        now = path.stat()
        if (now.st_size, now.st_mtime_ns) != (before.st_size, before.st_mtime_ns):
            raise RemuxError("the original changed during the remux; left as it was")
        shutil.copymode(path, tmp)
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        if in_place:
            os.replace(tmp, target)
        else:
            _rename_no_replace(tmp, target)
        _fsync_dir(path.parent)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return RemuxResult(path, target, in_place)


def _rename_no_replace(tmp: Path, target: Path) -> None:
    """Rename, but never over an existing file (a hard link fails if the name is taken;
    file systems without hard links fall back to a check, with a tiny race)."""
    try:
        os.link(tmp, target)
    except FileExistsError:
        raise RemuxError(f"{target.name} already exists; not overwriting it") from None
    except OSError:
        if target.exists():
            raise RemuxError(f"{target.name} already exists; not overwriting it") from None
        os.replace(tmp, target)
    else:
        tmp.unlink()


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def reprobe_entry(root: Path, entry: VideoEntry) -> VideoEntry:
    """The entry after its file was rewritten (e.g. remuxed in place)."""
    path = root / entry.path
    return refreshed_entry(entry, fresh_stat(path), prober.probe(path))


__all__ = [
    "AuditRun",
    "DeepCheckUnavailable",
    "IndexChanged",
    "RemuxError",
    "RemuxResult",
    "backup_path",
    "content_key",
    "deep_check_all",
    "deep_demux",
    "faststart_name",
    "fresh_stat",
    "remux_faststart",
    "reprobe_entry",
    "run_audit",
    "write_fixed_index",
]
