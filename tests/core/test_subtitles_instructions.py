"""SRT to WebVTT costs instructions linear in the input, whatever the input holds.

Call counts (the other tests in ``test_web_subtitles.py``) cannot see inside one C call, and
the old converter's flaw was exactly there: one ``re.sub`` call per line whose backtracking
grew with the square of the line (a 400 KB line of ``<font`` took 31 s). Here valgrind counts
every instruction of converting each hostile shape at two sizes; doubling the input must at
most double them (the old converter: ~4).
"""

from __future__ import annotations

import json
import random

import pytest

from benchmarks.subtitles_bench import SHAPES
from tests.complexity import VALGRIND, instructions

pytestmark = pytest.mark.skipif(VALGRIND is None, reason="valgrind is not installed")

#: characters per input at the smaller size: enough that constant costs do not count
SIZE = 8_000
_UNITS = ["<font", "</font", "<font a", "<", "{\\", "{", "-->", "1:", ":", ",", " ", "\n",
          " \n", "\r", ">", "}", "x", "0:0:0,0 --> "]

_PROGRAM = """
import json, os, sys
from benchmarks.subtitles_bench import SHAPES
from mediaserve.core.web.subtitles import srt_to_vtt
for shape, unit, size in json.loads(sys.argv[1]):
    make = SHAPES[shape] if shape else (
        lambda n: "1\\n0:0:1 --> 0:0:2\\n" + unit * (n // len(unit)))
    small, large = make(size), make(2 * size)
    os.getppid()
    srt_to_vtt(small)
    os.getppid()
    srt_to_vtt(large)
    os.getppid()
"""


def _cases() -> list[tuple[str, str, int]]:
    """Every benchmark shape, and hostile mixtures drawn with a fixed seed."""
    rng = random.Random(17)
    mixtures = ["".join(rng.choices(_UNITS, k=rng.randint(1, 4))) for _ in range(12)]
    return [(shape, "", SIZE) for shape in sorted(SHAPES)] + [("", unit, SIZE)
                                                             for unit in mixtures]


def test_doubling_a_hostile_input_at_most_doubles_the_instructions() -> None:
    cases = _cases()
    counts = instructions(_PROGRAM, json.dumps(cases))
    ratios = {}
    for number, (shape, unit, _size) in enumerate(cases):
        small, large = counts[3 * number + 1], counts[3 * number + 2]
        ratios[shape or repr(unit)] = round(large / small, 2)
    worst = max(ratios.values())
    assert worst < 2.3, ratios  # linear: ~2; the old regular expressions: ~4
