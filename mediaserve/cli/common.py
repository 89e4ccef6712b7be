"""Small pieces every command shares: exit codes, error output, consoles."""

from __future__ import annotations

import json
import os
import sys
import traceback
from enum import IntEnum
from typing import TYPE_CHECKING, Any, NoReturn

import click

from mediaserve.core.text.controls import json_visible, visible

if TYPE_CHECKING:  # rich is imported when a console is made: `serve` never makes one
    from rich.console import Console
    from rich.text import Text


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
    With ``--traceback`` the exception being handled, if any, is printed first. Messages
    name files and quote servers, so control characters are shown as escapes."""
    if debug and sys.exc_info()[0] is not None:
        traceback.print_exc()
    click.echo(f"mediaserve: error: {visible(message)}", err=True)
    sys.exit(int(code))


def shown(value: object) -> str:
    """A file name, a path or a string from a server, safe in plain output: control and
    bidi characters shown as escapes (``\\x1b``, ``\\u202e``; see core/text/controls.py).
    Every such string a command prints goes through this or :func:`plain`."""
    return visible(str(value))


def plain(value: object, style: str = "") -> Text:
    """:func:`shown` as a rich ``Text``: a table cell or title that is never read as markup
    (``[bold red]`` in a file name is printed as it is)."""
    from rich.text import Text

    return Text(shown(value), style=style)


def console(stderr: bool = False, verbatim: bool = False) -> Console:
    """``verbatim``: plain strings are printed as they are, without rich markup; for text
    from outside (``probe`` prints what servers send: "[/]" in a header would otherwise be a
    markup error). Emoji codes are never replaced: ``:smile:`` in a file name stays text."""
    from rich.console import Console

    out = Console(stderr=stderr, highlight=False, markup=not verbatim, emoji=False)
    if not out.is_terminal and not os.environ.get("COLUMNS"):
        # rich wraps at 80 columns when it cannot ask a terminal: a pipe or a log file
        # would get paths and messages cut in two; lines are as long as they need to be
        out.width = PIPE_WIDTH
    return out


def print_json(data: Any) -> None:
    """``data`` as JSON, exactly (names as they are), but with control and bidi characters
    as ``\\u`` escapes, so that a ``--json`` read on a terminal runs nothing."""
    click.echo(json_visible(json.dumps(data, indent=2, ensure_ascii=False, default=str)))


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
