"""The ``mediaserve`` command line: parse options, call the core and adapters, render.

Exit codes shared by every command are :class:`mediaserve.cli.common.ExitStatus`. Errors are
one line on stderr, never a traceback (unless ``--traceback`` or MEDIASERVE_DEBUG=1 asks).
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Iterator, MutableMapping
from typing import Any

import click

from mediaserve import __version__
from mediaserve.adapters.library.locate import LibraryError
from mediaserve.cli import common
from mediaserve.cli.common import ExitStatus, fail
from mediaserve.core.library.index import IndexFormatError

#: command name -> module under mediaserve.cli; imported only when that command runs, so
#: ``serve`` never loads what ``audit`` and ``scan`` need (PyAV/FFmpeg: ~15 MB of RSS in a
#: process that only sends bytes)
_COMMANDS = {"scan": "scan", "serve": "serve", "audit": "audit", "probe": "probe",
             "passwd": "passwd", "stats": "stats", "prepare": "prepare",
             "profiles": "profiles"}


def _available() -> list[str]:
    """The commands whose module is present (a command may land on its own branch later)."""
    return [name for name, module in _COMMANDS.items()
            if importlib.util.find_spec(f"mediaserve.cli.{module}") is not None]


class _LazyCommands(MutableMapping[str, click.Command]):
    """``Group.commands`` whose entries import their module on first access, so code that
    walks ``cli.commands`` (help, the man-page check) sees every command."""

    def __init__(self) -> None:
        self._loaded: dict[str, click.Command] = {}

    def __getitem__(self, name: str) -> click.Command:
        if name not in self._loaded:
            if name not in _COMMANDS or name not in _available():
                raise KeyError(name)
            module = importlib.import_module(f"mediaserve.cli.{_COMMANDS[name]}")
            self._loaded[name] = getattr(module, name)
        return self._loaded[name]

    def __setitem__(self, name: str, command: click.Command) -> None:
        self._loaded[name] = command

    def __delitem__(self, name: str) -> None:
        del self._loaded[name]

    def __iter__(self) -> Iterator[str]:
        return iter(dict.fromkeys([*_available(), *self._loaded]))

    def __len__(self) -> int:
        return len(set(_available()) | set(self._loaded))


class _LazyGroup(click.Group):
    """A group whose commands are imported on first use."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.commands = _LazyCommands()


@click.group(cls=_LazyGroup,
             context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="mediaserve")
@click.option("--traceback", is_flag=True, expose_value=False, is_eager=True,
              callback=lambda _ctx, _param, value: _set_debug(value),
              help="Show the Python traceback behind an error (also MEDIASERVE_DEBUG=1).")
def cli() -> None:
    """Serve a folder of videos with instant seeking (RFC 9110 ranges over sendfile).

    \b
    Start with:  mediaserve serve            (a demo library, generated on the spot)
                 mediaserve serve ./movies   (your own folder; scanned first if needed)
    """


def _set_debug(value: bool) -> None:
    if value:
        common.debug = True


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the group and turn every expected failure into one stderr line."""
    try:
        code = cli.main(args=argv, prog_name="mediaserve", standalone_mode=False)
    except click.exceptions.NoArgsIsHelpError as exc:
        click.echo(exc.ctx.get_help() if exc.ctx else str(exc))
        sys.exit(0)
    except click.ClickException as exc:
        fail(exc.format_message(), exc.exit_code)
    except click.exceptions.Abort:
        fail("aborted", ExitStatus.INTERRUPTED)
    except (IndexFormatError, LibraryError) as exc:
        fail(str(exc), ExitStatus.USAGE)
    except KeyboardInterrupt:
        fail("interrupted", ExitStatus.INTERRUPTED)
    except OSError as exc:
        where = f": {exc.filename}" if exc.filename else ""
        fail(f"{exc.strerror or exc}{where}", ExitStatus.IO_ERROR)
    sys.exit(code if isinstance(code, int) else 0)
