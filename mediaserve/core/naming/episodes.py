"""Finding the episode in a name's words: ``S01E02``, ``1x02``, ``S01 E02``,
``Season 1 Episode 2``, ``Episode 5``, ``第1季 第05集``, an anime ``- 01``, a leading or
trailing number in a season folder, a date after a show's name.

Each finder is one pass over the words and returns where the marker is (first word, number
of words) so the parser can split the name into the show before it and the episode's title
after it.
"""

from __future__ import annotations

from dataclasses import dataclass

from mediaserve.core.naming.lexer import Word
from mediaserve.core.naming.tags import (
    EPISODE_WORDS,
    SEASON_WORDS,
    Marker,
    cjk_marker,
    date_word,
    episode_word,
    iso_date,
    season_word,
    small_number,
    sxe_marker,
)


@dataclass(frozen=True, slots=True)
class Found:
    """A marker at ``words[at:at + size]``; ``written`` when the display keeps the words as
    written rather than a normalised ``S01E02``."""

    at: int
    size: int
    marker: Marker
    written: bool = False


def _text(items: list[Word], i: int) -> str:
    """The word at ``i`` ("" past the end or for a group)."""
    return items[i].text if i < len(items) and not items[i].bracket else ""


def _season_episode_words(items: list[Word], i: int) -> Found | None:
    """``Season 1 Episode 2``, ``Season 1 - Episode 2``, ``Staffel 1, Folge 2``."""
    season = small_number(_text(items, i + 1).rstrip(","))
    if season is None:
        return None
    k = i + 2
    if k < len(items) and items[k].dash:
        k += 1
    if _text(items, k).lower() not in EPISODE_WORDS:
        return None
    episode = small_number(_text(items, k + 1), 4)
    if episode is None:
        return None
    return Found(i, k + 2 - i, Marker(season, episode, episode), written=True)


def _at(items: list[Word], i: int, season_dir: int | None, words_ok: bool) -> Found | None:
    """The marker starting at word ``i``, if any."""
    word = _text(items, i)
    if not word:
        return None
    if marker := sxe_marker(word):
        return Found(i, 1, marker)
    season = season_word(word)
    if season is not None and (episode := episode_word(_text(items, i + 1), True)) is not None:
        return Found(i, 2, Marker(season, episode, episode))
    low = word.lower()
    if low in SEASON_WORDS:
        return _season_episode_words(items, i)
    if cjk := cjk_marker(word):
        kind, number = cjk
        if kind == "episode":
            return Found(i, 1, Marker(season_dir, number, number), written=True)
        after = cjk_marker(_text(items, i + 1))
        if after and after[0] == "episode":
            return Found(i, 2, Marker(number, after[1], after[1]), written=True)
        return None
    if not words_ok:
        return None
    if low in EPISODE_WORDS and (episode := small_number(_text(items, i + 1), 4)) is not None:
        return Found(i, 2, Marker(season_dir, episode, episode), written=True)
    episode = episode_word(word, season_dir is not None)
    if episode is not None:
        return Found(i, 1, Marker(season_dir, episode, episode), written=True)
    return None


def find_marker(items: list[Word], season_dir: int | None, words_ok: bool) -> Found | None:
    """The first episode marker in ``items``. ``words_ok`` allows ``Episode 5`` without a
    season (not when the name also has a film's year: *Star Wars Episode 4 (1977)*)."""
    for i in range(len(items)):
        found = _at(items, i, season_dir, words_ok)
        if found is not None:
            return found
    return None


def find_anime(items: list[Word], grouped: bool, season_dir: int | None) -> Found | None:
    """``Show - 01``, ``Show - 01v2 - Title``: a number after a dash, then the end or a
    dash. Two digits at least unless a ``[Group]`` or a season folder vouches for it, and
    never a year-like four-digit number."""
    for i in range(1, len(items) - 1):
        if not items[i].dash:
            continue
        word = _text(items, i + 1)
        digits = word[:-2] if len(word) > 2 and word[-2] in "vV" and word[-1].isdigit() else word
        number = small_number(digits, 4)
        if number is None or len(digits) == 4:
            continue
        if i + 2 < len(items) and not items[i + 2].dash:
            continue
        if len(digits) < 2 and not grouped and season_dir is None:
            continue
        season = season_word(_text(items, i - 1))
        if season is not None:  # "Show S2 - 05"
            return Found(i - 1, 3, Marker(season, number, number), written=True)
        return Found(i, 2, Marker(season_dir, number, number), written=True)
    return None


def find_in_season_folder(items: list[Word], season: int) -> Found | None:
    """In a season folder: ``02 - Name``, ``02 Name``, or ``Show 02``."""
    if not items:
        return None
    first = small_number(_text(items, 0).rstrip("."))  # "3. The Third"
    if first is not None:
        return Found(0, 1, Marker(season, first, first))
    last = small_number(_text(items, len(items) - 1))
    if last is not None and len(items) >= 2:
        return Found(len(items) - 1, 1, Marker(season, last, last))
    return None


def find_date(items: list[Word], latest: int,
              start: int = 1) -> tuple[int, int, str] | None:
    """(first word, number of words, ISO date) of the first date from word ``start`` on
    (by default after at least one word: a show's name): ``2023-01-05`` as one word or
    ``2023 01 05`` as three (a packed name's dots)."""
    for i in range(start, len(items)):
        if (date := date_word(_text(items, i), latest)) is not None:
            return i, 1, date
        parts = _text(items, i), _text(items, i + 1), _text(items, i + 2)
        if all(parts) and (date := iso_date(*parts, latest)) is not None:
            return i, 3, date
    return None
