"""Incremental index updates for the folder watcher: one file at a time, no walk.

``scan`` rebuilds the index from a full walk; the watcher hears about single files (added,
changed, moved, deleted) and must reach the same index a rescan would, with one addition: a
file that disappears at one path and appears at another with the same content is a *move*,
and keeps its id, so resume positions and statistics follow it. "Same content" is the audit's
duplicate key: the same size and the same hash of the first and last MiB (recorded in
``content_hash`` when the file was probed). For entries indexed before hashes were recorded,
the same size and mtime stand in (``mv`` keeps the mtime).

Everything here is pure: the adapter stats, hashes, probes and writes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field

from mediaserve.core.library.ids import video_id
from mediaserve.core.library.ignored import is_ignored
from mediaserve.core.library.index import FileState, LibraryIndex, ProbeOutcome, VideoEntry
from mediaserve.core.library.status import EntryStatus


@dataclass(slots=True)
class ChangeLog:
    """What one batch did, for the watcher's log lines and its tests."""

    added: list[str] = field(default_factory=list)  # paths
    updated: list[str] = field(default_factory=list)
    moved: list[tuple[str, str]] = field(default_factory=list)  # (old path, new path)
    missing: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)  # arrivals skipped: pruned by the audit

    def __bool__(self) -> bool:
        return bool(self.added or self.updated or self.moved or self.missing)

    def lines(self) -> list[str]:
        return ([f"added {p}" for p in self.added] + [f"updated {p}" for p in self.updated]
                + [f"moved {a} → {b}" for a, b in self.moved]
                + [f"missing {p}" for p in self.missing])


def under(path: str, folder: str) -> bool:
    """True when ``path`` is ``folder`` itself or inside it (POSIX, relative)."""
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def mark_gone(index: LibraryIndex, paths: list[str], log: ChangeLog) -> None:
    """Flag the entries at ``paths`` (files, or folders: everything under them) missing, as
    a rescan would; the audit prunes them. Ignored records there are forgotten."""
    for vid, entry in list(index.videos.items()):
        if entry.status != EntryStatus.MISSING and any(under(entry.path, p) for p in paths):
            index.videos[vid] = dataclasses.replace(entry, status=EntryStatus.MISSING)
            log.missing.append(entry.path)
    for path in list(index.ignored):
        if any(under(path, p) for p in paths):
            del index.ignored[path]


def needs_probe(index: LibraryIndex, state: FileState,
                by_path: Mapping[str, VideoEntry] | None = None) -> bool:
    """False when the index already has this file as it is, or ignores it unchanged.
    ``by_path`` is ``index.by_path()``, passed in when asking about many files."""
    if is_ignored(index.ignored, state):
        return False
    entry = (index.by_path() if by_path is None else by_path).get(state.path)
    return entry is None or entry.status == EntryStatus.MISSING or not entry.same_file_state(
        state.size, state.mtime_ns)


def find_move(index: LibraryIndex, state: FileState,
              content_hash: str | None) -> VideoEntry | None:
    """The missing entry this new file is a move of, if any (see the module docstring).
    Among several with the same content (copies), the one with the same file name wins."""
    name = state.path.rsplit("/", 1)[-1]
    best: VideoEntry | None = None
    for entry in index.videos.values():
        if entry.status != EntryStatus.MISSING or entry.size != state.size:
            continue
        if entry.content_hash is not None and content_hash is not None:
            same = entry.content_hash == content_hash
        else:
            same = entry.mtime_ns == state.mtime_ns
        if same:
            if entry.path.rsplit("/", 1)[-1] == name:
                return entry
            best = best or entry
    return best


def apply_move(index: LibraryIndex, entry: VideoEntry, state: FileState,
               content_hash: str | None, log: ChangeLog) -> None:
    """Re-point ``entry`` (same id, same facts) at the file's new path."""
    index.videos[entry.id] = dataclasses.replace(
        entry, path=state.path, size=state.size, mtime_ns=state.mtime_ns,
        status=EntryStatus.ERROR if entry.error else EntryStatus.OK,
        content_hash=entry.content_hash or content_hash)
    log.moved.append((entry.path, state.path))
    if entry.path in log.missing:  # flagged in this very batch: it moved, it is not missing
        log.missing.remove(entry.path)


def apply_probe(index: LibraryIndex, state: FileState, outcome: ProbeOutcome,
                log: ChangeLog) -> VideoEntry:
    """Record a probed arrival: a changed file keeps its id; a new one gets a fresh id. A
    file ignored by the audit that changed since is no longer ignored."""
    index.ignored.pop(state.path, None)
    previous = index.by_path().get(state.path)
    vid = previous.id if previous is not None else video_id(state.path, secret=index.id_secret)
    if previous is None and vid in index.videos:  # same name in NFC and NFD
        raise ValueError(f"id collision between {index.videos[vid].path!r} and "
                         f"{state.path!r}")
    entry = VideoEntry(id=vid, path=state.path, size=state.size, mtime_ns=state.mtime_ns,
                       status=EntryStatus.ERROR if outcome.error else EntryStatus.OK,
                       facts=outcome.facts, error=outcome.error,
                       content_hash=outcome.content_hash,
                       # a changed file keeps its subtitles (the watcher does not look for
                       # new ones: the next scan does)
                       subtitles=previous.subtitles if previous is not None else ())
    index.videos[vid] = entry
    fresh = previous is None or previous.status == EntryStatus.MISSING
    (log.added if fresh else log.updated).append(state.path)
    return entry
