"""A file name as words: the extension dropped, separators made spaces, a bracketed group
kept as one word.

Two styles of name exist. A *packed* name has no space (``Show.S01E02.720p.x264``,
``IMG_0001``): its dots and underscores are separators. A *spaced* name was typed by a
person (``Mr. Robot S01E01 - Pilot``, ``Lecture 3.2``): underscores are separators, and so
is a dot glued between two words (``Name.S01E02``), but not a dot after an abbreviation or
between two digits. Everything here is one pass over the name.
"""

from __future__ import annotations

import itertools
import re
from typing import NamedTuple

from mediaserve.core.library.formats import VIDEO_EXTENSIONS

DASHES = frozenset({"-", "–", "—"})
_CLOSE = {"(": ")", "[": "]", "{": "}"}
_OPENERS = re.compile(r"[(\[{]")


class Word(NamedTuple):
    """One word of a name, or a bracketed group (``text`` is then what is inside). A named
    tuple: a name has a few words and a library thousands of names, and a tuple is the
    cheapest object to make."""

    text: str
    bracket: str = ""  # "(", "[" or "{" for a group

    @property
    def dash(self) -> bool:
        return not self.bracket and self.text in DASHES

    @property
    def shown(self) -> str:
        """As it appears in a title (a group with its brackets)."""
        return f"{self.bracket}{self.text}{_CLOSE[self.bracket]}" if self.bracket else self.text


def split_path(path: str) -> tuple[tuple[str, ...], str]:
    """(folders from the top, file name) of a library path (POSIX, relative)."""
    parts = [part for part in path.split("/") if part]
    if not parts:
        return (), ""
    return tuple(parts[:-1]), parts[-1]


def strip_extension(name: str) -> str:
    """The name without its extension when that is a video one: ``Apollo.13`` and
    ``Film.x264`` keep theirs (the library only holds names with a video extension, so
    anything else is part of the name)."""
    dot = name.rfind(".")
    if dot > 0 and name[dot + 1:].lower() in VIDEO_EXTENSIONS:
        return name[:dot]
    return name


def _pieces(base: str) -> list[tuple[str, str]]:
    """``base`` cut into (text, bracket) pieces: plain text has bracket "", a group has its
    opener and its inner text. An opener without its closer is an ordinary character.
    Linear: each closer is searched for from just after its opener, and never again once
    none is left further on."""
    if _OPENERS.search(base) is None:
        return [(base, "")]
    pieces: list[tuple[str, str]] = []
    last_close = {opener: base.rfind(closer) for opener, closer in _CLOSE.items()}
    at = 0
    for match in _OPENERS.finditer(base):
        start, opener = match.start(), match.group()
        if start < at or start > last_close[opener]:
            continue  # inside the previous group, or no closer left for it
        end = base.find(_CLOSE[opener], start + 1)
        pieces.append((base[at:start], ""))
        pieces.append((base[start + 1:end], opener))
        at = end + 1
    pieces.append((base[at:], ""))
    return pieces


def _undot(word: str) -> list[str]:
    """A typed word split at its glued dots (``Name.S01E02``, ``Mr.Robot``, ``S01E02.720p``),
    but not in a number (``3.2``, ``10.15.32``, ``eps1.0``), after a lone letter (``A.M.``,
    ``S.W.A.T``), or where a dot ends or doubles (``Mr.``, ``Wait...``)."""
    pieces = word.split(".")
    out = [pieces[0]]
    for before, piece in itertools.pairwise(pieces):
        glued = (not piece or not before or (before[-1].isdigit() and piece.isdigit())
                 or (len(before) == 1 and before.isalpha()))
        if glued:
            out[-1] += "." + piece
        else:
            out.append(piece)
    return out


def _packed(plain: list[str]) -> bool:
    """A release-style name: no space between its words (groups aside), words joined by
    dots or underscores (``Show.S01E02.x264 (copy)`` is still one)."""
    if any(" " in text.strip() for text in plain):
        return False
    return sum(text.count(".") for text in plain) >= 2 or any("_" in t for t in plain)


def lex(base: str) -> tuple[list[Word], bool]:
    """The words of a file name without its extension, and whether it is packed:
    separators made spaces in its plain text (see the module docstring); a bracketed group
    is one word, kept as written."""
    pieces = _pieces(base)
    packed = _packed([text for text, bracket in pieces if not bracket])
    found: list[Word] = []
    for text, bracket in pieces:
        if bracket:
            found.append(Word(" ".join(text.split()), bracket))
        elif packed:
            found.extend(map(Word, text.replace(".", " ").replace("_", " ").split()))
        else:
            for word in text.replace("_", " ").split():
                if "." in word:
                    found.extend(map(Word, _undot(word)))
                else:
                    found.append(Word(word))
    return found, packed


def shown(items: list[Word]) -> str:
    """Words joined as a title, without dashes dangling at either end."""
    start, end = 0, len(items)
    while start < end and items[start].text in DASHES and not items[start].bracket:
        start += 1
    while end > start and items[end - 1].text in DASHES and not items[end - 1].bracket:
        end -= 1
    return " ".join([text if not bracket else f"{bracket}{text}{_CLOSE[bracket]}"
                     for text, bracket in items[start:end]])
