"""``mediaserve profiles list|add|remove|pin|export|import``: the state store by hand.

The same SQLite file the server uses (``--state-db``, ``MEDIASERVE_STATE_DB``, else
``state.db`` in the data folder), safe to use while servers run: every change is one
transaction and waits up to 5 s for a server's write. ``list`` and ``export`` never create
a missing store.

Exit codes: 0 success; 1 a file could not be read or written; 2 a bad option, name, PIN or
import file, or no such profile (nothing changed); 3 the store is busy past the wait, or
was written by a newer mediaserve (nothing changed).
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from mediaserve.adapters.library.store import write_atomic
from mediaserve.adapters.profiles.schema import (
    BusyStoreError,
    Conflict,
    NewerStoreError,
    StoreError,
)
from mediaserve.adapters.profiles.store import StateStore, store_path
from mediaserve.adapters.profiles.transfer import export_all, import_all
from mediaserve.cli.common import ExitStatus, console, fail, print_json
from mediaserve.core.profiles.rules import RuleError
from mediaserve.core.profiles.transfer import (
    ProfileRecord,
    TransferError,
    export_document,
    parse_document,
)

_STATE_DB = click.option("--state-db", "state_db", envvar="MEDIASERVE_STATE_DB", default="",
                         metavar="FILE", help="The state store [default: state.db in the data "
                         "folder; env: MEDIASERVE_STATE_DB].")


@contextlib.contextmanager
def _opened(state_db: str, create: bool = True) -> Iterator[StateStore | None]:
    """The store (None when it does not exist and ``create`` is False); its errors as
    one-line exits."""
    path = store_path(state_db)
    if not create and not path.exists():
        yield None
        return
    try:
        store = StateStore.open(path)
    except (NewerStoreError, BusyStoreError) as exc:
        fail(str(exc), ExitStatus.REFUSED)
    except StoreError as exc:
        fail(str(exc), ExitStatus.IO_ERROR)
    try:
        yield store
    except (RuleError, Conflict, TransferError) as exc:
        fail(str(exc), ExitStatus.USAGE)
    except sqlite3.OperationalError as exc:
        fail(f"the state store {path}: {exc} (a server held it for more than 5 s; try again)",
             ExitStatus.REFUSED)
    finally:
        store.close()


def _find(store: StateStore, ref: str) -> ProfileRecord:
    found = store.find(ref)
    if found is None:
        fail(f"no profile has the id or name {ref!r} (see: mediaserve profiles list)",
             ExitStatus.USAGE)
    return found


def _read_pin(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return str(click.prompt("PIN (4 to 8 digits)", hide_input=True, confirmation_prompt=True,
                            err=True))


def _when(moment: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(moment)) if moment else "never"


@click.group()
def profiles() -> None:
    """Profiles and their state (resume positions, watched marks, preferences).

    \b
    mediaserve profiles list                      every profile, with what it has watched
    mediaserve profiles add Alice --pin           a profile for the "Who is watching?" screen
    mediaserve profiles export backup.json        everything, as JSON (safe while serving)
    mediaserve profiles import backup.json        back again, in one transaction
    """


@profiles.command("list")
@_STATE_DB
@click.option("--json", "as_json", is_flag=True, help="Print the profiles as JSON.")
def list_(state_db: str, as_json: bool) -> None:
    """List the profiles: local ones and the users of `serve --auth-users` seen so far."""
    with _opened(state_db, create=False) as store:
        found = store.profiles() if store else []
        counts = store.summary() if store else {}
    rows: list[dict[str, Any]] = []
    for record in found:
        going, done, last = counts.get(record.id, (0, 0, None))
        rows.append({"id": record.id, "kind": record.kind, "name": record.name,
                     "colour": record.colour, "has_pin": record.pin_hash is not None,
                     "created": record.created, "in_progress": going, "watched": done,
                     "last_played": last})
    if as_json:
        print_json(rows)
        return
    out = console()
    if not rows:
        out.print(f"No profiles in {store_path(state_db)}.", markup=False)
        return
    from rich.table import Table

    table = Table(title=f"Profiles in {store_path(state_db)}")
    for column in ("ID", "Name", "Kind", "PIN", "In progress", "Watched", "Last played"):
        table.add_column(column, justify="right" if column in ("In progress", "Watched")
                         else "left")
    for row in rows:
        table.add_row(row["id"], f"[{row['colour']}]●[/] {_escape(row['name'])}",
                      row["kind"], "yes" if row["has_pin"] else "no",
                      str(row["in_progress"]), str(row["watched"]), _when(row["last_played"]))
    out.print(table)


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


@profiles.command()
@click.argument("name")
@_STATE_DB
@click.option("--colour", metavar="#RRGGBB", help="The profile's colour (default: the first "
              "one no profile has).")
@click.option("--pin", "ask_pin", is_flag=True, help="Ask for a PIN (4 to 8 digits).")
@click.option("--pin-stdin", is_flag=True, help="Read the PIN from the first line of stdin.")
def add(name: str, state_db: str, colour: str | None, ask_pin: bool, pin_stdin: bool) -> None:
    """Add a local profile NAME (for servers without --auth-users)."""
    pin = _read_pin(pin_stdin) if ask_pin or pin_stdin else None
    with _opened(state_db) as store:
        assert store is not None
        record = store.create(name, colour, pin)
    click.echo(f"mediaserve: added profile {record.name} ({record.id})", err=True)


@profiles.command()
@click.argument("profile")
@_STATE_DB
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def remove(profile: str, state_db: str, yes: bool) -> None:
    """Remove PROFILE (an id or a name) and everything kept for it."""
    with _opened(state_db) as store:
        assert store is not None
        record = _find(store, profile)
        if not yes:
            if not sys.stdin.isatty():
                fail("removing a profile asks for confirmation: add --yes", ExitStatus.USAGE)
            click.confirm(f"Remove the profile {record.name} ({record.id}) and its resume "
                          "positions, watched marks and preferences?", abort=True, err=True)
        store.delete(record.id)
    click.echo(f"mediaserve: removed profile {record.name} ({record.id})", err=True)


@profiles.command()
@click.argument("profile")
@_STATE_DB
@click.option("--remove", "remove_pin", is_flag=True, help="Remove the PIN.")
@click.option("--pin-stdin", is_flag=True, help="Read the new PIN from the first line of stdin.")
def pin(profile: str, state_db: str, remove_pin: bool, pin_stdin: bool) -> None:
    """Set (or --remove) the PIN of PROFILE: for a forgotten PIN. Browsers that chose the
    profile before must choose it again."""
    new = None if remove_pin else _read_pin(pin_stdin)
    with _opened(state_db) as store:
        assert store is not None
        record = store.update(_find(store, profile).id, pin=new)
    done = "removed the PIN of" if new is None else "set the PIN of"
    click.echo(f"mediaserve: {done} {record.name} ({record.id})", err=True)


@profiles.command("export")
@click.argument("file", default="-", type=click.Path(dir_okay=False, allow_dash=True))
@_STATE_DB
def export_(file: str, state_db: str) -> None:
    """Write every profile and its state to FILE as JSON (`-`, the default: stdout).

    A consistent snapshot even while servers write; the file holds PIN hashes and watching
    history, so it is written with mode 0600."""
    with _opened(state_db, create=False) as store:
        document = export_all(store) if store else export_all_empty()
    text = json.dumps(document, indent=1, ensure_ascii=False) + "\n"
    if file == "-":
        click.echo(text, nl=False)
        return
    write_atomic(Path(file), text.encode("utf-8"))
    os.chmod(file, 0o600)
    click.echo(f"mediaserve: exported {len(document['profiles'])} profiles to {file}",
               err=True)


def export_all_empty() -> dict[str, Any]:
    return export_document([], time.time())


@profiles.command("import")
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
@_STATE_DB
@click.option("--replace", is_flag=True, help="Remove every profile first: the store then "
              "holds exactly the file's.")
def import_(file: str, state_db: str, replace: bool) -> None:
    """Read profiles and their state from FILE (an export; `-`: stdin), all or nothing.

    A profile of the file replaces the profile with the same id; the others stay (unless
    --replace). The whole file is checked before anything is written."""
    raw = sys.stdin.buffer.read() if file == "-" else Path(file).read_bytes()
    try:
        records = parse_document(json.loads(raw.decode("utf-8")))
    except (UnicodeDecodeError, ValueError) as exc:
        where = "stdin" if file == "-" else file
        fail(f"{where}: {exc}" if isinstance(exc, TransferError)
             else f"{where}: not a JSON export ({exc})", ExitStatus.USAGE)
    with _opened(state_db) as store:
        assert store is not None
        count, rows = import_all(store, records, replace=replace)
    click.echo(f"mediaserve: imported {count} profiles and {rows} progress rows into "
               f"{store_path(state_db)}", err=True)
