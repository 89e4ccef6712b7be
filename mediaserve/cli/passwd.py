"""``mediaserve passwd FILE USER``: add or change a user of the HTTP Basic users file.

The file holds one ``user:scrypt$N$r$p$salt$hash`` line per user, never a password; it is
written atomically with mode 0600 (the hashes are slow to crack, not impossible).
"""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path

import click

from mediaserve.adapters.library.store import write_atomic
from mediaserve.cli.common import ExitStatus, fail, shown
from mediaserve.core.http.auth import hash_password, parse_users, set_user


@click.command()
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.argument("user")
@click.option("--password-stdin", is_flag=True,
              help="Read the password from the first line of stdin (for scripts).")
def passwd(file: Path, user: str, password_stdin: bool) -> None:
    """Set USER's password in the users FILE given to `serve --auth-users FILE`.

    The password is asked for twice (or read from stdin with --password-stdin) and stored as
    an scrypt hash with a random salt; other users' lines are kept.
    """
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True,
                                err=True)
    if not password:
        fail("empty password", ExitStatus.USAGE)
    try:
        text = file.read_text(encoding="utf-8") if file.exists() else ""
        parse_users(text, str(file))  # refuse to rewrite a file we do not understand
        updated = set_user(text, user, hash_password(password, secrets.token_bytes(16)))
    except ValueError as exc:
        fail(str(exc), ExitStatus.USAGE)
    write_atomic(file, updated.encode("utf-8"))
    os.chmod(file, 0o600)
    click.echo(f"mediaserve: set the password of {shown(user)} in {shown(file)}", err=True)
