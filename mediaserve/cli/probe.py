"""``mediaserve probe``: range client, seek-latency meter and RFC 9110 conformance checker.

Three modes over one set of connection options: a plain probe (HEAD + a 1-byte range, or
the ``--range`` requests given), ``--check`` (the conformance battery) and ``--seeks N``
(latency of random ranges). This module parses options and renders; the requests are made
by ``adapters/probe/runner.py`` and judged by ``core/probe/`` (the battery's table in
``battery.py``, seek classification in ``seeks.py``).

Exit codes (like httpie's): 0 all good (WARNs allowed); 1 a check FAILed, the server does
not support ranges, or a seek failed; 2 usage error; 3 network error or timeout.
"""

from __future__ import annotations

import asyncio
import random
import re
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlsplit

import click
from rich.table import Table
from rich.text import Text

from mediaserve.adapters.probe.client import NetworkError
from mediaserve.adapters.probe.runner import (
    CheckOutcome,
    FileReference,
    PlainProbeOutcome,
    SeekOutcome,
    Target,
    player_page,
    run_check,
    run_probe,
    run_seeks,
)
from mediaserve.cli.common import ExitStatus, console, fail, human_size, plain, print_json, shown
from mediaserve.core.probe.content_range import ByteRangeSpec, parse_range_set
from mediaserve.core.probe.exchange import End, Exchange
from mediaserve.core.probe.seeks import (
    MAX_CONCURRENCY,
    MAX_SEEK_SIZE,
    MAX_SEEKS,
    TARGET_MAX_S,
    TARGET_MEAN_S,
    SeekReport,
)
from mediaserve.core.probe.verdicts import Level

SHOWN_HEADERS = (
    "Accept-Ranges", "Content-Range", "Content-Length", "Content-Type", "ETag",
    "Last-Modified", "Cache-Control", "Access-Control-Allow-Origin",
    "Access-Control-Expose-Headers", "Server",
)
STYLE = {Level.PASS: "bold green", Level.INFO: "cyan", Level.WARN: "bold yellow",
         Level.FAIL: "bold red", Level.SKIP: "dim"}
_SIZE = re.compile(r"(\d+)\s*(|b|[kmgt]|[kmgt]b|[kmgt]ib)", re.IGNORECASE)
_UNITS = {"": 1, "b": 1} | {
    unit: factor for power, letter in enumerate("kmgt", 1)
    for unit, factor in ((letter, 1024**power), (letter + "ib", 1024**power),
                         (letter + "b", 1000**power))}
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")  # not allowed in a field value (§5.5)


class ByteSize(click.ParamType):
    """``65536``, ``64k``/``64KiB`` (1024), ``64kB`` (1000), ``1M``, ``1GiB``."""

    name = "BYTES"

    def __init__(self, low: int, high: int) -> None:
        self.low, self.high = low, high

    def convert(self, value: object, param: click.Parameter | None,
                ctx: click.Context | None) -> int:
        if isinstance(value, int):
            number = value
        else:
            match = _SIZE.fullmatch(str(value).strip())
            if not match:
                self.fail(f"{value!r} is not a size (e.g. 65536, 64KiB, 1MiB)", param, ctx)
            number = int(match.group(1)) * _UNITS[match.group(2).lower()]
        if not self.low <= number <= self.high:
            self.fail(f"{value} is outside {self.low}..{self.high} bytes", param, ctx)
        return number


def _parse_header(text: str) -> tuple[str, str]:
    name, sep, value = text.partition(":")
    if not sep or not _TOKEN.fullmatch(name.strip()):
        raise click.BadParameter(f"{text!r} is not 'Name: value'", param_hint="--header")
    if _CONTROL.search(value):
        raise click.BadParameter(f"{text!r}: a field value cannot hold a control character "
                                 "(CR, LF, NUL...)", param_hint="--header")
    return name.strip(), value.strip()


def _check_url(url: str) -> None:
    try:
        parts = urlsplit(url)
        valid = parts.scheme in ("http", "https") and bool(parts.hostname)
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError:  # "[::1" (unclosed IPv6 bracket), port 99999
        valid = False
    if not valid:
        raise click.BadParameter(f"{url!r} is not an http:// or https:// URL",
                                 param_hint="URL")


@click.command()
@click.argument("url")
@click.option("--range", "ranges", multiple=True, metavar="SPEC",
              help="Request these bytes: 0-1023, 500-, -500, or 0-99,200-299 (one request "
                   "per --range). Without it: HEAD, then a 1-byte range.")
@click.option("--head", is_flag=True, help="Send HEAD instead of GET (only HEAD without "
                                           "--range).")
@click.option("--header", "headers", multiple=True, metavar="'Name: value'",
              help="Send this header with every request (repeatable). Range, If-Range and "
                   "If-None-Match set by the probe itself take precedence.")
@click.option("--timeout", type=click.FloatRange(0.05, 3600), default=10.0, show_default=True,
              help="Seconds to connect and get the header section, to wait for data at any "
                   "point, and for each 64 KiB of content (a trickling server is cut off).")
@click.option("--max-body", type=ByteSize(0, 1 << 40), default="64MiB", show_default=True,
              help="Stop reading a response after this many bytes.")
@click.option("--follow", is_flag=True, help="Follow redirects (up to 10).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option("--verify", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              metavar="FILE", help="Compare the bytes received with this local file.")
@click.option("--check", is_flag=True, help="Run the RFC 9110 conformance battery.")
@click.option("--seeks", type=click.IntRange(1, MAX_SEEKS), metavar="N",
              help=f"Time N range requests at random positions (max {MAX_SEEKS}).")
@click.option("--concurrency", type=click.IntRange(1, MAX_CONCURRENCY), default=4,
              show_default=True, help="Seek requests in flight at once (--seeks).")
@click.option("--size", "seek_size", type=ByteSize(1, MAX_SEEK_SIZE), default="64KiB",
              show_default=True, help="Bytes per seek request (--seeks): a player's first read.")
@click.option("--seed", type=int, help="Random seed for seek positions (--seeks; default: "
                                       "random, and printed).")
@click.pass_context
def probe(ctx: click.Context, url: str, ranges: tuple[str, ...], head: bool,
          headers: tuple[str, ...], timeout: float, max_body: int, follow: bool,
          as_json: bool, verify: Path | None, check: bool, seeks: int | None,
          concurrency: int, seek_size: int, seed: int | None) -> None:
    """Check that URL really supports seeking (HTTP range requests), and how fast.

    \b
    mediaserve probe URL                      HEAD + a 1-byte range: ranges supported?
    mediaserve probe URL --range 0-1023       one range request, checked against RFC 9110
    mediaserve probe URL --check              the conformance battery, one row per case
    mediaserve probe URL --seeks 1000 --concurrency 16   seek latency percentiles

    Exit status: 0 all good, 1 a check failed or no range support, 2 usage error,
    3 network error or timeout.
    """
    _check_url(url)
    seek_only = [name for name in ("concurrency", "seek_size", "seed")
                 if ctx.get_parameter_source(name) is click.core.ParameterSource.COMMANDLINE]
    if check and seeks:
        raise click.UsageError("--check and --seeks are separate runs; pick one")
    if (check or seeks) and (ranges or head):
        raise click.UsageError("--range and --head belong to a plain probe, not --check/--seeks")
    if seek_only and not seeks:
        names = ", ".join("--" + n.replace("seek_size", "size") for n in seek_only)
        raise click.UsageError(f"{names} only apply with --seeks N")
    try:
        range_sets = [parse_range_set(spec) for spec in ranges]
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--range") from exc
    extra = tuple(_parse_header(h) for h in headers)

    reference = FileReference(verify) if verify else None
    target = Target(url, extra, timeout, max_body, follow, reference,
                    reference.size if reference else None)
    try:
        _refuse_player_page(target, as_json)
        if check:
            code = _do_check(target, as_json)
        elif seeks:
            seed = seed if seed is not None else random.SystemRandom().randrange(1 << 32)
            code = _do_seeks(target, seeks, concurrency, seek_size, seed, as_json)
        else:
            code = _do_probe(target, range_sets, head, as_json, verify)
    except NetworkError as exc:
        if as_json:
            print_json({"url": url, "error": {"kind": exc.kind, "message": str(exc)},
                        "exit_code": ExitStatus.NETWORK})
        fail(f"{exc.kind}: {exc}", ExitStatus.NETWORK)
    finally:
        if reference:
            reference.close()
    ctx.exit(code)


def _refuse_player_page(target: Target, as_json: bool) -> None:
    """A mediaserve player page (``/watch/ID``) is not a video: say which URL is (exit 2)
    instead of judging an HTML page's ranges."""
    stream = asyncio.run(player_page(target))
    if stream is None:
        return
    message = (f"{target.url} is mediaserve's player page (HTML), not the video; probe the "
               f"video's stream: mediaserve probe {stream}")
    if as_json:
        print_json({"url": target.url, "error": {"kind": "player-page", "message": message,
                                                 "stream_url": stream},
                    "exit_code": ExitStatus.USAGE})
    fail(message, ExitStatus.USAGE)


# --- plain probe ------------------------------------------------------------------------


def _step_name(ex: Exchange, specs: tuple[ByteRangeSpec, ...] | None) -> str:
    if specs is None:
        return ex.method
    return f"{ex.method} bytes=" + ",".join(str(s) for s in specs)


def _do_probe(target: Target, range_sets: Sequence[tuple[ByteRangeSpec, ...]], head: bool,
              as_json: bool, verify: Path | None) -> int:
    outcome = asyncio.run(run_probe(target, range_sets, head))
    level = outcome.verdict
    code = ExitStatus.PROBLEMS if outcome.failed else ExitStatus.SUCCESS
    if as_json:
        print_json({
            "mode": "probe", "url": target.url, "size": outcome.size,
            "ranges_supported": outcome.ranges_supported, "verdict": level.value,
            "findings": [f.as_dict() for f in outcome.findings],
            "exchanges": [{**s.exchange.as_dict(),
                           "range": None if s.specs is None else ",".join(map(str, s.specs)),
                           "verdict": s.verdict.value,
                           "findings": [f.as_dict() for f in s.findings]}
                          for s in outcome.steps],
            "exit_code": code})
        return code
    _render_probe(outcome, target, verify)
    return code


def _render_probe(outcome: PlainProbeOutcome, target: Target, verify: Path | None) -> None:
    out = console(verbatim=True)  # servers' text: never markup
    table = Table(title=plain(f"probe {target.url}"), title_justify="left")
    table.add_column("", style="bold", no_wrap=True)
    for step in outcome.steps:
        table.add_column(_step_name(step.exchange, step.specs), overflow="fold")
    exchanges = [s.exchange for s in outcome.steps]

    def row(name: str, values: list[str]) -> None:  # values quote the server: shown
        table.add_row(name, *(plain(value) for value in values))

    row("Status", [f"{ex.status} {ex.reason}" for ex in exchanges])
    row("Connection", [f"{ex.http_version}, "
                       + ("new" if ex.new_connection else "reused") for ex in exchanges])
    for name in SHOWN_HEADERS:
        row(name, [ex.header(name) or "—" for ex in exchanges])
    row("Bytes received", [_bytes_cell(ex) for ex in exchanges])
    row("Time to first byte", [f"{ex.ttfb * 1000:.2f} ms" for ex in exchanges])
    row("Total time", [f"{ex.total * 1000:.2f} ms" for ex in exchanges])
    row("Throughput", [_rate(ex.throughput) for ex in exchanges])
    out.print(table)

    checks = Table(title="checks", title_justify="left")
    for name in ("Result", "§", "Request", "Finding"):
        checks.add_column(name, overflow="fold")
    verified = 0
    for finding in outcome.findings:
        checks.add_row(_level(finding.level), finding.section, "", plain(finding.message))
    for step in outcome.steps:
        name = _step_name(step.exchange, step.specs)
        listed = [f for f in step.findings if not f.quiet]
        verified += sum(1 for f in step.findings if f.quiet)
        if not listed:
            checks.add_row(_level(Level.PASS), "", name, "as the RFC expects")
        for finding in listed:
            checks.add_row(_level(finding.level), finding.section, name,
                           plain(finding.message))
    out.print(checks)
    support = {True: "[green]yes[/] (206 with a matching Content-Range)",
               False: "[red]no[/] (the server ignores Range: clients cannot seek)",
               None: "unknown"}[outcome.ranges_supported]
    size = "unknown" if outcome.size is None else f"{outcome.size} bytes"
    out.print(Text.from_markup(f"Range support: {support}   Size: {size}"))
    if verify:
        out.print(f"Verified against {shown(verify)}: {verified} part(s) matched")


def _bytes_cell(ex: Exchange) -> str:
    if ex.end == End.NONE:
        return "— (no content)"
    note = {End.CAPPED: " (stopped: --max-body)", End.TRUNCATED: " (cut off)"}.get(ex.end, "")
    return f"{ex.received}{note}"


def _rate(value: float | None) -> str:
    return "—" if not value else f"{human_size(value)}/s"


def _level(level: Level) -> Text:
    return Text(level.value, style=STYLE[level])


# --- check ------------------------------------------------------------------------------


def _do_check(target: Target, as_json: bool) -> int:
    outcome = asyncio.run(run_check(target))
    code = ExitStatus.PROBLEMS if outcome.failed else ExitStatus.SUCCESS
    counts = outcome.counts()
    if as_json:
        print_json({"mode": "check", "url": target.url, "size": outcome.size,
                    "stopped": outcome.stopped or None, "counts": counts,
                    "findings": [f.as_dict() for f in outcome.findings],
                    "cases": [r.as_dict() for r in outcome.results], "exit_code": code})
        return code
    _render_check(outcome, counts)
    return code


def _render_check(outcome: CheckOutcome, counts: dict[str, int]) -> None:
    out = console(verbatim=True)  # servers' text: never markup
    table = Table(title=plain(f"RFC 9110 conformance: {outcome.url}"), title_justify="left")
    table.add_column("#", justify="right")
    table.add_column("Case")
    table.add_column("Request", overflow="fold", max_width=34)
    table.add_column("Result")
    table.add_column("§", no_wrap=True)
    table.add_column("What the server did", overflow="fold")
    for number, result in enumerate(outcome.results, 1):
        table.add_row(str(number), result.title, plain(result.request), _level(result.level),
                      result.section, plain(result.did))
    out.print(table)
    for finding in outcome.findings:
        out.print(_level(finding.level), plain(finding.message))
    if outcome.stopped:
        out.print(Text.assemble(("stopped:", "red"), f" {shown(outcome.stopped)}"))
    size = "unknown" if outcome.size is None else f"{outcome.size} bytes"
    out.print(Text.from_markup(" · ".join(f"[{STYLE[Level(k)]}]{v} {k}[/]"
                                          for k, v in counts.items()) + f"   (size {size})"))


# --- seeks ------------------------------------------------------------------------------


def _do_seeks(target: Target, count: int, concurrency: int, length: int, seed: int,
              as_json: bool) -> int:
    outcome = asyncio.run(run_seeks(target, count=count, concurrency=concurrency,
                                    length=length, seed=seed))
    report = outcome.report
    code = ExitStatus.PROBLEMS if outcome.failed else ExitStatus.SUCCESS
    if as_json:
        body: dict[str, object] = {"mode": "seeks", "url": target.url}
        if report is None:
            body.update(error=outcome.reason, discovery=outcome.discovery.as_dict())
        else:
            body.update(report.as_dict())
        print_json({**body, "exit_code": code})
        return code
    _render_seeks(outcome)
    return code


def _render_seeks(outcome: SeekOutcome) -> None:
    out = console(verbatim=True)  # servers' text: never markup
    report = outcome.report
    if report is None:
        out.print(Text.assemble(("no seeks run:", "red"), f" {shown(outcome.reason)}"))
        return
    out.print(seek_tables(report))
    if report.latency is not None:
        met = report.targets_met
        mark = "[green]met[/]" if met else "[red]missed[/]"
        out.print(Text.from_markup(
            f"Design targets (every seek < {TARGET_MAX_S * 1000:.0f} ms, mean < "
            f"{TARGET_MEAN_S * 1000:.0f} ms): {mark} — max "
            f"{report.latency.max * 1000:.1f} ms, mean {report.latency.mean * 1000:.1f} ms"))


def seek_tables(report: SeekReport) -> Table:
    """The whole seek report as one rich renderable (also used by benchmarks/)."""
    grid = Table.grid(padding=(0, 0))
    run = Table(title=plain(f"seeks: {report.url}"), title_justify="left", show_header=False)
    run.add_column(style="bold")
    run.add_column()
    failed = sum(report.failures.values())
    for name, value in (
        ("Resource size", f"{report.size} bytes ({human_size(report.size)})"),
        ("Seek size", f"{report.length} bytes"),
        ("Requests", f"{report.requested} ({report.ok} ok, {failed} failed)"),
        ("Concurrency", f"{report.concurrency} (connections opened: {report.connections})"),
        ("Seed", str(report.seed)),
        ("Wall time", f"{report.wall:.3f} s ({report.rate:.0f} requests/s)"),
        ("Throughput", f"{human_size(report.throughput)}/s "
                       f"({human_size(report.bytes_received)} received)"),
    ):
        run.add_row(name, value)
    grid.add_row(run)
    if report.latency is not None and report.ttfb is not None:
        lat = Table(title="latency (ms)", title_justify="left")
        lat.add_column("")
        for name in ("min", "p50", "p90", "p99", "max", "mean"):
            lat.add_column(name, justify="right")
        for label, summary in (("total", report.latency), ("first byte", report.ttfb)):
            values = summary.as_ms()
            lat.add_row(label, *(f"{values[k]:.2f}" for k in
                                 ("min", "p50", "p90", "p99", "max", "mean")))
        grid.add_row(lat)
        hist = Table(title="histogram (total latency)", title_justify="left")
        hist.add_column("latency")
        hist.add_column("count", justify="right")
        hist.add_column("")
        peak = max(b.count for b in report.buckets)
        for bucket in report.buckets:
            bar = "█" * max(1 if bucket.count else 0, round(30 * bucket.count / peak))
            hist.add_row(bucket.label, str(bucket.count), Text(bar, style="cyan"))
        grid.add_row(hist)
    if report.failures:
        fails = Table(title="failures", title_justify="left")
        for name in ("kind", "count", "example"):
            fails.add_column(name, overflow="fold")
        for kind, number in report.failures.items():
            fails.add_row(plain(kind), str(number), plain(report.examples.get(kind, "")))
        grid.add_row(fails)
    return grid
