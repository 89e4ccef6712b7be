"""The title parser: a table of real-world-like names, properties over any name, and the
cost of hostile names."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from mediaserve.core.naming import Kind, parse, parse_path, show_key
from tests.complexity import growth
from tests.core.naming_table import ISSUE, TABLE, Row

THIS_YEAR = 2025


def test_the_table_is_large_and_unique() -> None:
    paths = [row[0] for row in TABLE]
    assert len(paths) >= 150
    assert len(set(paths)) == len(paths)


@pytest.mark.parametrize("row", TABLE, ids=[row[0] for row in TABLE])
def test_table(row: Row) -> None:
    path, title, kind, fields = row
    parsed = parse_path(path, THIS_YEAR)
    got: dict[str, Any] = {"title": parsed.title, "kind": str(parsed.kind)}
    want: dict[str, Any] = {"title": title, "kind": kind}
    for name, value in fields.items():
        got[name] = getattr(parsed, name)
        want[name] = value
    assert got == want
    if parsed.kind is Kind.EPISODE:
        assert parsed.show
    else:
        assert parsed.show is None and parsed.season is None and parsed.episode is None


def test_issue_titles_that_were_merged_are_now_distinct() -> None:
    titles = [parse_path(path, THIS_YEAR).title for path, *_ in ISSUE]
    assert titles[0] != titles[1]  # Wedding 2018 - Ceremony / Reception
    assert titles[4] != titles[5]  # Holiday 2023 / Holiday 2023 (copy, truncated)


def test_the_year_bound_moves_with_the_clock() -> None:
    assert parse_path("Blade.Runner.2049.1080p.mkv", 2025).year is None
    assert parse_path("Blade.Runner.2049.1080p.mkv", 2048).year == 2049
    assert parse_path("Blade.Runner.2049.1080p.mkv").year == 2049  # no clock: up to 2099


def test_the_show_key_ignores_case_punctuation_and_spacing() -> None:
    assert show_key("Doctor.Who  (2005)") == show_key("doctor who 2005") == "doctor who 2005"
    assert show_key("Ünïcödé") == "ünïcödé"
    assert show_key("!!!") == ""


def test_a_season_folder_holds_episodes_of_its_show() -> None:
    first = parse_path("TV/Show/Season 1/Show S01E01.mkv", THIS_YEAR)
    loose = parse_path("TV/Show.S01E02.720p.mkv", THIS_YEAR)
    assert (first.scope, show_key(first.show or "")) == (loose.scope,
                                                        show_key(loose.show or ""))


names = st.text(st.characters(blacklist_categories=("Cs",)), max_size=120)
paths = st.lists(st.one_of(names, st.sampled_from(
    ["Season 1", "Specials", "Show", "S01", "第2季", "", "..", "[x]"])), max_size=5).map(
        "/".join)
fragments = st.sampled_from([
    "S01E02", "1x02", "-", " - ", ".", "_", "(2017)", "[1080p]", "2017", "1080p", "x264",
    "Season", "Episode", "1", "01", "CD1", "Part", "(", ")", "[", "]", "2023-01-05",
    "2023", "01", "05", "PROPER", "第1季", "第05集", "E05", "v2", " ", "copy", "S2"])
tricky = st.lists(st.one_of(fragments, names), max_size=30).map("".join)


@settings(max_examples=400)
@given(st.one_of(paths, tricky, tricky.map(lambda t: f"Show/Season 2/{t}.mkv")))
@example(path="\r/SEASON0/0")  # a show folder of blanks was a show called "\r" (CI)
@example(path=" /Season 1/Pilot.mkv")
def test_never_raises_and_never_an_empty_title(path: str) -> None:
    parsed = parse_path(path, THIS_YEAR)
    assert parsed.title.strip()
    if parsed.kind is Kind.EPISODE:
        assert parsed.show and parsed.show.strip()
    if parsed.episode is not None and parsed.episode_end is not None:
        assert parsed.episode <= parsed.episode_end


def _letters(text: str) -> list[str]:
    return [c for c in text if c.isalnum()]


@settings(max_examples=300)
@given(tricky.map(lambda t: t.replace("/", " ")))
def test_an_other_keeps_every_letter_and_digit_of_its_name(text: str) -> None:
    """What the parser does not recognise keeps its file name: only separators change."""
    parsed = parse_path(f"Folder/{text}.mp4", THIS_YEAR)
    if parsed.kind is Kind.OTHER:
        assert _letters(parsed.title) == _letters(text) or not _letters(text)


HOSTILE = [
    "(", "[", "{", "(a", "[[a]", "a.", "a_", ". ", "- ", "S01E", "S01E01", "1x02-",
    "2017 ", "(2017) ", "[1080p] ", "Season 1 ", "Episode 1 - ", "2023 01 05 ", "CD1 ",
    "x264-", "第1季", "e" * 39 + " ", "9" * 41, "S" + "0" * 50 + "E1 ", "PROPER.", "a-b ",
]


@pytest.mark.parametrize("unit", HOSTILE)
def test_hostile_names_cost_linear_work(unit: str) -> None:
    """Doubling a hostile name doubles the calls the parser makes, at most (not 4x)."""

    def run(n: int) -> None:
        parse_path(f"Show/Season 1/{unit * n}x{unit * n}.mkv", THIS_YEAR)
        parse_path(f"{unit * n}/{unit * n} S01E01 {unit * n}.mkv", THIS_YEAR)  # show folder?

    assert growth(run, 200) < 2.3


def test_deep_folders_cost_linear_work() -> None:
    def run(n: int) -> None:
        parse_path("Season 1/" * n + "Show S01E01.mkv", THIS_YEAR)

    assert growth(run, 200) < 2.3


def _gates_open(path: str) -> Any:
    """``parse_path`` with every whole-name gate open (every word-by-word search runs)."""
    original = parse._Gates.__init__

    def all_open(self: Any, base: str) -> None:
        original(self, base)
        self.digits = self.marker = self.dash = self.date = self.part = True

    parse._Gates.__init__ = all_open  # type: ignore[method-assign]
    try:
        return parse_path(path, THIS_YEAR)
    finally:
        parse._Gates.__init__ = original  # type: ignore[method-assign]


def test_the_fast_gates_never_change_an_answer_in_the_table() -> None:
    """The whole-name tests that skip word-by-word searches only skip searches that would
    have found nothing: with every gate open the answers are the same."""
    for path, *_ in TABLE:
        assert parse_path(path, THIS_YEAR) == _gates_open(path), path


@settings(max_examples=300)
@given(st.one_of(tricky, tricky.map(lambda t: f"Show/Season 2/{t}.mkv")))
def test_the_fast_gates_never_change_an_answer(path: str) -> None:
    assert parse_path(path, THIS_YEAR) == _gates_open(path)


def test_long_hostile_words_are_not_kept_by_the_caches() -> None:
    """The word caches keep short words only: 2,000 names of 5,000 distinct characters each
    (10 MB read) leave almost nothing behind."""
    import random
    import tracemalloc

    rng = random.Random(3)
    parse_path("warm up S01E01 (2017) [1080p].mkv", THIS_YEAR)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for n in range(2000):
            word = rng.randbytes(2500).hex()
            parse_path(f"Show/Season 1/{word} {n} ({word}) [{word}].mkv", THIS_YEAR)
        kept = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert kept < 2_000_000, kept
