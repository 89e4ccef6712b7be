"""What the home rows need from the library, computed once per catalog version.

The ids still present, "next episode after X" and the newest videos: O(n log n) over the
library, so built in an executor the first time a version is asked for and shared by every
request until the catalog changes (a reload, a file found missing).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from mediaserve.core.library.index import VideoEntry
from mediaserve.core.profiles.home import MAX_ROW, NextAfter, next_by_folder, recently_added

#: builds "next episode after X" for a library; the shows model passes its own
NextEpisodes = Callable[[Iterable[VideoEntry]], NextAfter]


@dataclass(frozen=True, slots=True)
class LibraryView:
    present: frozenset[str]  # ids in the catalog whose file is there
    next_after: NextAfter
    recent: tuple[str, ...]  # newest first, at most MAX_ROW


def build_view(catalog: Any, next_episodes: NextEpisodes) -> LibraryView:
    videos = list(catalog.videos.values())
    entries = [video.entry for video in videos]
    present = frozenset(video.entry.id for video in videos if not video.missing)
    recent = recently_added(((e.id, e.mtime_ns) for e in entries if e.id in present),
                            MAX_ROW)
    return LibraryView(present, next_episodes(entries), tuple(recent))


class ViewCache:
    """The view of the current catalog, rebuilt when its identity or version changes."""

    def __init__(self, next_episodes: NextEpisodes = next_by_folder) -> None:
        self.next_episodes = next_episodes
        self._key: tuple[Any, int] | None = None
        self._view: LibraryView | None = None
        self.builds = 0  # for the tests: views are not rebuilt per request

    async def get(self, catalog: Any) -> LibraryView:
        key = (catalog, catalog.version)
        if self._view is None or self._key is None or self._key[0] is not catalog \
                or self._key[1] != key[1]:
            loop = asyncio.get_running_loop()
            self._view = await loop.run_in_executor(None, build_view, catalog,
                                                    self.next_episodes)
            self._key = key
            self.builds += 1
        return self._view
