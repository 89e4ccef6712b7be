"""Complexity checks that do not depend on the machine's speed.

Timing asserts flake on a loaded 2-core machine; counting the Python and C calls an
operation makes is deterministic. Doubling the input and comparing the counts shows whether
work grows linearly (ratio ~2), stays constant (~1) or worse (~4 for quadratic).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

REPO = Path(__file__).resolve().parents[1]


def count_calls(fn: Callable[[], Any]) -> int:
    """Function calls (Python and C) made while running ``fn``."""
    calls = 0

    def profile(_frame: FrameType, event: str, _arg: Any) -> None:
        nonlocal calls
        if event in ("call", "c_call"):
            calls += 1

    sys.setprofile(profile)
    try:
        fn()
    finally:
        sys.setprofile(None)
    return calls


def growth(run: Callable[[int], Any], size: int) -> float:
    """How much the call count grows when the input size doubles (``run(n)`` does the work
    for an input of size n); +50 absorbs constant overhead on tiny counts."""
    small = count_calls(lambda: run(size))
    large = count_calls(lambda: run(2 * size))
    return (large + 50) / (small + 50)


VALGRIND = shutil.which("valgrind")


def instructions(code: str, *args: str, timeout: float = 600) -> list[int]:
    """CPU instructions between the markers of a Python program, counted by valgrind's
    callgrind: what call counts cannot see, the work inside a C call (a regular
    expression's backtracking, a ``str.find`` that rescans), counted exactly.

    ``code`` runs in a fresh interpreter (``PYTHONHASHSEED=0``, so counts repeat) and calls
    ``os.getppid()`` as a marker; the result has one number per marker: the instructions
    since the previous marker (the first includes start-up). Slow: valgrind runs Python
    ~50 times slower, so keep the measured work to milliseconds of native time.
    """
    if VALGRIND is None:
        raise RuntimeError("valgrind is not installed")
    with tempfile.TemporaryDirectory() as work:
        out = os.path.join(work, "callgrind.out")
        env = {**os.environ, "PYTHONHASHSEED": "0", "PYTHONPATH": str(REPO)}
        subprocess.run([VALGRIND, "--tool=callgrind", f"--callgrind-out-file={out}",
                        "--dump-before=getppid", "-q", sys.executable, "-c", code, *args],
                       check=True, env=env, timeout=timeout, cwd=work,
                       stdout=subprocess.DEVNULL)
        dumps = sorted((name for name in os.listdir(work) if name.startswith("callgrind.out.")),
                       key=lambda name: int(name.rsplit(".", 1)[1]))
        counts = []
        for name in dumps:
            with open(os.path.join(work, name), encoding="utf-8") as handle:
                totals = [line for line in handle if line.startswith("totals:")]
            counts.append(int(totals[0].split()[1]) if totals else 0)
        return counts
