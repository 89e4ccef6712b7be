"""The man pages stay in step with the CLI: every command has a page, every option is on it.

A flag added to a command without a line in its man page fails here, naming both. This is the
check CONTRIBUTING.md points to after changing a command's options.
"""

from __future__ import annotations

import os
import shutil
import subprocess
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


REPO = MAN.parent


@pytest.mark.skipif(shutil.which("man") is None,
                    reason="man is not installed (scripts/dev test installs man-db)")
def test_man_finds_the_pages_of_a_scripts_dev_install(tmp_path: Path) -> None:
    """README's quick start installs with `scripts/dev` (pip install -e, which places no
    data_files): `man mediaserve` must then work with .venv/bin on PATH, `man -M` and
    `scripts/dev man COMMAND` without."""
    venv = tmp_path / "venv"
    env = {key: value for key, value in os.environ.items() if key != "MANPATH"}
    env.update(MEDIASERVE_VENV=str(venv), MANPAGER="cat", PAGER="cat", MANWIDTH="80")
    shown = subprocess.run([str(REPO / "scripts" / "dev"), "man", "serve"], env=env,
                           capture_output=True, text=True, timeout=120, check=False)
    assert shown.returncode == 0, shown.stderr
    assert "mediaserve-serve" in shown.stdout and "--port" in shown.stdout
    (venv / "bin").mkdir()
    on_path = {**env, "PATH": f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"}
    for page in sorted(MAN.glob("*.1")):
        name = page.stem
        for how, args, environ in (("PATH", [], on_path), ("-M", ["-M", str(venv / "share/man")],
                                                            env)):
            found = subprocess.run(["man", *args, "-w", name], env=environ,
                                   capture_output=True, text=True, timeout=60, check=False)
            assert found.returncode == 0, (how, name, found.stderr)
            assert Path(found.stdout.strip()).resolve() == page.resolve(), (how, name)
    # a page that went away takes its link with it at the next run
    (venv / "share/man/man1/mediaserve-gone.1").symlink_to(MAN / "mediaserve-gone.1")
    subprocess.run([str(REPO / "scripts" / "dev"), "man"], env=env, capture_output=True,
                   timeout=120, check=True)
    assert not (venv / "share/man/man1/mediaserve-gone.1").is_symlink()
