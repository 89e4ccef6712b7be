"""Clean titles from file names (what a library card shows)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mediaserve.core.web.titles import clean_title, stem
from tests.complexity import VALGRIND, instructions


@pytest.mark.parametrize(("name", "title"), [
    ("The.Grand.Budapest.Hotel.2014.1080p.BluRay.x264-GRP.mkv", "The Grand Budapest Hotel (2014)"),
    ("Movies/Blade Runner (1982).mp4", "Blade Runner (1982)"),
    ("Some_Home_Video.mp4", "Some Home Video"),
    ("IMG_0001.mp4", "IMG 0001"),
    ("Show.S01E02.720p.WEB-DL.mkv", "Show S01E02"),
    ("show s1e3 hdtv.avi", "show S01E03"),
    ("[Group] Anime Title - 01 [1080p].mkv", "Anime Title - 01"),
    ("Gradient Sunrise.mp4", "Gradient Sunrise"),
    ("Camera Roll/IMG_0001 (moov at end).mp4", "IMG 0001 (moov at end)"),
    ("2001 A Space Odyssey.mp4", "2001 A Space Odyssey"),
    ("1080p.mp4", "1080p"),  # nothing but a tag: keep it rather than print nothing
    (".hidden", ".hidden"),
    ("noext", "noext"),
])
def test_clean_title(name: str, title: str) -> None:
    assert clean_title(name) == title


def test_stem_drops_folder_and_last_extension_only() -> None:
    assert stem("a/b/movie.part1.mp4") == "movie.part1"
    assert stem("movie") == "movie"


@given(st.text(min_size=1, max_size=80).filter(lambda s: "/" not in s and s.strip()))
def test_a_title_is_never_empty(name: str) -> None:
    assert clean_title(name).strip()


# --- hostile names: linear in their length ------------------------------------------------

#: names of spaces and brackets (the old pattern backtracked over every head length), as the
#: source of a function of the length: the measuring interpreter imports nothing of the tests
_HOSTILE_NAMES = {
    "spaces": '"a" + " " * n + "x"',
    "parens": '"a" + "(" * n + "x"',
    "mixed": '"a" + " ([" * (n // 3) + "19x"',
    "dots": '"a" + ".(" * (n // 2)',
    "years": '"a" + " 19" * (n // 3)',
}


@pytest.mark.skipif(VALGRIND is None, reason="valgrind is not installed")
def test_a_hostile_name_costs_instructions_linear_in_its_length() -> None:
    """A name is at most 255 bytes, but the old pattern took 0.8 ms on 255 spaces (a library
    of such names: seconds per catalog build); counted by callgrind at 120 and 240."""
    program = (
        "import os, sys\n"
        "from mediaserve.core.web.titles import clean_title\n"
        "for shape in sys.argv[1:]:\n"
        "    small, large = (eval(shape, {'n': n}) for n in (120, 240))\n"
        "    os.getppid(); clean_title(small); os.getppid(); clean_title(large); os.getppid()\n")
    names = sorted(_HOSTILE_NAMES)
    counts = instructions(program, *(_HOSTILE_NAMES[name] for name in names))
    ratios = {name: round(counts[3 * i + 2] / counts[3 * i + 1], 2)
              for i, name in enumerate(names)}
    assert max(ratios.values()) < 2.3, ratios  # linear: ~2; the old pattern: ~3.6
