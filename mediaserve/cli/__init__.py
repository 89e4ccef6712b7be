"""The ``mediaserve`` command line: parse options, call the core and adapters, render.

Exit codes shared by every command: 0 success; 1 a check or audit found problems, or an
I/O error; 2 a usage error (bad option, missing folder, corrupt index); 3 refused to protect
data (scan) or a network error (probe). Errors are one line on stderr, never a traceback.
"""

from __future__ import annotations

import sys

import click

from mediaserve import __version__
from mediaserve.adapters.library.locate import LibraryError
from mediaserve.cli.common import EXIT_IO, EXIT_USAGE, fail
from mediaserve.core.library.index import IndexFormatError


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="mediaserve")
def cli() -> None:
    """Serve a folder of videos with instant seeking (RFC 9110 ranges over sendfile).

    \b
    Start with:  mediaserve serve            (a demo library, generated on the spot)
                 mediaserve serve ./movies   (your own folder; scanned first if needed)
    """


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
        fail("aborted", 130)
    except (IndexFormatError, LibraryError) as exc:
        fail(str(exc), EXIT_USAGE)
    except KeyboardInterrupt:
        fail("interrupted", 130)
    except OSError as exc:
        where = f": {exc.filename}" if exc.filename else ""
        fail(f"{exc.strerror or exc}{where}", EXIT_IO)
    sys.exit(code if isinstance(code, int) else 0)
