"""The state half of the home rows: Continue watching, Next up, Recently added.

Pure functions over a profile's progress rows and the library's ids, so the rules are
tested without a store or a server. "Next episode after video X" is a parameter
(:data:`NextAfter`): the server passes the shows model's (the next episode across seasons;
nothing after a film or a home video); :func:`folder_order` (the next file of the same
folder in natural order) is there for a library view without shows.
"""

from __future__ import annotations

import heapq
import itertools
import re
from collections.abc import Callable, Container, Iterable, Sequence
from dataclasses import dataclass

from mediaserve.core.library.index import VideoEntry
from mediaserve.core.profiles.progress import in_progress

NextAfter = Callable[[str], "str | None"]
#: the video standing for every copy of one episode (a second file, another quality): the
#: shows model's first copy; the video itself where there are no copies
EpisodeOf = Callable[[str], str]
#: rows each home list holds by default, and at most
DEFAULT_ROW, MAX_ROW = 20, 100
#: how far Next up follows a chain of watched episodes from one watched video
MAX_CHAIN = 64
_DIGITS = re.compile(r"(\d+)")


@dataclass(frozen=True, slots=True)
class Row:
    """One (profile, video) progress row as the store keeps it."""

    video: str
    position: float
    duration: float | None
    watched: bool
    updated: float  # seconds since the epoch of the last report or mark: "last played"


def natural_key(name: str) -> tuple[tuple[int, int | str], ...]:
    """``Episode 2`` before ``Episode 10``, case ignored (the player's collator does the
    same with ``numeric: true``)."""
    return tuple((0, int(part)) if part.isdigit() else (1, part.casefold())
                 for part in _DIGITS.split(name) if part)


def folder_order(entries: Iterable[tuple[str, str]]) -> NextAfter:
    """From (id, relative path) pairs: the function giving the next video of the same
    folder in natural order of file names, None after the last."""
    folders: dict[str, list[tuple[tuple[tuple[int, int | str], ...], str, str]]] = {}
    for vid, path in entries:
        folder, _, name = path.rpartition("/")
        folders.setdefault(folder, []).append((natural_key(name), name, vid))
    following: dict[str, str] = {}
    for items in folders.values():
        items.sort()
        for (_k, _n, vid), (_k2, _n2, nxt) in itertools.pairwise(items):
            following[vid] = nxt
    return following.get


def next_by_folder(entries: Iterable[VideoEntry]) -> NextAfter:
    """The fallback "next episode": :func:`folder_order` over a library's entries."""
    return folder_order((entry.id, entry.path) for entry in entries)


def continue_watching(rows: Iterable[Row], present: Container[str],
                      limit: int = DEFAULT_ROW) -> list[Row]:
    """Videos in progress, the most recently played first; vanished videos left out."""
    found = (row for row in rows if in_progress(row.position, row.watched)
             and row.video in present)
    return heapq.nlargest(limit, found, key=lambda row: (row.updated, row.video))


def merge_copies(rows: Iterable[Row], episode_of: EpisodeOf) -> list[Row]:
    """One row per episode, under the video standing for it: the copies of an episode are
    watched when any of them is, and played where and when the latest played one was."""
    merged: dict[str, Row] = {}
    for row in rows:
        key = episode_of(row.video)
        seen = merged.get(key)
        latest = row if seen is None or row.updated >= seen.updated else seen
        watched = row.watched or (seen is not None and seen.watched)
        merged[key] = Row(key, latest.position, latest.duration, watched, latest.updated)
    return list(merged.values())


def next_up(rows: Sequence[Row], next_after: NextAfter, present: Container[str],
            limit: int = DEFAULT_ROW, episode_of: EpisodeOf | None = None
            ) -> list[tuple[str, str]]:
    """(next video, the watched video it follows): for each watched video, most recently
    played first, the first video after it that is neither watched nor in progress
    (in progress is Continue watching's), following watched ones on. One entry per chain:
    an older watched episode of the same show leads to the same place and is skipped.
    ``episode_of``: the copies of one episode count as one (see :func:`merge_copies`), so
    an episode watched in another copy is not offered; ``next_after`` then gives the
    videos standing for episodes."""
    if episode_of is not None:
        rows = merge_copies(rows, episode_of)
    by_video = {row.video: row for row in rows}
    watched = sorted((row for row in rows if row.watched),
                     key=lambda row: (row.updated, row.video), reverse=True)
    seen: set[str] = set()
    picked: list[tuple[str, str]] = []
    for start in watched:
        if len(picked) >= limit:
            break
        current = start.video
        for _step in range(MAX_CHAIN):
            candidate = next_after(current)
            if candidate is None or candidate in seen:
                break
            seen.add(candidate)
            row = by_video.get(candidate)
            if row is not None and row.watched:
                current = candidate
                continue
            if (candidate in present
                    and (row is None or not in_progress(row.position, row.watched))):
                picked.append((candidate, current))
            break
    return picked


def recently_added(entries: Iterable[tuple[str, int]], limit: int = MAX_ROW) -> list[str]:
    """Ids of (id, mtime_ns) pairs, newest first: the library page's "date added" (the
    file's modification time; the index records no other)."""
    return [vid for _mtime, vid in heapq.nlargest(limit, ((m, v) for v, m in entries))]
