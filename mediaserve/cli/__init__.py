"""The ``mediaserve`` command line: parse options, call the core and adapters, render.

Exit codes shared by every command: 0 success; 1 a check or audit found problems, or an
I/O error; 2 a usage error (bad option, missing folder, corrupt index); 3 refused to protect
data (scan) or a network error (probe). Errors are one line on stderr, never a traceback.
"""

from __future__ import annotations

import importlib
import sys

import click

from mediaserve import __version__
from mediaserve.adapters.library.locate import LibraryError
from mediaserve.cli.common import EXIT_IO, EXIT_USAGE, fail
from mediaserve.core.library.index import IndexFormatError

#: command name -> module under mediaserve.cli; imported only when that command runs, so
#: ``serve`` never loads what ``audit`` and ``scan`` need (PyAV/FFmpeg: ~15 MB of RSS in a
#: process that only sends bytes)
_COMMANDS = {"scan": "scan", "serve": "serve", "audit": "audit", "probe": "probe"}


class _LazyGroup(click.Group):
    """A group whose commands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(_COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        module = _COMMANDS.get(cmd_name)
        if module is None:
            return None
        imported = importlib.import_module(f"mediaserve.cli.{module}")
        command: click.Command = getattr(imported, cmd_name)
        return command


@click.group(cls=_LazyGroup,
             context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="mediaserve")
def cli() -> None:
    """Serve a folder of videos with instant seeking (RFC 9110 ranges over sendfile).

    \b
    Start with:  mediaserve serve            (a demo library, generated on the spot)
                 mediaserve serve ./movies   (your own folder; scanned first if needed)
    """


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
        fail("aborted", 130)
    except (IndexFormatError, LibraryError) as exc:
        fail(str(exc), EXIT_USAGE)
    except KeyboardInterrupt:
        fail("interrupted", 130)
    except OSError as exc:
        where = f": {exc.filename}" if exc.filename else ""
        fail(f"{exc.strerror or exc}{where}", EXIT_IO)
    sys.exit(code if isinstance(code, int) else 0)
