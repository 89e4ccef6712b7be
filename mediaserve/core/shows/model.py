"""A catalog's episodes as shows → seasons → episodes, in order, with previous/next.

A show is its name's key (:func:`show_key`) within its *scope*, the folder it lives in: so
``Show S01E01.mkv`` at the root and ``Show/Season 2/Show S02E01.mkv`` are one show, while
``Kids/Bluey/...`` and ``Grown-ups/Bluey/...`` are two. Its id is derived from that key
(keyed with the library's id secret, like video ids, so nobody can probe for a show by
name), never from a path, and is stable across rescans.

Episodes are ordered by season, then episode number (or date), then part, title and path;
an episode the name does not number comes after the numbered ones. Specials (season 0) are
listed last and are a sequence of their own: *next* after a season finale is the next
season's first episode, not a special. Two files of the same episode (a copy, another
quality) share a place in the sequence: *next* skips the other copy.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Container, Iterable
from dataclasses import dataclass

from mediaserve.core.naming import Kind, ParsedName, show_key

SHOW_ID_LENGTH = 12


@dataclass(frozen=True, slots=True)
class Item:
    """A video the model is built from: its id, library path and parsed name."""

    id: str
    path: str
    parsed: ParsedName


@dataclass(frozen=True, slots=True)
class Season:
    number: int  # 0 = specials
    episodes: tuple[Item, ...]


@dataclass(frozen=True, slots=True)
class Show:
    id: str
    name: str
    scope: str  # the folder the show lives in ("" = the library root)
    seasons: tuple[Season, ...]  # regular seasons in order, then specials

    @property
    def episode_count(self) -> int:
        return sum(len(season.episodes) for season in self.seasons)

    @property
    def first(self) -> Item:
        """The first episode (of the first regular season, if any): the show's poster."""
        return self.seasons[0].episodes[0]


def show_id(scope: str, name: str, secret: str | None = None) -> str:
    """The id of the show ``name`` in ``scope``: hex, derived from the pair, keyed with the
    library's ``secret`` when there is one."""
    key = f"show\0{scope}\0{show_key(name)}".encode()  # NUL: never in a path
    if secret is None:
        return hashlib.sha256(key).hexdigest()[:SHOW_ID_LENGTH]
    return hmac.new(bytes.fromhex(secret), key, hashlib.sha256).hexdigest()[:SHOW_ID_LENGTH]


def _order(item: Item) -> tuple[bool, int, int, str, int, str, str]:
    """Numbered before unnumbered; copies of one episode next to each other."""
    parsed = item.parsed
    return (parsed.episode is None and parsed.date is None, parsed.episode or 0,
            parsed.episode_end or 0, parsed.date or "", parsed.part or 0,
            parsed.title.casefold(), item.path)


def _season_of(parsed: ParsedName) -> int:
    return 1 if parsed.season is None else parsed.season


def _name(items: list[Item]) -> str:
    """The spelling most episodes use (the first one's on a tie)."""
    counts: dict[str, int] = {}
    for item in items:
        name = item.parsed.show or ""
        counts[name] = counts.get(name, 0) + 1
    return max(counts, key=lambda name: counts[name])  # max keeps the first of equals


def _slot_key(item: Item) -> tuple[object, ...]:
    """Copies of one episode share this; an unnumbered episode has its own."""
    parsed = item.parsed
    if parsed.episode is None and parsed.date is None:
        return ("alone", item.id)
    return (_season_of(parsed), parsed.episode, parsed.episode_end, parsed.date, parsed.part)


class Shows:
    """Every show of a catalog, and each episode's neighbours."""

    def __init__(self, shows: list[Show]) -> None:
        self.shows: dict[str, Show] = {show.id: show for show in shows}
        self._show_of: dict[str, str] = {}
        #: per video: (its sequence, its place in it); a sequence is a list of slots, a
        #: slot the ids of the copies of one episode
        self._place: dict[str, tuple[list[list[str]], int]] = {}
        for show in shows:
            regular = [s for s in show.seasons if s.number != 0]
            specials = [s for s in show.seasons if s.number == 0]
            for seasons in (regular, specials):
                self._link([item for season in seasons for item in season.episodes])
            for season in show.seasons:
                for item in season.episodes:
                    self._show_of[item.id] = show.id

    def _link(self, items: list[Item]) -> None:
        slots: list[list[str]] = []
        last: tuple[object, ...] | None = None
        for item in items:
            key = _slot_key(item)
            if key != last or not slots:
                slots.append([])
                last = key
            slots[-1].append(item.id)
            self._place[item.id] = (slots, len(slots) - 1)

    def show_of(self, vid: str) -> Show | None:
        show = self._show_of.get(vid)
        return self.shows[show] if show is not None else None

    def previous(self, vid: str) -> str | None:
        """The episode before ``vid`` (across seasons), or None."""
        place = self._place.get(vid)
        if place is None or place[1] == 0:
            return None
        slots, at = place
        return slots[at - 1][0]

    def next(self, vid: str) -> str | None:
        """The episode after ``vid`` (across seasons), or None."""
        return self.next_unwatched(vid, ())

    def episode_of(self, vid: str) -> str:
        """The video standing for ``vid``'s episode: its first copy (``vid`` itself when it
        has no other copy or is no episode). What :meth:`next` and :meth:`previous` give."""
        place = self._place.get(vid)
        if place is None:
            return vid
        slots, at = place
        return slots[at][0]

    def next_unwatched(self, vid: str, watched: Container[str]) -> str | None:
        """The first episode after ``vid`` none of whose copies is in ``watched``: what
        *Next up* offers once ``vid`` is watched."""
        place = self._place.get(vid)
        if place is None:
            return None
        slots, at = place
        for slot in slots[at + 1:]:
            if not any(copy in watched for copy in slot):
                return slot[0]
        return None

    def first_unwatched(self, show: str, watched: Container[str]) -> str | None:
        """The first episode of ``show`` none of whose copies is watched (specials last)."""
        found = self.shows.get(show)
        if found is None:
            return None
        for season in found.seasons:
            for item in season.episodes:
                if item.id not in watched:
                    slots, at = self._place[item.id]
                    if not any(copy in watched for copy in slots[at]):
                        return item.id
        return None


def build_shows(items: Iterable[Item], secret: str | None = None) -> Shows:
    """Group the episodes among ``items`` into shows (ordered by name), seasons (in order,
    specials last) and episodes (in order)."""
    groups: dict[tuple[str, str], list[Item]] = {}
    for item in sorted(items, key=lambda i: i.path):
        parsed = item.parsed
        if parsed.kind is Kind.EPISODE and parsed.show:
            groups.setdefault((parsed.scope, show_key(parsed.show)), []).append(item)
    shows = []
    for (scope, _key), members in groups.items():
        name = _name(members)
        by_season: dict[int, list[Item]] = {}
        for item in members:
            by_season.setdefault(_season_of(item.parsed), []).append(item)
        numbers = sorted(by_season, key=lambda n: (n == 0, n))
        seasons = tuple(Season(n, tuple(sorted(by_season[n], key=_order))) for n in numbers)
        shows.append(Show(show_id(scope, name, secret), name, scope, seasons))
    shows.sort(key=lambda s: (show_key(s.name), s.name, s.scope))
    return Shows(shows)
