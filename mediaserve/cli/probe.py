"""``mediaserve probe``: placeholder, being written."""

from __future__ import annotations

import click


@click.command()
def probe() -> None:
    """(not yet implemented)"""
    raise click.ClickException("not implemented yet")
