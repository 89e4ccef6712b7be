"""``mediaserve stats [URL]``: what a running server is streaming, live.

Polls the server's ``/api/stats`` every ``--interval`` seconds and redraws a dashboard in
place (rich ``Live``); requests/s and bytes/s are computed between two snapshots by the
server's own uptime clock. ``--once`` prints one snapshot, ``--json`` prints it raw. When the
output is not a terminal, live mode prints one line per refresh instead (for logs and
pipes). A server that is down is reported in one line; live mode keeps retrying.

Exit codes: 0 success (or Ctrl-C in live mode); 1 the server answered without statistics
(turned off, or not mediaserve); 2 usage error; 3 no answer from the server (``--once``,
``--json``, or the last refresh of ``--count``).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import click
from rich.console import Console
from rich.live import Live
from rich.panel import Panel

from mediaserve.adapters.stats.client import (
    DEFAULT_URL,
    StatsClient,
    StatsUnavailable,
    fetch_once,
    normalise_url,
)
from mediaserve.cli.common import ExitStatus, console, fail, plain, print_json, shown
from mediaserve.cli.stats_view import dashboard, one_line
from mediaserve.core.stats import rates


def _exit_for(exc: StatsUnavailable) -> ExitStatus:
    return ExitStatus.NETWORK if exc.network else ExitStatus.PROBLEMS


@click.command()
@click.argument("url", required=False, default=DEFAULT_URL, metavar="[URL]")
@click.option("--interval", type=click.FloatRange(min=0.1), default=1.0, show_default=True,
              metavar="SECONDS", help="Seconds between refreshes.")
@click.option("--once", is_flag=True,
              help="Print one snapshot and exit (exit 3 when the server cannot be reached).")
@click.option("--json", "as_json", is_flag=True,
              help="Print the raw /api/stats snapshot as JSON and exit (implies --once).")
@click.option("--top", type=click.IntRange(0, 1000), default=10, show_default=True,
              metavar="N", help="Videos listed individually (the rest are summed as 'other').")
@click.option("--count", type=click.IntRange(min=1), default=None, metavar="N",
              help="Stop live mode after N refreshes (default: run until Ctrl-C).")
@click.option("--timeout", type=click.FloatRange(min=0.1), default=5.0, show_default=True,
              metavar="SECONDS", help="How long to wait for each answer.")
@click.option("--token", envvar="MEDIASERVE_AUTH_TOKEN", show_envvar=True, metavar="TOKEN",
              help="The server's --auth-token, sent as a Bearer token (prefer the variable: "
                   "a flag shows in `ps`).")
def stats(url: str, interval: float, once: bool, as_json: bool, top: int, count: int | None,
          timeout: float, token: str | None) -> None:
    """Show what a running `mediaserve serve` is streaming: a live dashboard.

    URL is the server's address (default http://127.0.0.1:8080/; `host:port` is enough).
    The dashboard shows uptime, active streams, requests/s, bytes/s, status counts and
    latency percentiles, the busiest videos, and where in each file viewers seek.
    Ctrl-C leaves live mode.
    """
    try:
        base = normalise_url(url)
    except ValueError as exc:
        fail(str(exc), ExitStatus.USAGE)
    out = console()
    if once or as_json:
        try:
            snap = asyncio.run(fetch_once(base, top, timeout, token))
        except StatsUnavailable as exc:
            fail(str(exc), _exit_for(exc))
        if as_json:
            print_json(snap)
        else:
            out.print(dashboard(snap, None, base, out.width))
        return
    try:
        code = asyncio.run(live(base, top, interval, timeout, out, count, token))
    except KeyboardInterrupt:
        code = ExitStatus.SUCCESS
    raise SystemExit(int(code))


async def live(base: str, top: int, interval: float, timeout: float, out: Console,
               count: int | None = None, token: str | None = None) -> ExitStatus:
    """Refresh until Ctrl-C (or ``count`` refreshes); the exit status of the last one."""
    screen = Live(console=out, auto_refresh=False, transient=False) if out.is_terminal \
        else None
    previous: dict[str, Any] | None = None
    failing = False
    code = ExitStatus.SUCCESS
    updates = 0
    async with StatsClient(base, timeout=timeout, token=token) as client:
        if screen is not None:
            screen.start()
        try:
            while True:
                try:
                    snap: dict[str, Any] | None = await client.fetch(top)
                    notice = None
                    code = ExitStatus.SUCCESS
                except StatsUnavailable as exc:
                    snap = None
                    notice = f"{exc}; retrying every {interval:g} s"
                    code = _exit_for(exc)
                now = time.time()
                between = rates(previous, snap) if previous and snap else None
                if screen is not None:
                    _draw(screen, out, snap or previous, between, base, notice, now)
                else:
                    failing = _print_line(out, snap, between, notice, failing, now)
                previous = snap or previous
                updates += 1
                if count is not None and updates >= count:
                    return code
                await asyncio.sleep(interval)
        finally:
            if screen is not None:
                screen.stop()


def _draw(screen: Live, out: Console, snap: dict[str, Any] | None,
          between: dict[str, float] | None, base: str, notice: str | None,
          now: float) -> None:
    if snap is None:
        waiting = plain(notice or "waiting for the server", style="bold red")
        screen.update(Panel(waiting, title=plain(f"mediaserve stats  {base}"),
                            title_align="left"), refresh=True)
        return
    screen.update(dashboard(snap, between, base, out.width, now, notice), refresh=True)


def _print_line(out: Console, snap: dict[str, Any] | None, between: dict[str, float] | None,
                notice: str | None, failing: bool, now: float) -> bool:
    """One line per refresh; a failure is reported once, not every interval. Returns
    whether the server is failing now."""
    if snap is None:
        if not failing:
            click.echo(f"mediaserve: warning: {shown(notice)}", err=True)
        return True
    if failing:
        click.echo("mediaserve: the server answers again", err=True)
    out.print(one_line(snap, between, now), markup=False, soft_wrap=True)
    return False
