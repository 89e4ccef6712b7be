"""Complexity checks that do not depend on the machine's speed.

Timing asserts flake on a loaded 2-core machine; counting the Python and C calls an
operation makes is deterministic. Doubling the input and comparing the counts shows whether
work grows linearly (ratio ~2), stays constant (~1) or worse (~4 for quadratic).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from types import FrameType
from typing import Any


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
