"""``mediaserve scan``: walk a folder and write its TOML index."""

from __future__ import annotations

from pathlib import Path

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from mediaserve.adapters.library.locate import Library, open_library
from mediaserve.adapters.library.scanner import LibraryUnavailable
from mediaserve.adapters.library.scanner import scan as scan_library
from mediaserve.adapters.library.store import save_index
from mediaserve.cli.common import ExitStatus, console, fail, human_duration, human_size, print_json
from mediaserve.core.library.index import ScanSummary


def run_scan(library: Library, *, workers: int = 0, executor: str = "thread",
             allow_empty: bool = False, show_progress: bool = True) -> ScanSummary:
    """Scan and save; shared by ``scan`` and ``serve`` (which scans a new folder first)."""
    out = console(stderr=True)
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
                                          on_progress=on_progress)
        except LibraryUnavailable as exc:
            fail(f"{exc}; index left untouched: {library.index_path}", ExitStatus.REFUSED)
        except ValueError as exc:  # two names, one id: the same name in NFC and in NFD
            fail(f"{exc} (names that differ only in Unicode normalisation; rename one); "
                 f"index left untouched: {library.index_path}", ExitStatus.REFUSED)
    save_index(library.index_path, index)
    library.index = index
    for folder in summary.unreadable:
        out.print(f"mediaserve: warning: cannot read the folder {folder}/: its entries were "
                  "kept as they were (not flagged missing)", markup=False, highlight=False)
    for path in summary.skipped:
        out.print(f"mediaserve: warning: skipped {path}: its name is not valid UTF-8 "
                  "(rename it to index it)", markup=False, highlight=False)
    return summary


def summary_table(summary: ScanSummary, index_path: Path) -> Table:
    table = Table(title=f"Scan summary  ({index_path})", title_justify="left")
    for name in ("new", "changed", "unchanged", "missing", "failed"):
        table.add_column(name.capitalize(), justify="right")
    table.add_column("Duration", justify="right")
    table.add_column("Size", justify="right")
    table.add_column("Took", justify="right")
    data = summary.as_dict()
    table.add_row(*(str(data[k]) for k in ("new", "changed", "unchanged", "missing", "failed")),
                  human_duration(summary.total_duration), human_size(summary.total_size),
                  f"{summary.elapsed:.2f} s")
    return table


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
def scan(folder: Path, index_path: Path | None, as_json: bool, workers: int, executor: str,
         allow_empty: bool) -> None:
    """Walk FOLDER and write a TOML index of its videos.

    Unchanged files (same size and mtime) are not probed again; files that vanished stay in
    the index flagged missing until `mediaserve audit` prunes them.
    """
    library = open_library(folder, index_path)
    summary = run_scan(library, workers=workers, executor=executor, allow_empty=allow_empty,
                       show_progress=not as_json)
    if as_json:
        print_json({"index": str(library.index_path), "root": str(library.root),
                    **summary.as_dict()})
    else:
        console().print(summary_table(summary, library.index_path))
