"""What a library path says about its video: the parser's answer, and the show key."""

from __future__ import annotations

import functools
import re
import unicodedata
from enum import StrEnum
from typing import NamedTuple

_NOT_WORD = re.compile(r"[\W_]+")


class Kind(StrEnum):
    EPISODE = "episode"
    MOVIE = "movie"
    OTHER = "other"  # a home video, a clip, or a name we are not sure about


class ParsedName(NamedTuple):
    """A video's name, read. ``title`` is what a card shows: never empty, and it keeps
    every word that tells two files apart. (A named tuple: made once per video of a
    library, and the cheapest immutable object to make.)"""

    title: str
    kind: Kind = Kind.OTHER
    show: str | None = None  # an episode's show (its folder's name when it has one)
    season: int | None = None  # 0 for specials; None when nothing says (absolute numbering)
    episode: int | None = None  # None for an episode known only by its folder
    episode_end: int | None = None  # the last episode of a multi-episode file
    episode_title: str | None = None
    year: int | None = None
    date: str | None = None  # ISO date from the name (a daily show, a phone video)
    part: int | None = None  # CD1, Disc 2, Part 3
    #: the folder the show lives in (``TV`` for ``TV/Show/Season 1/...``; "" at the root):
    #: with the show's key, what tells two shows of the same name apart
    scope: str = ""


def show_key(name: str) -> str:
    """A show's name as compared: Unicode-normalised, case-folded, letters and digits only,
    one space between words (``Doctor.Who (2005)`` and ``doctor who 2005`` are one show)."""
    return _cached_key(name) if len(name) <= 200 else _key(name)


@functools.lru_cache(maxsize=4096)  # a show's name comes back once per episode
def _cached_key(name: str) -> str:
    return _key(name)


def _key(name: str) -> str:
    folded = unicodedata.normalize("NFKC", name).casefold()
    return " ".join(_NOT_WORD.sub(" ", folded).split())


def _bare(name: str) -> str:
    """A show's name without what tells remakes and countries apart at its end: a
    bracketed group (``The Office (US)``) or a year (``Doctor Who 2005``)."""
    name = name.strip()
    if name[-1:] in (")", "]"):
        opener = name.rfind("(" if name[-1] == ")" else "[")
        if opener > 0:
            name = name[:opener]
    head, _space, last = name.rstrip().rpartition(" ")
    if head and len(last) == 4 and last.isascii() and last.isdigit():
        name = head
    return show_key(name)


def same_show(folder: str, show: str) -> bool:
    """Whether a folder's name is the show's: equal keys, or equal once a year or a
    bracketed group at the end is set aside (``The Office (US)`` holds
    ``The.Office.S01E01``; ``Doctor Who`` holds ``Doctor.Who.2005.S01E01``; ``Show
    Business`` does not hold ``Show.S01E01``)."""
    a, b = show_key(folder), show_key(show)
    if not a or not b:
        return False
    return a == b or _bare(folder) == _bare(show) != ""
