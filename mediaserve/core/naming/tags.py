"""What one word of a file or folder name is: a release tag, a year, an episode marker, a
season folder, a part, a date.

Every pattern here is matched against one word (or one folder name) of at most
:data:`MAX_WORD` characters; longer words are never special. So however a regex
backtracks, its cost per word is bounded by a constant and a name costs time linear in its
length: the only loops over a whole name are in the lexer and the parser, and they are
single passes. Digits are ASCII only (``[0-9]``): ``int()`` must never see a character it
refuses, such as a superscript two.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any, TypeVar

#: longer words are never tags, years or markers (the longest real one, "S01E01-E02-E03",
#: is 14 characters)
MAX_WORD = 40
#: the first year of cinema; anything earlier is a number, not a year
FIRST_YEAR = 1888


_T = TypeVar("_T")
#: the longest word the caches keep (longer ones are never tags, years or markers)
_CACHED_LENGTH = 64


def _cached(classify: Callable[..., _T]) -> Callable[..., _T]:
    """The classifiers below are pure and see the same words again and again in a library
    ("1080p", "Season", "S01E01"): a bounded cache makes a repeat one C call. Only short
    words are kept, so a hostile name cannot make the cache large (4096 x 64 characters
    at most per classifier)."""
    memo = functools.lru_cache(maxsize=4096)(classify)

    def call(word: str, *rest: Any, **named: Any) -> _T:
        if len(word) <= _CACHED_LENGTH:
            return memo(word, *rest, **named)
        return classify(word, *rest, **named)

    return functools.wraps(classify)(call)


def _set(text: str) -> frozenset[str]:
    return frozenset(text.split())


class Tag(Enum):
    """How sure we are that a word is release noise rather than part of a title."""

    STRONG = "strong"  # never an English word: 1080p, BluRay, x264, WEB-DL
    WEAK = "weak"  # noise only next to a strong tag: PROPER, HDR, AAC, AMZN, DV
    EDITION = "edition"  # a real difference between two files: EXTENDED, UNRATED, IMAX


_STRONG = _set("""
    4k 8k uhd bluray blu-ray bdrip brrip bdremux bd25 bd50 web-dl webdl webrip web-rip
    hdtv pdtv sdtv dsr dvdrip dvdscr dvd5 dvd9 hdrip hdtvrip hdcam camrip telesync tvrip
    x264 x265 h264 h265 x.264 h.264 h.265 x.265 hevc xvid divx 10bit 8bit 10-bit remux
    """)
_WEAK = _set("""
    web dvd hd bd hdr hdr10 hdr10+ dv dovi sdr avc av1 vp9 aac aac2 ac3 eac3 dts dts-hd
    dts-x truehd atmos ddp ddp2 ddp5 ddp7 dd2 dd5 dd7 dd+ flac mp3 opus lpcm pcm 2.0 5.1
    7.1 aac2.0 aac5.1 ac3.5.1 dd2.0 dd5.1 ddp2.0 ddp5.1 ddp7.1 dd+5.1 eac3.5.1 dts5.1
    truehd.7.1 atmos7.1 2ch 6ch proper repack rerip real internal limited multi dual
    dual-audio multi-sub multi-subs subs eng dubbed subbed nf amzn dsnp hmax atvp hulu
    pcok itunes yts yify rarbg eztv ettv
    """)
_EDITIONS = _set("""
    extended unrated uncut remastered imax theatrical criterion uncensored directors
    director's
    """)
_RESOLUTION = re.compile(r"[0-9]{3,4}[pi]|[0-9]{3,4}x[0-9]{3,4}", re.ASCII | re.IGNORECASE)
_CRC = re.compile(r"[0-9a-f]{8}", re.ASCII | re.IGNORECASE)
_DOMAIN = re.compile(r"www\..+|[a-z0-9-]+\.(?:com|net|org|info|mx|to|se|io|me|tv|cc|re|ru|is|"
                     r"ch|nl|uk|de|fr|gg|ws|vip|xyz|pw|lol|click)",
                     re.ASCII | re.IGNORECASE)


@_cached
def tag_of(word: str) -> Tag | None:
    """The kind of release tag ``word`` is, or None for a word of a title. A tag glued to
    a release group (``x264-GRP``) is the tag."""
    if len(word) > MAX_WORD:
        return None
    low = word.lower()
    if low in _STRONG or _RESOLUTION.fullmatch(low):
        return Tag.STRONG
    if low in _WEAK:
        return Tag.WEAK
    if low in _EDITIONS:
        return Tag.EDITION
    head, dash, _group = low.rpartition("-")
    if dash and (head in _STRONG or head in _WEAK or _RESOLUTION.fullmatch(head)):
        return Tag.STRONG if head in _STRONG or _RESOLUTION.fullmatch(head) else Tag.WEAK
    return None


@_cached
def is_noise_group(inner: str) -> bool:
    """A bracketed group that says nothing about the video: ``[1080p]``, ``(BD x265 FLAC)``,
    a CRC ``[ABCD1234]``, a site ``[YTS.MX]``. ``(1)``, ``(copy)``, ``(2017)`` are not."""
    words = inner.replace(",", " ").split()
    if not words or len(words) > 8:
        return False
    if len(words) == 1 and (_CRC.fullmatch(words[0]) or _DOMAIN.fullmatch(words[0])):
        return not words[0].isdigit()
    return all(tag_of(w) in (Tag.STRONG, Tag.WEAK) for w in words)


# ------------------------------------------------------------------------------ numbers


@_cached
def year_of(word: str, latest: int) -> int | None:
    """``word`` as a plausible release year (1888 to ``latest``), or None."""
    if len(word) != 4 or not word.isascii() or not word.isdigit():
        return None
    year = int(word)
    return year if FIRST_YEAR <= year <= latest else None


@_cached
def small_number(word: str, digits: int = 3) -> int | None:
    """``word`` as a number of 1 to ``digits`` ASCII digits (an episode, a season)."""
    if not 1 <= len(word) <= digits or not word.isascii() or not word.isdigit():
        return None
    return int(word)


# ------------------------------------------------------------------------------ episodes


@dataclass(frozen=True, slots=True)
class Marker:
    """An episode marker: season (None when the word does not say), first and last episode
    (the same for a single episode)."""

    season: int | None
    first: int
    last: int


_SXE = re.compile(r"s([0-9]{1,3})[ .]?e([0-9]{1,4})((?:-?s[0-9]{1,3}e[0-9]{1,4}|-?e[0-9]{1,4}"
                  r"|-[0-9]{1,4})*)(?:v[0-9])?", re.ASCII | re.IGNORECASE)
_NXN = re.compile(r"([0-9]{1,2})x([0-9]{2,3})((?:-[0-9]{2,3}|x[0-9]{2,3})*)",
                  re.ASCII | re.IGNORECASE)
_MORE = re.compile(r"[0-9]+$", re.ASCII)
_SEASON_WORD = re.compile(r"s([0-9]{1,3})", re.ASCII | re.IGNORECASE)
_E_WORD = re.compile(r"e([0-9]{1,4})(?:v[0-9])?", re.ASCII | re.IGNORECASE)
_EP_WORD = re.compile(r"(?:ep|episode)([0-9]{1,4})(?:v[0-9])?", re.ASCII | re.IGNORECASE)
_CJK_SEASON = re.compile(r"第([0-9]{1,3})季")
_CJK_EPISODE = re.compile(r"第([0-9]{1,4})[集话話]")
SEASON_WORDS = _set("season series staffel saison temporada stagione seizoen sezon säsong "
                    "sæson kausi")
EPISODE_WORDS = _set("episode ep episodio épisode folge capitulo capítulo afl aflevering "
                     "odcinek jakso avsnitt")


def _range(first: int, tail: str) -> int:
    """The last episode of ``E01-E02-E03`` / ``E01E02`` / ``E01-03``: the highest number at
    the end of a piece of the tail, when the run only goes up; else the first."""
    last = first
    for piece in re.split(r"[-ex]", tail.lower()):
        found = _MORE.search(piece)
        if found is None:
            continue
        number = int(found.group())
        if number < last or number > last + 50:  # not a range: a typo or a code
            return first
        last = number
    return last


@_cached
def sxe_marker(word: str) -> Marker | None:
    """``S01E02``, ``s1e2``, ``S01E01-E02``, ``S01E01E02``, ``S01E01-02``, ``1x02``,
    ``1x02-03`` as one word."""
    if len(word) > MAX_WORD:
        return None
    match = _SXE.fullmatch(word)
    if match:
        first = int(match.group(2))
        return Marker(int(match.group(1)), first, _range(first, match.group(3)))
    match = _NXN.fullmatch(word)
    if match:
        first = int(match.group(2))
        return Marker(int(match.group(1)), first, _range(first, match.group(3)))
    return None


@_cached
def season_word(word: str) -> int | None:
    """``S01`` (the first half of ``S01 E02``)."""
    match = _SEASON_WORD.fullmatch(word) if len(word) <= 5 else None
    return int(match.group(1)) if match else None


@_cached
def episode_word(word: str, bare: bool) -> int | None:
    """``Ep02``, ``Episode02``; with ``bare``, ``E02`` too (the second half of ``S01 E02``,
    or alone in a season folder: elsewhere ``E3`` is as likely a name)."""
    if len(word) > 14:
        return None
    match = _EP_WORD.fullmatch(word) or (_E_WORD.fullmatch(word) if bare else None)
    return int(match.group(1)) if match else None


@_cached
def cjk_marker(word: str) -> tuple[str, int] | None:
    """``第2季`` (season 2) or ``第05集`` (episode 5): ("season" | "episode", number)."""
    if len(word) > 8:
        return None
    if match := _CJK_SEASON.fullmatch(word):
        return "season", int(match.group(1))
    if match := _CJK_EPISODE.fullmatch(word):
        return "episode", int(match.group(1))
    return None


# ------------------------------------------------------------------------------ folders

_SEASON_FOLDER = re.compile(
    r"(?:season|series|staffel|saison|temporada|stagione|seizoen|sezon|säsong|sæson|kausi)"
    r"[ ._-]*([0-9]{1,3})(?:[ ._-].*)?|s([0-9]{1,3})|第([0-9]{1,3})季",
    re.IGNORECASE | re.DOTALL)
_SPECIALS = frozenset({"specials", "special"})


@_cached
def season_folder(name: str) -> int | None:
    """The season a folder holds (``Season 1``, ``Season 01 (2019)``, ``S02``,
    ``Staffel 3``, ``Specials`` = 0), or None for any other folder."""
    if len(name) > 64:
        return None
    if name.strip().lower() in _SPECIALS:
        return 0
    match = _SEASON_FOLDER.fullmatch(name.strip())
    if match is None:
        return None
    return int(next(g for g in match.groups() if g is not None))


# ------------------------------------------------------------------------------ parts, dates

_PART = re.compile(r"(?:cd|disc|disk|dvd|part|pt)[ .]?([0-9]{1,2})", re.ASCII | re.IGNORECASE)
PART_WORDS = frozenset({"cd", "disc", "disk", "part", "pt"})
_DATE = re.compile(r"([0-9]{4})[-._]([0-9]{2})[-._]([0-9]{2})", re.ASCII)
_COMPACT_DATE = re.compile(r"((?:19|20)[0-9]{2})([0-9]{2})([0-9]{2})", re.ASCII)


@_cached
def part_of(word: str) -> int | None:
    """``CD1``, ``Disc2``, ``pt1``, ``Part3`` as one word."""
    match = _PART.fullmatch(word) if len(word) <= 8 else None
    return int(match.group(1)) if match else None


def iso_date(year: str, month: str, day: str, latest: int) -> str | None:
    """``YYYY-MM-DD`` when the three pieces make a plausible calendar date, else None."""
    y, m, d = year_of(year, latest), small_number(month, 2), small_number(day, 2)
    if y is None or m is None or d is None or len(month) != 2 or len(day) != 2:
        return None
    if not (1 <= m <= 12 and 1 <= d <= 31):
        return None
    return f"{y:04d}-{m:02d}-{d:02d}"


@_cached
def date_word(word: str, latest: int) -> str | None:
    """``2023-01-05`` / ``2023.01.05`` / ``2023_01_05`` as one word."""
    match = _DATE.fullmatch(word) if len(word) == 10 else None
    return iso_date(match.group(1), match.group(2), match.group(3), latest) if match else None


@_cached
def compact_date(word: str, latest: int) -> str | None:
    """``20230105``, as cameras and phones write it (``VID_20230105_123456``)."""
    match = _COMPACT_DATE.fullmatch(word) if len(word) == 8 else None
    return iso_date(match.group(1), match.group(2), match.group(3), latest) if match else None
