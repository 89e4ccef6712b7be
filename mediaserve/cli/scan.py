"""``mediaserve scan``: walk a folder and write its TOML index."""

from __future__ import annotations

import signal
import threading
from pathlib import Path

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from mediaserve.adapters.library.locate import CorruptIndex, Library, open_library
from mediaserve.adapters.library.lock import IndexLocked, writer_lock
from mediaserve.adapters.library.scanner import LibraryUnavailable
from mediaserve.adapters.library.scanner import scan as scan_library
from mediaserve.adapters.library.store import load_index_if_exists, move_aside, save_index
from mediaserve.cli.common import (
    ExitStatus,
    console,
    fail,
    human_duration,
    human_size,
    plain,
    print_json,
    shown,
)
from mediaserve.core.audit.preview import preview
from mediaserve.core.library.index import IndexFormatError
from mediaserve.core.library.summary import ScanSummary


def run_scan(library: Library, *, workers: int = 0, executor: str = "thread",
             allow_empty: bool = False, show_progress: bool = True,
             rebuild: bool = False) -> ScanSummary:
    """Scan and save under the writer lock; shared by ``scan`` and ``serve`` (which scans a
    new folder first). The index is (re)read once the lock is held, so an audit or watcher
    that wrote it meanwhile is not overwritten. ``rebuild`` probes every file again, and
    first moves an index that does not parse aside."""
    try:
        with writer_lock(library.index_path):
            return _locked_scan(library, workers=workers, executor=executor,
                                allow_empty=allow_empty, show_progress=show_progress,
                                rebuild=rebuild)
    except IndexLocked as exc:
        fail(str(exc), ExitStatus.REFUSED)


def _locked_scan(library: Library, *, workers: int, executor: str, allow_empty: bool,
                 show_progress: bool, rebuild: bool) -> ScanSummary:
    out = console(stderr=True)
    try:
        library.index = load_index_if_exists(library.index_path)
    except IndexFormatError as exc:
        if not rebuild:
            raise CorruptIndex(exc, library.index_path, library.root) from exc
        aside = move_aside(library.index_path)
        out.print(f"mediaserve: the index did not parse ({shown(exc.message)}); kept it as "
                  f"{shown(aside)} and scanning afresh", markup=False)
        library.index = None
    progress = Progress(TextColumn("probing"), BarColumn(), MofNCompleteColumn(),
                        TimeElapsedColumn(), console=out, transient=True,
                        disable=not (show_progress and out.is_terminal))
    with progress:
        task = progress.add_task("probe", total=None)

        def on_progress(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        try:
            index, summary = scan_library(library.root, library.index, workers=workers,
                                          executor=executor, allow_empty=allow_empty,
                                          on_progress=on_progress, force=rebuild)
        except LibraryUnavailable as exc:
            fail(f"{exc}; index left untouched: {library.index_path}", ExitStatus.REFUSED)
        except ValueError as exc:  # two names, one id: the same name in NFC and in NFD
            fail(f"{exc} (names that differ only in Unicode normalisation; rename one); "
                 f"index left untouched: {library.index_path}", ExitStatus.REFUSED)
    save_index(library.index_path, index)
    library.index = index
    for folder in summary.unreadable:
        out.print(f"mediaserve: warning: cannot read the folder {shown(folder)}/: its entries "
                  "were kept as they were (not flagged missing)", markup=False)
    for path in summary.skipped:
        out.print(f"mediaserve: warning: skipped {shown(path)}: its name is not valid UTF-8 "
                  "(rename it to index it)", markup=False)
    return summary


def summary_table(summary: ScanSummary, index_path: Path) -> Table:
    table = Table(title=plain(f"Scan summary  ({index_path})"), title_justify="left")
    for name in ("new", "changed", "unchanged", "missing", "failed", "ignored"):
        table.add_column(name.capitalize(), justify="right")
    table.add_column("Duration", justify="right")
    table.add_column("Size", justify="right")
    table.add_column("Took", justify="right")
    data = summary.as_dict()
    table.add_row(*(str(data[k]) for k in ("new", "changed", "unchanged", "missing", "failed",
                                           "ignored")),
                  human_duration(summary.total_duration), human_size(summary.total_size),
                  f"{summary.elapsed:.2f} s")
    return table


def failed_table(summary: ScanSummary) -> Table:
    """Every file that could not be probed, with the reason."""
    table = Table(title=f"Failed ({len(summary.failed_files)})", title_justify="left",
                  title_style="bold red")
    table.add_column("File", overflow="fold")
    table.add_column("Reason", overflow="fold")
    for path, error in summary.failed_files:
        table.add_row(plain(path), plain(error))
    return table


def _render(library: Library, summary: ScanSummary) -> None:
    out = console()
    out.print(summary_table(summary, library.index_path))
    if summary.failed_files:
        out.print(failed_table(summary))
    if summary.ignored:
        out.print(f"Skipped {len(summary.ignored)} file(s) the audit pruned (unchanged since); "
                  "`mediaserve audit --unignore PATH` brings one back.")
    assert library.index is not None
    seen = preview(library.index)
    if seen.invalid or seen.warned:
        out.print(f"`mediaserve audit` would report {seen.invalid} invalid entr"
                  f"{'y' if seen.invalid == 1 else 'ies'} and {seen.warned} with warnings.")


def _watch(library: Library, settle: float, parent_pid: int | None) -> None:
    """Keep the index current until SIGINT/SIGTERM (imports watchfiles only here)."""
    from mediaserve.adapters.library.watch import FolderWatcher

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    def ready() -> None:
        click.echo(f"mediaserve: watching {shown(library.root)} for changes (index "
                   f"{shown(library.index_path)}); Ctrl-C stops", err=True)

    FolderWatcher(library.root, library.index_path, settle=settle).run(stop, parent_pid, ready)
    click.echo("mediaserve: watch stopped", err=True)


@click.command()
@click.argument("folder", type=click.Path(path_type=Path, readable=False))
@click.option("--index", "index_path", type=click.Path(path_type=Path, dir_okay=False),
              help="Index file to write (default: FOLDER/.mediaserve-index.toml, or the "
                   "user data folder when FOLDER is read-only).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option("--workers", type=click.IntRange(0, 64), default=0, show_default="CPUs, max 8",
              help="Files probed in parallel.")
@click.option("--executor", type=click.Choice(["thread", "process"]), default="thread",
              show_default=True, help="Probe in threads or in processes.")
@click.option("--allow-empty", is_flag=True,
              help="Scan even when FOLDER holds no videos but the index lists some "
                   "(they are flagged missing). Without it, scan refuses: the drive may be "
                   "unmounted.")
@click.option("--rebuild", is_flag=True,
              help="Probe every file again. An index that does not parse is first moved "
                   "aside as INDEX.corrupt-YYYYmmdd-HHMMSS and a new one is built.")
@click.option("--watch", is_flag=True,
              help="After the scan, keep watching FOLDER (inotify) and update the index as "
                   "videos are added, changed, moved or deleted.")
@click.option("--settle", type=click.FloatRange(min=0.0), default=3.0, show_default=True,
              metavar="SECONDS",
              help="With --watch: a file is probed once its size stayed put this long.")
@click.option("--parent-pid", type=int, default=None, hidden=True,
              help="With --watch: stop when this process is no longer our parent.")
def scan(folder: Path, index_path: Path | None, as_json: bool, workers: int, executor: str,
         allow_empty: bool, rebuild: bool, watch: bool, settle: float,
         parent_pid: int | None) -> None:
    """Walk FOLDER and write a TOML index of its videos.

    Unchanged files (same size and mtime) are not probed again; files that vanished stay in
    the index flagged missing until `mediaserve audit` prunes them; files the audit pruned
    stay out until they change. With --watch, the index then follows the folder.
    """
    library = open_library(folder, index_path, load=False)
    summary = run_scan(library, workers=workers, executor=executor, allow_empty=allow_empty,
                       show_progress=not as_json, rebuild=rebuild)
    if as_json:
        assert library.index is not None
        print_json({"index": str(library.index_path), "root": str(library.root),
                    **summary.as_dict(), "audit": preview(library.index).as_dict()})
    else:
        _render(library, summary)
    if watch:
        _watch(library, settle, parent_pid)
