"""Jobs for the frame workers that take longer than any time limit a test sets: importable by
name, so a ``spawn`` worker can unpickle them (a lambda or a test's local function cannot)."""

from __future__ import annotations

import time
from pathlib import Path


def slow_poster(_paths: object, dest: str, *_args: object) -> bool:
    """Stands in for ``framegen.make_poster``: runs well past a test's tiny time limit, so the
    limit is what ends it, however fast the machine decodes the real clip; were it not ended, it
    would write a (fake) picture, and no placeholder would be served."""
    time.sleep(30)
    Path(dest).write_bytes(b"\xff\xd8 not a placeholder")
    return True
