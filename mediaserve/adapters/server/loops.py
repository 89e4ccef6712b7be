"""Which event loop serves: uvloop when installed (the ``event_loop`` setting), else asyncio's.

uvloop halves the loop's own cost per request (its transports, handles and timers are C), which
on the seek workloads is most of what is left once the kernel sends the bytes; see
benchmarks/RESULTS.md. It is optional at run time: a platform without a wheel still serves.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

_T = TypeVar("_T")


def loop_factory(choice: str = "auto") -> Callable[[], asyncio.AbstractEventLoop]:
    """A new-loop factory for ``choice`` ("auto", "uvloop", "asyncio").

    "uvloop" without uvloop installed is an error (asked for by name); "auto" falls back."""
    if choice in ("auto", "uvloop"):
        try:
            import uvloop
        except ImportError:
            if choice == "uvloop":
                raise RuntimeError("event_loop = uvloop, but uvloop is not installed "
                                   "(pip install uvloop)") from None
        else:
            return uvloop.new_event_loop
    return asyncio.new_event_loop


def run(main: Coroutine[Any, Any, _T], choice: str = "auto") -> _T:
    """``asyncio.run`` on the chosen loop."""
    with asyncio.Runner(loop_factory=loop_factory(choice)) as runner:
        return runner.run(main)
