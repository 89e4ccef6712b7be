"""Read a library path into a :class:`ParsedName`: episode, movie or other, and a title.

The order of the questions, each answered in one pass over the words:

1. Where does the release noise start? At the first *strong* tag (``1080p``, ``BluRay``,
   ``x264``, a ``[1080p]`` group) after the first word, pulled back over *weak* tags just
   before it (``PROPER``, ``HDR``). In a name a person typed (with spaces) a strong tag
   only cuts when nothing but tags and groups follow it, so *Concert 4K Restoration*
   stays whole. After the cut only what tells two files apart is kept: groups that are not
   noise (``(1)``, ``(copy, truncated)``), parts (``CD1``), ``sample``, ``trailer``.
2. Is it an episode? A marker (``S01E02``, ``1x02``, ``Season 1 Episode 2``…), a date
   after the show's name in the show's folder or in a release name, an anime ``- 01``,
   or a season folder above the file.
3. Else is it a film? The last plausible year in brackets, or the last bare year before
   the noise (*Blade Runner 2049 (2017)*, ``Blade.Runner.2049.2017.1080p``), not the first
   word (*1917*, *2001 A Space Odyssey*), not after next year (*Blade Runner 2049*). A
   release name without a year is a film too.
4. Else it is *other*, titled by its file name with the separators made spaces.

Never raises; the title is never empty; the time is linear in the length of the path.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from mediaserve.core.naming.episodes import (
    Found,
    find_anime,
    find_date,
    find_in_season_folder,
    find_marker,
)
from mediaserve.core.naming.lexer import (
    Word,
    lex,
    shown,
    split_path,
    strip_extension,
)
from mediaserve.core.naming.model import Kind, ParsedName, same_show
from mediaserve.core.naming.tags import (
    EPISODE_WORDS,
    PART_WORDS,
    SEASON_WORDS,
    Tag,
    compact_date,
    date_word,
    is_noise_group,
    part_of,
    season_folder,
    small_number,
    tag_of,
    year_of,
)

#: the latest year when the caller does not say what year it is
NO_CEILING = 2099
_DIGIT = re.compile(r"[0-9]")
#: cheap tests of a whole name (bounded literals: linear) that skip the word-by-word
#: searches which could not find anything: most names have no date and no marker
_MAYBE_MARKER = re.compile(r"[se][0-9]|[0-9]x[0-9]|第|" + "|".join(  # on the lower case
    sorted(SEASON_WORDS | EPISODE_WORDS, key=len, reverse=True)))
_MAYBE_PART = re.compile(r"cd|dis[ck]|dvd|part|pt")  # on the lower case
_MAYBE_DATE = re.compile(r"[0-9]{4}[-._ ][0-9]{2}[-._ ][0-9]{2}")
_KEEP_WORDS = frozenset({"sample", "trailer", "teaser", "featurette", "copy"})
_COPY_WORDS = frozenset({"copy", "kopie", "copie", "copia", "kopia", "kopio"})


def _quiet(word: Word) -> bool:
    """What may follow the noise in a spaced name: tags, groups, parts, dashes."""
    return (bool(word.bracket) or word.dash or tag_of(word.text) is not None
            or part_of(word.text) is not None or word.text.lower() in _KEEP_WORDS
            or word.text.lower() in PART_WORDS or small_number(word.text, 2) is not None)


def _cut(items: list[Word], packed: bool) -> int:
    """Where the release noise starts (``len(items)`` when there is none)."""
    strong = [i for i in range(1, len(items))
              if (tag_of(items[i].text) is Tag.STRONG if not items[i].bracket
                  else is_noise_group(items[i].text))]
    if not strong:
        return len(items)
    if not packed:  # the first strong tag followed by nothing but quiet words
        quiet_from = len(items)  # everything from here on is quiet
        while quiet_from > strong[0] and _quiet(items[quiet_from - 1]):
            quiet_from -= 1
        strong = [i for i in strong if i + 1 >= quiet_from]
        if not strong:
            return len(items)
    i = strong[0]
    while i > 1 and not items[i - 1].bracket and tag_of(items[i - 1].text) is Tag.WEAK:
        i -= 1
    return i


def _keepers(tail: list[Word]) -> list[Word]:
    """What survives after the cut: groups that are not noise, parts, sample/trailer."""
    kept: list[Word] = []
    for i, word in enumerate(tail):
        low = word.text.lower()
        if word.bracket:
            if not is_noise_group(word.text):
                kept.append(word)
        elif part_of(word.text) is not None or low in _KEEP_WORDS:
            kept.append(word)
        elif (low in PART_WORDS and i + 1 < len(tail)
              and small_number(tail[i + 1].text, 2) is not None):
            kept.extend(tail[i:i + 2])
    return kept


def _part(items: list[Word]) -> int | None:
    """The last part marker: ``CD1``, ``Part 2``, ``Disc 3``."""
    part = None
    for i, word in enumerate(items):
        if word.bracket:
            continue
        number = part_of(word.text)
        if number is None and word.text.lower() in PART_WORDS and i + 1 < len(items):
            number = small_number(items[i + 1].text, 2)
        part = number if number is not None else part
    return part


def _year_at(items: list[Word], cut_found: bool, latest: int) -> tuple[int, int] | None:
    """(index, year) of the film's year: the last bracketed year, else the last bare year
    when noise follows; never the first word."""
    bracketed = bare = None
    for i in range(1, len(items)):
        word = items[i]
        year = year_of(word.text, latest) if word.bracket in ("", "(", "[") else None
        if year is None:
            continue
        if word.bracket:
            bracketed = (i, year)
        else:
            bare = (i, year)
    return bracketed or (bare if cut_found else None)


def _clean_folder(name: str, latest: int) -> str:
    """A show folder's name as a show's; "" for a folder of nothing but blanks (a show
    called ``"\\r"`` is no show: the caller falls back to the file's own name)."""
    return _show_name(lex(name)[0], latest) or name.strip()


def _show_name(items: Sequence[Word], latest: int) -> str:
    """A show's name from its words: a bare year at the end is bracketed
    (``Doctor.Who.2005`` is *Doctor Who (2005)*)."""
    items = list(items)
    while items and items[-1].dash:
        items.pop()
    if len(items) >= 2 and not items[-1].bracket and year_of(items[-1].text, latest):
        items[-1] = Word(items[-1].text, "(")
    return shown(items)


class _Path:
    """The folders around a file: the season folder above it, the show folder."""

    def __init__(self, folders: tuple[str, ...]) -> None:
        self.folders = folders
        self.season = season_folder(folders[-1]) if folders else None
        #: index of the folder that would be the show's: above a season folder, else the parent
        self.show_at = len(folders) - (2 if self.season is not None else 1)

    def show_folder(self, show: str) -> int | None:
        """Index of the show's own folder for a show called ``show`` ("" = whatever it is)."""
        if self.show_at < 0:
            return None
        if self.season is not None or not show:
            return self.show_at
        return self.show_at if same_show(self.folders[self.show_at], show) else None

    def scope(self, show_folder: int | None) -> str:
        """The folder a show lives in: above its own folder, or where its files are."""
        end = show_folder if show_folder is not None else max(self.show_at + 1, 0)
        return "/".join(self.folders[:end])


def _copy_mark(word: Word) -> bool:
    """``(1)``, ``(copy)``, ``copy``: what a file manager adds to a duplicate's name."""
    first = word.text.split(" ", 1)[0].rstrip(",").casefold()
    if word.bracket:
        return first in _COPY_WORDS or (word.text.isdigit() and len(word.text) <= 3)
    return first in _COPY_WORDS


def _episode(head: list[Word], found: Found, where: _Path, keep: list[Word],
             latest: int, part: int | None) -> ParsedName | None:
    marker = found.marker
    own = _show_name(head[:found.at], latest)
    at_folder = where.show_folder(own)
    show = _clean_folder(where.folders[at_folder], latest) if at_folder is not None else own
    if not show:
        return None  # "S01E02.mkv" at the root: an episode of nothing we can name
    after = head[found.at + found.size:]
    end = len(after)  # copies' marks at the end are not the episode's title: "S01E01 (1)"
    while end and _copy_mark(after[end - 1]):
        end -= 1
    if all(word.bracket or word.dash for word in after[:end]):
        end = 0
    after, keep = after[:end], after[end:] + keep
    season = marker.season if marker.season is not None else where.season
    title_words = shown(after) or None
    if found.written:
        written = shown(head[:found.at + found.size + end])
        title = written if own else f"{show} {written}"
    else:
        code = "" if season is None else f"S{season:02d}"
        code += f"E{marker.first:02d}"
        if marker.last != marker.first:
            code += f"-E{marker.last:02d}"
        title = f"{own or show} {code}" + (f" - {title_words}" if title_words else "")
    return ParsedName(
        _with(title, keep), Kind.EPISODE, show=show, season=season, episode=marker.first,
        episode_end=marker.last, episode_title=title_words, part=part,
        scope=where.scope(at_folder))


def _dated(head: list[Word], where: _Path, keep: list[Word], release: bool,
           latest: int) -> ParsedName | None:
    """``Show 2023-01-05``: an episode of a daily show in the show's folder or in a release
    name; elsewhere a dated video (*Birthday 2023-01-05*)."""
    date = find_date(head, latest)
    if date is None:
        return None
    at, size, iso = date
    own = _show_name(head[:at], latest)
    at_folder = where.show_folder(own)
    if not own or not (release or at_folder is not None):
        return None
    show = _clean_folder(where.folders[at_folder], latest) if at_folder is not None else own
    if not show:
        return None
    rest = shown(head[at + size:]) or None
    title = f"{own} {iso}" + (f" - {rest}" if rest else "")
    return ParsedName(_with(title, keep), Kind.EPISODE, show=show, season=int(iso[:4]),
                      episode_title=rest, date=iso, scope=where.scope(at_folder))


def _with(title: str, keep: list[Word]) -> str:
    return f"{title} {shown(keep)}" if keep else title


def _folder_episode(head: list[Word], where: _Path, keep: list[Word],
                    latest: int) -> ParsedName | None:
    """A file in a season folder with no marker of its own: ``Season 1/Pilot.mkv``."""
    if where.season is None or where.show_at < 0:
        return None
    show = _clean_folder(where.folders[where.show_at], latest)
    if not show:
        return None
    text = shown(head) or None
    return ParsedName(_with(text or show, keep), Kind.EPISODE, show=show,
                      season=where.season, episode_title=text,
                      scope=where.scope(where.show_at))


def _film(head: list[Word], keep: list[Word], cut_found: bool,
          at: tuple[int, int] | None, part: int | None) -> ParsedName | None:
    """A film: ``at`` is where its year is (:func:`_year_at`), if it has one."""
    if at is None:
        if not cut_found:
            return None
        return ParsedName(_with(shown(head), keep), Kind.MOVIE, part=part)
    index, year = at
    name, rest = shown(head[:index]), shown(head[index + 1:])
    if rest and head[index + 1].dash:
        rest = f"- {rest}"  # "Film (2017) - Copy"
    title = " ".join(part for part in (name, f"({year})", rest) if part)
    return ParsedName(_with(title, keep), Kind.MOVIE, year=year, part=part)


def _date_in(items: list[Word], latest: int) -> str | None:
    """The first date anywhere in a name: ``2023-07-04 Fireworks``, ``2024.01.08``,
    ``My Video (2023-05-04)``, ``VID_20230105_123456``."""
    found = find_date(items, latest, start=0)
    if found is not None:
        return found[2]
    for word in items:
        if date := date_word(word.text, latest) or compact_date(word.text, latest):
            return date
    return None


class _Gates:
    """What a name may hold, from a few C-speed tests of the whole name."""

    def __init__(self, base: str) -> None:
        self.digits = _DIGIT.search(base) is not None
        self.marker = self.digits and _MAYBE_MARKER.search(base.lower()) is not None
        self.dash = self.digits and ("-" in base or "–" in base or "—" in base)
        self.date = self.digits and _MAYBE_DATE.search(base) is not None
        self.part = self.digits and _MAYBE_PART.search(base.lower()) is not None


def _read(items: list[Word], where: _Path, packed: bool, latest: int,
          grouped: bool, gates: _Gates) -> ParsedName:
    """The questions of the module docstring, in order, on a name's words. Without a digit
    in the name, there is no marker, number, year or date to look for."""
    cut = _cut(items, packed)
    head, release = items[:cut], cut < len(items)
    keep = _keepers(items[cut:]) if release else []
    digits = gates.digits
    part = _part(items) if gates.part else None
    year_at = _year_at(head, release, latest) if digits else None
    film_year = year_at is not None
    if digits:
        for found in (find_marker(head, where.season, words_ok=not film_year)
                      if gates.marker else None,
                      find_anime(head, grouped, where.season) if gates.dash else None):
            if found is not None and (parsed := _episode(head, found, where, keep, latest,
                                                         part)) is not None:
                return parsed
        if gates.date and (parsed := _dated(head, where, keep, release, latest)) is not None:
            return parsed
    if where.season is not None:
        found = find_in_season_folder(head, where.season) if digits else None
        if found is not None and (parsed := _episode(head, found, where, keep, latest,
                                                     part)) is not None:
            return parsed
        if (parsed := _folder_episode(head, where, keep, latest)) is not None:
            return parsed
    if (film_year or release) and (parsed := _film(head, keep, release, year_at,
                                                     part)) is not None:
        return parsed
    date = _date_in(items, latest) if digits else None  # (compact dates too: no gate)
    return ParsedName(shown(items), Kind.OTHER, date=date, part=part)


def parse_path(path: str, this_year: int | None = None) -> ParsedName:
    """What the library path ``path`` (folders and file name) says about its video.
    ``this_year`` bounds plausible years (next year is still one: films are announced);
    without it any year up to 2099 is."""
    latest = this_year + 1 if this_year is not None else NO_CEILING
    folders, name = split_path(path)
    base = strip_extension(name)
    items, packed = lex(base)
    where = _Path(folders)
    gates = _Gates(base)
    parsed = None
    if len(items) > 1 and items[0].bracket == "[":  # "[Group] Show - 01": drop the group
        parsed = _read(items[1:], where, packed, latest, True, gates)
        if parsed.kind is Kind.OTHER:
            parsed = None  # not a release after all: "[Live] Concert" keeps its group
    if parsed is None:
        parsed = _read(items, where, packed, latest, False, gates)
    if parsed.title.strip():
        return parsed
    fallback = base.strip() or name.strip() or path.strip() or "Untitled"
    return parsed._replace(title=fallback)
