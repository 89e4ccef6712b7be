"""Small pieces every command shares: exit codes, error output, consoles."""

from __future__ import annotations

import json
import os
import sys
from typing import Any, NoReturn

import click
from rich.console import Console

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_IO = 1
EXIT_USAGE = 2
EXIT_REFUSED = 3
EXIT_NETWORK = 3
PIPE_WIDTH = 10_000  # "unlimited" width of output that is not a terminal


def fail(message: str, code: int) -> NoReturn:
    """One line on stderr, then exit: what a user mistake gets instead of a traceback."""
    click.echo(f"mediaserve: error: {message}", err=True)
    sys.exit(code)


def console(stderr: bool = False, verbatim: bool = False) -> Console:
    """``verbatim``: plain strings are printed as they are, without rich markup or emoji
    codes; for text from outside (``probe`` prints what servers send: "[/]" in a header
    would otherwise be a markup error)."""
    out = Console(stderr=stderr, highlight=False, markup=not verbatim, emoji=not verbatim)
    if not out.is_terminal and not os.environ.get("COLUMNS"):
        # rich wraps at 80 columns when it cannot ask a terminal: a pipe or a log file
        # would get paths and messages cut in two; lines are as long as they need to be
        out.width = PIPE_WIDTH
    return out


def print_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def human_size(num: float) -> str:
    if isinstance(num, int) and abs(num) >= 1 << 1000:  # no float holds it (a server's claim)
        return f"{num >> 40} TiB"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(num) < 1024 or unit == "TiB":
            return f"{num:.0f} {unit}" if unit == "B" else f"{num:.1f} {unit}"
        num /= 1024
    return f"{num:.1f} TiB"


def human_duration(seconds: float) -> str:
    seconds = round(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
