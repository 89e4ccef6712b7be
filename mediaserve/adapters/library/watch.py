"""Watch a library folder and keep its index current (``scan --watch``, ``serve --watch``).

inotify (through ``watchfiles``, a Rust notify wrapper) says *which* paths changed, so an
update costs a stat and a probe of those files, never a walk of the library. Events arrive
debounced in batches. A file is probed only once it has *settled*: its size and mtime
unchanged for ``settle`` seconds, so a video being copied in is not probed half-written (it
would be indexed as truncated). A file that reappears elsewhere with the size and mtime of
an entry that just went missing is a rename and is taken at once.

Each batch of decisions is applied under the index's writer lock: load the index as it is on
disk now (a scan or an audit may have written it meanwhile), change the few entries, write it
atomically. If another writer holds the lock the batch waits for the next tick; nothing is
lost. The server follows the index file, so it sees the result within its poll interval.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mediaserve.adapters.library.hashing import content_key
from mediaserve.adapters.library.lock import IndexLocked, writer_lock
from mediaserve.adapters.library.scanner import probe_and_hash, walk
from mediaserve.adapters.library.store import load_index_if_exists, save_index
from mediaserve.core.library.changes import (
    ChangeLog,
    apply_move,
    apply_probe,
    find_move,
    mark_gone,
    needs_probe,
    under,
)
from mediaserve.core.library.formats import is_video_name
from mediaserve.core.library.index import FileState, LibraryIndex, ProbeOutcome
from mediaserve.core.library.status import EntryStatus
from mediaserve.core.text.controls import visible

DEFAULT_SETTLE = 3.0  # seconds a file's size must stay put before it is probed
DEBOUNCE_MS = 300
TICK_MS = 500  # how often pending files are re-checked when no event arrives


@dataclass(slots=True)
class _Pending:
    size: int
    mtime_ns: int
    since: float  # monotonic time of the last change seen


class FolderWatcher:
    """Turns file-system events under ``root`` into incremental index updates."""

    def __init__(self, root: Path, index_path: Path, *, settle: float = DEFAULT_SETTLE,
                 log: Callable[[str], None] | None = None,
                 probe: Callable[[str], ProbeOutcome] = probe_and_hash,
                 lock_wait: float = 1.0) -> None:
        self.root = Path(os.path.realpath(root))
        self.index_path = Path(index_path)
        self.settle = settle
        self.log = log or (lambda line: print(f"mediaserve: watch: {visible(line)}",
                                              file=sys.stderr, flush=True))
        self.probe = probe
        self.lock_wait = lock_wait
        self.pending: dict[str, _Pending] = {}
        self.gone: set[str] = set()  # relative paths (files or folders) that vanished
        self.index: LibraryIndex | None = None  # as last loaded or written

    # ----------------------------------------------------------------------- events

    def _relative(self, path: str) -> str | None:
        rel = os.path.relpath(path, self.root)
        if rel == "." or rel.startswith(".."):
            return None
        parts = rel.split(os.sep)
        if any(part.startswith(".") for part in parts):
            return None  # hidden, like the walk: the index itself, temp files, .Trash
        try:
            rel.encode("utf-8")
        except UnicodeEncodeError:
            return None  # cannot go into a TOML index (scan reports these)
        return "/".join(parts)

    def touch(self, path: str) -> None:
        """Note that ``path`` (absolute) changed somehow; :meth:`step` works out how."""
        rel = self._relative(path)
        if rel is None:
            return
        full = self.root / rel
        if full.is_dir() and not full.is_symlink():
            for state in walk(full):  # a folder moved or copied in: everything under it
                self._observe(f"{rel}/{state.path}", state.size, state.mtime_ns)
            self._forget_under(rel, full)
            return
        if not is_video_name(rel.rsplit("/", 1)[-1]):
            if not full.exists():
                self.gone.add(rel)  # perhaps a folder that moved out: its entries go
            return
        try:
            if full.is_symlink() and not os.path.realpath(full).startswith(
                    str(self.root) + os.sep):
                raise FileNotFoundError(rel)
            st = os.stat(full)
        except OSError:
            self.pending.pop(rel, None)
            self.gone.add(rel)
            return
        if not os.path.isfile(full):
            return
        self._observe(rel, st.st_size, st.st_mtime_ns)

    def _forget_under(self, rel: str, full: Path) -> None:
        """Entries under a folder that are no longer on disk are gone."""
        index = self.index or load_index_if_exists(self.index_path)
        if index is None:
            return
        for entry in index.videos.values():
            if under(entry.path, rel) and not (self.root / entry.path).exists():
                self.gone.add(entry.path)

    def _observe(self, rel: str, size: int, mtime_ns: int) -> None:
        now = time.monotonic()
        self.gone.discard(rel)
        seen = self.pending.get(rel)
        if seen is None or (seen.size, seen.mtime_ns) != (size, mtime_ns):
            self.pending[rel] = _Pending(size, mtime_ns, now)

    # ----------------------------------------------------------------------- decisions

    def _ready(self) -> list[FileState]:
        """Pending files that have settled (or that are plainly a rename of a gone entry)."""
        if not self.pending:
            return []
        now = time.monotonic()
        ready = []
        index = self.index
        # (size, mtime) of entries that are gone: a file that shows up with one of them is a
        # rename (mv keeps both) and need not wait to settle
        vanished = {(e.size, e.mtime_ns) for e in index.videos.values()
                    if e.status == EntryStatus.MISSING or e.path in self.gone} if index else set()
        known = index.by_path() if index else {}
        for rel, seen in list(self.pending.items()):
            try:
                st = os.stat(self.root / rel)
            except OSError:
                del self.pending[rel]
                self.gone.add(rel)
                continue
            if (st.st_size, st.st_mtime_ns) != (seen.size, seen.mtime_ns):
                self.pending[rel] = _Pending(st.st_size, st.st_mtime_ns, now)
                continue
            state = FileState(rel, seen.size, seen.mtime_ns)
            if index is not None and not needs_probe(index, state, known):
                del self.pending[rel]  # the index has it as it is (or ignores it)
                continue
            if (seen.size, seen.mtime_ns) in vanished or now - seen.since >= self.settle:
                ready.append(state)
        return ready

    def step(self) -> ChangeLog:
        """Apply what is ready: gone files flagged missing, settled files moved or probed."""
        if self.index is None:
            self.index = load_index_if_exists(self.index_path)
        if not self.root.is_dir():  # unmounted or moved away: nothing is evidence of a delete
            return ChangeLog()
        ready = self._ready()
        if not ready and not self.gone:
            return ChangeLog()
        try:
            with writer_lock(self.index_path, "mediaserve watch", wait=self.lock_wait):
                log = self._apply(ready)
        except IndexLocked:
            return ChangeLog()  # another writer is busy: try again on the next tick
        for state in ready:
            seen = self.pending.get(state.path)
            if seen is not None and (seen.size, seen.mtime_ns) == (state.size, state.mtime_ns):
                del self.pending[state.path]
        self.gone.clear()
        for line in log.lines():
            self.log(line)
        return log

    def _apply(self, ready: list[FileState]) -> ChangeLog:
        log = ChangeLog()
        index = load_index_if_exists(self.index_path)
        if index is None:  # never scanned: the first scan does this job
            return log
        gone = sorted(p for p in self.gone if not (self.root / p).exists())
        mark_gone(index, gone, log)
        known = index.by_path()
        for state in ready:
            if not needs_probe(index, state, known):
                continue
            path = str(self.root / state.path)
            digest: str | None = None
            if state.path not in known:
                try:
                    _, digest = content_key(Path(path), state.size)
                except OSError:
                    continue
                moved = find_move(index, state, digest)
                if moved is not None:
                    apply_move(index, moved, state, digest, log)
                    continue
            try:
                apply_probe(index, state, self.probe(path), log)
            except ValueError as exc:  # an id collision (NFC/NFD twins): leave it out
                self.log(f"skipped {state.path}: {exc}")
        if log:
            save_index(self.index_path, index)
        self.index = index
        return log

    # ----------------------------------------------------------------------- loop

    def run(self, stop: threading.Event | None = None, parent_pid: int | None = None,
            on_ready: Callable[[], None] | None = None) -> None:
        """Watch until ``stop`` is set (or ``parent_pid`` is no longer our parent).
        ``on_ready`` is called once inotify is in place."""
        import watchfiles  # imported here: only the watching process pays for it

        stop = stop or threading.Event()
        ready = False
        for changes in watchfiles.watch(self.root, debounce=DEBOUNCE_MS, step=50,
                                        rust_timeout=TICK_MS, yield_on_timeout=True,
                                        stop_event=stop, watch_filter=None,
                                        raise_interrupt=False):
            if not ready:  # the first yield: the watches are set, nothing is missed now
                ready = True
                self.reconcile()
                if on_ready is not None:
                    on_ready()
            for _change, path in changes:
                self.touch(path)
            self.step()
            if parent_pid is not None and os.getppid() != parent_pid:
                stop.set()  # the server that started us is gone

    def reconcile(self) -> None:
        """Look at every file once: whatever changed between the scan and the moment the
        watches were in place is caught (unchanged files cost a stat, no probe)."""
        for state in walk(self.root):
            self._observe(state.path, state.size, state.mtime_ns)
        index = self.index or load_index_if_exists(self.index_path)
        if index is not None:
            for entry in index.videos.values():
                if not (self.root / entry.path).exists():
                    self.gone.add(entry.path)
