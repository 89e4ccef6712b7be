"""``mediaserve audit``: find broken or unplayable library entries, and prune them from the
index (never touching a media file, except an explicit ``--remux-faststart --in-place``).

The rules are in :mod:`mediaserve.core.audit`, the I/O in :mod:`mediaserve.adapters.audit`
(``run.run_audit`` gathers evidence and judges, ``fix.apply_fix`` applies the verdict); this
module parses options, calls the two, and renders.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from mediaserve.adapters.audit.deep import DEFAULT_DEEP_TIMEOUT
from mediaserve.adapters.audit.deep_pool import DeepCheckUnavailable
from mediaserve.adapters.audit.fix import FixResult, IndexChanged, RemuxStatus, apply_fix
from mediaserve.adapters.audit.run import AuditRun, run_audit
from mediaserve.adapters.library.locate import Library, LibraryError, open_library
from mediaserve.adapters.library.lock import IndexLocked, writer_lock
from mediaserve.cli.audit_ignore import unignore
from mediaserve.cli.common import ExitStatus, console, fail, plain, print_json, shown
from mediaserve.core.audit.model import AuditOptions, FailOn, Severity
from mediaserve.core.audit.report import AuditReport
from mediaserve.core.library.index import loads


def _audit(library: Library, options: AuditOptions, deep: bool, deep_timeout: float,
           workers: int, quiet: bool) -> AuditRun:
    out = console(stderr=True)
    progress = Progress(TextColumn("deep check"), BarColumn(), MofNCompleteColumn(),
                        TimeElapsedColumn(), console=out, transient=True,
                        disable=quiet or not (deep and out.is_terminal))
    with progress:
        task = progress.add_task("deep", total=None)

        def on_progress(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        try:
            return run_audit(library, options, deep=deep, deep_timeout=deep_timeout,
                             workers=workers, on_progress=on_progress)
        except DeepCheckUnavailable as exc:
            fail(str(exc), ExitStatus.IO_ERROR)


def _findings_table(report: AuditReport, severity: Severity) -> Table | None:
    pairs = report.findings(severity)
    if not pairs:
        return None
    style = "red" if severity is Severity.ERROR else "yellow"
    title = f"{severity.value.capitalize()}s ({len(pairs)})"
    table = Table(title=title, title_justify="left", title_style=f"bold {style}",
                  show_lines=False, expand=False)
    table.add_column("File", overflow="fold")
    table.add_column("Code", style=style, no_wrap=True)
    table.add_column("Problem", overflow="fold")
    table.add_column("Suggested fix", overflow="fold")
    for audit, finding in pairs:
        table.add_row(plain(audit.entry.path), plain(finding.code), plain(finding.message),
                      plain(finding.fix))
    return table


def _render(library: Library, run: AuditRun, fix: FixResult, dry_run: bool) -> None:
    out = console()
    report = run.report
    mode = "deep, " if report.deep else ""
    out.print(f"Audit of {shown(library.root)}  ({mode}index {shown(library.index_path)})",
              markup=False)
    tables = False
    for severity in (Severity.ERROR, Severity.WARNING):
        table = _findings_table(report, severity)
        if table is not None:
            out.print(table)
            tables = True
    if not tables:
        out.print("[green]No problems found.[/green]")
    out.print(report.summary_line())
    if report.deep and run.deep_files:
        mb = run.deep_bytes / 1e6
        secs = max(run.deep_elapsed, 1e-9)
        out.print(f"Deep check: {run.deep_files} files, {mb:.1f} MB in {secs:.2f} s "
                  f"({mb / secs:.1f} MB/s, {run.deep_files / secs:.1f} files/s)")
    if report.duplicates:
        copies = sum(len(g.ids) for g in report.duplicates)
        out.print(f"Duplicates: {len(report.duplicates)} group(s), {copies} files "
                  "(--json lists every group in full under duplicate_groups)")
    removed, updated = fix.removed(), fix.updated()
    verb = ("Would remove", "Would update") if dry_run else ("Removed", "Updated")
    if removed:
        out.print(f"\n{verb[0]} from the index ({len(removed)}):")
        for change in removed:
            out.print(Text.assemble(f"  - {shown(change.path)}  ",
                                    (f"({shown(change.reason)})", "dim")))
    if updated:
        out.print(f"\n{verb[1]} in the index ({len(updated)}):")
        for change in updated:
            out.print(Text.assemble(f"  - {shown(change.path)}  ",
                                    (f"({shown(change.reason)})", "dim")))
    for item in fix.remux:
        target = "in place" if item.in_place else f"→ {shown(item.output)}"
        if item.status is RemuxStatus.PLANNED:
            out.print(f"Would remux to faststart: {shown(item.path)} {target}", markup=False)
        elif item.status is RemuxStatus.DONE:
            out.print(f"Remuxed to faststart: {shown(item.path)} {target}", markup=False)
        else:
            out.print(Text.assemble(("Remux failed", "red"), f": {shown(item.path)}: "
                                    f"{shown(item.error)} (the original is untouched)"))
    if dry_run:
        if fix.changes or fix.remux:
            out.print("\nDry run: nothing was changed. Run without --dry-run to apply.")
    elif fix.backup is not None:
        out.print(f"\nIndex written; the previous one is kept as {shown(fix.backup)}",
                  markup=False)
    elif not fix.remux:
        out.print("\nNothing to change in the index.")
    if any(not r.in_place and r.status is RemuxStatus.DONE for r in fix.remux):
        out.print("The originals are untouched: check the .faststart copies, then replace "
                  "the originals yourself or rerun with --in-place.")


def _as_json(library: Library, run: AuditRun, fix: FixResult, dry_run: bool,
             code: int) -> dict[str, Any]:
    data: dict[str, Any] = {
        "root": str(library.root),
        "index": str(library.index_path),
        "dry_run": dry_run,
        **run.report.as_dict(),
        "changes": [c.as_dict() for c in fix.changes],
        "backup": str(fix.backup) if fix.backup else None,
        "remux": [r.as_dict() for r in fix.remux],
        "elapsed_s": round(run.elapsed, 3),
        "exit_code": code,
    }
    if run.report.deep:
        data["deep_stats"] = {"files": run.deep_files, "bytes": run.deep_bytes,
                              "elapsed_s": round(run.deep_elapsed, 3)}
    return data


@click.command()
@click.argument("folder", required=False, type=click.Path(path_type=Path, readable=False))
@click.option("--index", "index_path", type=click.Path(path_type=Path, dir_okay=False),
              help="Index to audit (default: the one `scan` wrote for FOLDER). With only "
                   "--index, the root recorded in it is audited.")
@click.option("--dry-run", is_flag=True,
              help="Report and show what a fix would do; change nothing.")
@click.option("--min-frames", type=click.IntRange(0), default=10, show_default=True,
              help="Fewer frames than this is an error (accidental recordings).")
@click.option("--deep", is_flag=True,
              help="Re-demux every file (packets and timestamps, no decoding) to catch "
                   "truncation and corruption the recorded metadata hides.")
@click.option("--deep-timeout", type=click.FloatRange(min=0.1), default=DEFAULT_DEEP_TIMEOUT,
              show_default=True, metavar="SECONDS",
              help="Time budget per file for --deep; a file over it is reported 'timeout'.")
@click.option("--workers", type=click.IntRange(0, 64), default=0,
              show_default="CPUs, max 4", help="Worker processes for --deep.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--fail-on", type=click.Choice([f.value for f in FailOn]), default="error",
              show_default=True, help="Exit 1 when a finding of this severity or worse exists.")
@click.option("--remux-faststart", "remux", is_flag=True,
              help="Rewrite non-faststart MP4s with the moov box first (stream copy, "
                   "verified) as NAME.faststart.mp4 beside the original.")
@click.option("--in-place", is_flag=True,
              help="With --remux-faststart: replace the original atomically instead.")
@click.option("--unignore", "unignore_paths", multiple=True, metavar="PATH",
              help="Forget that the audit pruned PATH (repeatable), so the next scan indexes "
                   "it again. Runs no audit.")
@click.option("--unignore-all", is_flag=True,
              help="Forget every pruned file (see --unignore).")
def audit(folder: Path | None, index_path: Path | None, dry_run: bool, min_frames: int,
          deep: bool, deep_timeout: float, workers: int, as_json: bool, fail_on: str,
          remux: bool, in_place: bool, unignore_paths: tuple[str, ...],
          unignore_all: bool) -> None:
    """Find broken and unplayable entries in a library's index and prune them.

    Without --dry-run, entries with errors are removed from the index (the previous index
    is kept as INDEX.bak) and stale entries are re-probed. Media files are never deleted,
    moved or changed, except by --remux-faststart --in-place.

    \b
    Exit status:
      0  nothing at or above --fail-on was found
      1  findings at or above --fail-on (default: error), a failed remux, an I/O error
      2  usage or index error
      3  the index changed on disk during the audit (nothing written)
    """
    if in_place and not remux:
        raise click.UsageError("--in-place only applies to --remux-faststart")
    library = open_library(folder, index_path)
    if library.index is None:
        raise LibraryError(f"no index for {library.root} (looked for {library.index_path}); "
                           f"run `mediaserve scan {library.root}` first")
    if unignore_paths or unignore_all:
        unignore(library, unignore_paths, unignore_all, as_json)
        return
    try:  # a fix writes: one writer at a time (a dry run only reads, and takes no lock)
        with contextlib.nullcontext() if dry_run else writer_lock(library.index_path):
            _audit_and_fix(library, dry_run=dry_run, min_frames=min_frames, deep=deep,
                           deep_timeout=deep_timeout, workers=workers, as_json=as_json,
                           fail_on=fail_on, remux=remux, in_place=in_place)
    except IndexLocked as exc:
        fail(str(exc), ExitStatus.REFUSED)


def _audit_and_fix(library: Library, *, dry_run: bool, min_frames: int, deep: bool,
                   deep_timeout: float, workers: int, as_json: bool, fail_on: str,
                   remux: bool, in_place: bool) -> None:
    # parse the very bytes a fix will later check and back up, so that a scan writing the
    # index meanwhile is detected instead of silently overwritten
    original = library.index_path.read_bytes()
    library.index = loads(original.decode("utf-8"), source=str(library.index_path))
    options = AuditOptions(min_frames=min_frames)
    run = _audit(library, options, deep, deep_timeout, workers, quiet=as_json)
    try:
        fix = apply_fix(library, original, run.report, dry_run=dry_run, remux=remux,
                        in_place=in_place)
    except IndexChanged as exc:
        fail(str(exc), ExitStatus.REFUSED)
    code = run.report.exit_code(fail_on)
    if fix.remux_failed:
        code = max(code, ExitStatus.IO_ERROR)
    if as_json:
        print_json(_as_json(library, run, fix, dry_run, code))
    else:
        _render(library, run, fix, dry_run)
    click.get_current_context().exit(code)


__all__ = ["audit"]
