"""Small pieces every command shares: exit codes, error output, consoles."""

from __future__ import annotations

import json
import os
import sys
import traceback
from enum import IntEnum
from typing import TYPE_CHECKING, Any, NoReturn

import click

if TYPE_CHECKING:  # rich is imported when a console is made: `serve` never makes one
    from rich.console import Console


class ExitStatus(IntEnum):
    """Every command's exit codes, one vocabulary (as httpie has). Aliases share a number
    where scripts need not tell the causes apart."""

    SUCCESS = 0
    PROBLEMS = 1  # audit findings at or above --fail-on, probe check failures
    IO_ERROR = 1  # a file or folder could not be read or written
    USAGE = 2  # a bad option, a missing folder, a corrupt index
    REFUSED = 3  # refused to touch data (scan of an unmounted drive, index changed meanwhile)
    NETWORK = 3  # no answer from the server (probe, stats --once)
    INTERRUPTED = 130  # Ctrl-C, as shells report SIGINT


#: set by ``--traceback`` (or MEDIASERVE_DEBUG=1): one-line errors also show the traceback
debug = os.environ.get("MEDIASERVE_DEBUG", "").strip().lower() in ("1", "true", "yes", "on")
PIPE_WIDTH = 10_000  # "unlimited" width of output that is not a terminal


def fail(message: str, code: int) -> NoReturn:
    """One line on stderr, then exit: what a user mistake gets instead of a traceback.
    With ``--traceback`` the exception being handled, if any, is printed first."""
    if debug and sys.exc_info()[0] is not None:
        traceback.print_exc()
    click.echo(f"mediaserve: error: {message}", err=True)
    sys.exit(int(code))


def console(stderr: bool = False, verbatim: bool = False) -> Console:
    """``verbatim``: plain strings are printed as they are, without rich markup or emoji
    codes; for text from outside (``probe`` prints what servers send: "[/]" in a header
    would otherwise be a markup error)."""
    from rich.console import Console

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
