"""What the home rows need from the library, computed once per catalog version.

The ids still present, "next episode after X" and the newest videos: O(n log n) over the
library, so built in an executor the first time a version is asked for and shared by every
request until the catalog changes (a reload, a file found missing).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mediaserve.core.profiles.home import (
    MAX_ROW,
    EpisodeOf,
    NextAfter,
    next_by_folder,
    recently_added,
)


@dataclass(frozen=True, slots=True)
class Episodes:
    """What Next up follows: the next episode after a video, and the video standing for
    each episode (the copies of one count as one)."""

    next_after: NextAfter
    episode_of: EpisodeOf | None = None


#: builds :class:`Episodes` for a catalog
NextEpisodes = Callable[[Any], Episodes]


def by_show(catalog: Any) -> Episodes:
    """The shows model's order (``catalog.shows``): the next episode across seasons, specials
    apart; a film, a home video or anything else not an episode has no next."""
    shows = catalog.shows
    return Episodes(shows.next, shows.episode_of)


def by_folder(catalog: Any) -> Episodes:
    """The next file of the same folder in natural order (the order before shows)."""
    return Episodes(next_by_folder(video.entry for video in catalog.videos.values()))


@dataclass(frozen=True, slots=True)
class LibraryView:
    present: frozenset[str]  # ids in the catalog whose file is there
    episodes: Episodes
    recent: tuple[str, ...]  # newest first, at most MAX_ROW


def build_view(catalog: Any, next_episodes: NextEpisodes) -> LibraryView:
    videos = list(catalog.videos.values())
    present = frozenset(video.entry.id for video in videos if not video.missing)
    recent = recently_added(((v.entry.id, v.entry.mtime_ns) for v in videos
                             if v.entry.id in present), MAX_ROW)
    return LibraryView(present, next_episodes(catalog), tuple(recent))


class ViewCache:
    """The view of the current catalog, rebuilt when its identity or version changes."""

    def __init__(self, next_episodes: NextEpisodes = by_show) -> None:
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
