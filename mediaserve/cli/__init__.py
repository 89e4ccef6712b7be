"""The ``mediaserve`` command line: parse options, call the core and adapters, render.

Exit codes shared by every command are :class:`mediaserve.cli.common.ExitStatus`. Errors are
one line on stderr, never a traceback (unless ``--traceback`` or MEDIASERVE_DEBUG=1 asks).
"""

from __future__ import annotations

import sys

import click

from mediaserve import __version__
from mediaserve.adapters.library.locate import LibraryError
from mediaserve.cli import common
from mediaserve.cli.common import ExitStatus, fail
from mediaserve.core.library.index import IndexFormatError


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
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


def _register() -> None:
    from mediaserve.cli import audit, passwd, probe, scan, serve

    cli.add_command(scan.scan)
    cli.add_command(serve.serve)
    cli.add_command(audit.audit)
    cli.add_command(probe.probe)
    cli.add_command(passwd.passwd)


_register()


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
