"""How long SRT to WebVTT conversion takes on hostile input: one line per shape.

Each shape is a subtitle file of about ``--kib`` KiB built to hurt a backtracking converter
(a long run of ``<font`` with no ``>``, of ``{\\`` with no ``}``, of arrows, digits and colons,
whitespace, blank lines). The converter is linear in its input, so every shape should take
about as long as a normal file of the same size; the old regular expressions took ~17 s for
the 400 KiB ``<font`` line.

    python -m benchmarks.subtitles_bench [--kib 400] [--repeat 3] [--shape font ...]

Run the same file against an older checkout to compare (the ``mediaserve`` package is
whichever comes first on ``sys.path``)::

    PYTHONPATH=/path/to/old/checkout python benchmarks/subtitles_bench.py
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

from mediaserve.core.web.subtitles import srt_to_vtt

CUE = "1\n00:00:01,000 --> 00:00:02,000\n"


def _repeat(unit: str, size: int) -> str:
    return unit * max(1, size // len(unit))


#: shape name -> a text of about ``size`` characters
SHAPES: dict[str, Callable[[int], str]] = {
    "normal": lambda n: _repeat(CUE.replace("1\n", "7\n") + "Some words <i>here</i>\n\n", n),
    "font": lambda n: CUE + _repeat("<font", n),
    "font-close": lambda n: CUE + _repeat("</font", n),
    "font-open-tags": lambda n: CUE + _repeat("<font a=b ", n),
    "ass": lambda n: CUE + _repeat("{\\", n),
    "arrows": lambda n: CUE + _repeat("-->", n),
    "arrow-lines": lambda n: _repeat("-->\n", n),
    "digits": lambda n: _repeat("1", n) + ":",
    "colons": lambda n: _repeat("1:", n // 2) + " --> " + _repeat("1:", n // 2),
    "timings": lambda n: _repeat("0:0:0,0 --> ", n),
    "spaces": lambda n: CUE + _repeat(" ", n) + "x",
    "space-lines": lambda n: _repeat(" \n", n),
    "newlines": lambda n: _repeat("\n", n),
    "cr": lambda n: _repeat("\r", n),
    "one-block": lambda n: _repeat("x\n", n),
}


def measure(shape: str, kib: int, repeat: int) -> tuple[int, float]:
    """(characters, best seconds of ``repeat`` conversions) for one shape."""
    text = SHAPES[shape](kib * 1024)
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        srt_to_vtt(text)
        best = min(best, time.perf_counter() - start)
    return len(text), best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kib", type=int, default=400)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--shape", action="append", choices=sorted(SHAPES))
    args = parser.parse_args()
    print(f"| shape | characters | seconds (best of {args.repeat}) |")
    print("| --- | ---: | ---: |")
    for shape in args.shape or SHAPES:
        chars, seconds = measure(shape, args.kib, args.repeat)
        print(f"| {shape} | {chars:,} | {seconds:.4f} |", flush=True)


if __name__ == "__main__":
    main()
