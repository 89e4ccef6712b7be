"""A name built to attack a terminal, and how every command must print it.

ESC sequences (a colour, CSI through the 8-bit C1 ``\\x9b``, a bell), CR LF (a forged line),
rich markup (``[bold red]``), an emoji code (``:smile:``) and a bidi override (U+202E) in
one string: printed, it must show as the escapes below, literally, and nothing of it may
reach the terminal raw. ``/`` is the one character a file name cannot hold.
"""

from __future__ import annotations

EVIL = "evil\x1b[31m[bold red]x[blink]\r\n:smile:\u202egpj\x9b2J\x07"
#: what the commands print for it (written out, not computed by the code under test)
SHOWN = "evil\\x1b[31m[bold red]x[blink]\\r\\n:smile:\\u202egpj\\x9b2J\\x07"
_RAW = ("\x1b", "\r", "\u202e", "\x9b", "\x07", "😄")


def assert_terminal_safe(output: str, *expected: str) -> None:
    """No raw control, bidi or emoji from the name in ``output``; each of ``expected`` (by
    default :data:`SHOWN`) printed literally."""
    for char in _RAW:
        assert char not in output, f"{char!r} reached the terminal:\n{output!r}"
    for text in expected or (SHOWN,):
        assert text in output, f"{text!r} not shown:\n{output}"


def run_main(*args: str, env: dict[str, str] | None = None,
             input: str | None = None) -> tuple[int, str, str]:
    """``mediaserve ARGS`` through the real entry point (``main``: its one-line errors and
    exit codes) inside click's runner isolation: (exit code, stdout, stderr)."""
    from click.testing import CliRunner

    from mediaserve.cli import main

    with CliRunner().isolation(input=input, env=env) as (out, err, _both):
        try:
            main(list(args))
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 0
        return code, out.getvalue().decode(), err.getvalue().decode()
