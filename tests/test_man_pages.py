"""The man pages stay in step with the CLI: every command has a page, every option is on it.

A flag added to a command without a line in its man page fails here, naming both. This is the
check CONTRIBUTING.md points to after changing a command's options.
"""

from __future__ import annotations

from pathlib import Path

import click
import pytest

from mediaserve.cli import cli

MAN = Path(__file__).resolve().parents[1] / "man"


def _roff(option: str) -> str:
    return option.replace("-", "\\-")


def test_the_main_page_names_every_command() -> None:
    text = (MAN / "mediaserve.1").read_text(encoding="utf-8")
    for name in cli.commands:
        assert f"mediaserve\\-{name}" in text or f"mediaserve-{name}" in text, name


@pytest.mark.parametrize("name", sorted(cli.commands))
def test_each_command_page_lists_every_option(name: str) -> None:
    page = MAN / f"mediaserve-{name}.1"
    assert page.is_file(), f"man/{page.name} is missing"
    text = page.read_text(encoding="utf-8")
    command = cli.commands[name]
    commands = [command]
    if isinstance(command, click.Group):  # `profiles list|add|...`: each one's options too
        for sub_name, sub in command.commands.items():
            assert f".B {sub_name}" in text or f"profiles {sub_name}" in text, \
                f"man/{page.name} lacks the subcommand {sub_name}"
            commands.append(sub)
    for each in commands:
        for param in each.params:
            if not isinstance(param, click.Option) or param.hidden:
                continue
            names = [n for n in (*param.opts, *param.secondary_opts) if n.startswith("--")]
            if not names or names == ["--help"]:
                continue
            assert any(_roff(n) in text for n in names), f"man/{page.name} lacks {names[0]}"
