"""Control, bidi and separator characters made visible (terminals) or removed (headers)."""

from __future__ import annotations

import json
import re
import sys
import unicodedata

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from mediaserve.core.text.controls import BIDI_CONTROLS, json_visible, strip_controls, visible
from tests.complexity import growth


def _special(char: str) -> bool:
    return unicodedata.category(char) in ("Cc", "Cs", "Zl", "Zp") or char in BIDI_CONTROLS


_HOSTILE = st.lists(st.sampled_from(["\x1b", "[", "31m", "\r", "\n", "\t", "\x00", "\x7f",
                                     "\x9b", "\x85", "\u202e", "\u2066", "\u200f", "\u2028",
                                     "\udcff", "\ud800", "a", "é", "中", "👍", "\\", " "]),
                    max_size=30).map("".join)


@given(_HOSTILE | st.text())
def test_nothing_a_terminal_obeys_is_left(text: str) -> None:
    out = visible(text)
    assert not any(_special(char) for char in out), repr(out)
    out.encode("utf-8")  # no surrogate: printable on any UTF-8 terminal or log file
    assert visible(out) == out  # already safe
    assert len(out) >= len(text)


@given(_HOSTILE | st.text())
def test_strip_controls_keeps_everything_else_in_order(text: str) -> None:
    assert strip_controls(text) == "".join(c for c in text if not _special(c))


@given(st.text())
def test_ordinary_text_is_unchanged(text: str) -> None:
    ordinary = "".join(c for c in text if not _special(c))
    assert visible(ordinary) == ordinary


@given(st.dictionaries(_HOSTILE | st.text(), st.lists(_HOSTILE | st.text(), max_size=3),
                       max_size=4), st.sampled_from([None, 2]))
def test_json_stays_exact_and_shows_nothing_raw(data: dict[str, list[str]],
                                                 indent: int | None) -> None:
    # (a high surrogate before a low one: JSON reads the two escapes as one character)
    assume(not any(re.search("[\ud800-\udbff][\udc00-\udfff]", text)
                   for key, values in data.items() for text in [key, *values]))
    document = json_visible(json.dumps(data, ensure_ascii=False, indent=indent))
    assert json.loads(document) == data
    assert not any(_special(char) for char in document.replace("\n", ""))


@pytest.mark.parametrize(("text", "shown"), [
    ("a\x1b[31mred", "a\\x1b[31mred"),
    ("one\r\ntwo\tthree", "one\\r\\ntwo\\tthree"),
    ("rtl\u202egpj.mp4", "rtl\\u202egpj.mp4"),
    ("csi\x9b2J nel\x85", "csi\\x9b2J nel\\x85"),
    ("bad byte \udcff", "bad byte \\xff"),  # a name that was not UTF-8 (surrogateescape)
    ("line\u2028sep", "line\\u2028sep"),
    ("Amélie 中文 👍 [bold]", "Amélie 中文 👍 [bold]"),
])
def test_examples(text: str, shown: str) -> None:
    assert visible(text) == shown


def test_every_special_character_is_one_python_does_not_print() -> None:
    # the fast path (str.isprintable) is exact only if so
    specials = [chr(c) for c in range(sys.maxunicode + 1) if _special(chr(c))]
    assert not any(char.isprintable() for char in specials)
    assert all(visible(char) != char for char in specials)


@pytest.mark.parametrize("unit", ["\x1b[31m", "é\u202e", "a", "\udcff"])
def test_linear(unit: str) -> None:
    assert growth(lambda n: visible(unit * n), 10_000) < 2.3
