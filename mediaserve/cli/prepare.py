"""``mediaserve prepare``: convert ahead of time what browsers cannot play as it is.

The engine is :mod:`mediaserve.adapters.playback.prepare` (the server's own producers, into
the server's cache); this module parses options and renders a progress bar and a summary.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from mediaserve.adapters.library.locate import open_library
from mediaserve.adapters.playback.manager import worker_count
from mediaserve.adapters.playback.prepare import Preparer, Task, plan_tasks
from mediaserve.cli.common import ExitStatus, console, fail, print_json
from mediaserve.core.config.settings import SettingsError, resolve


@click.command()
@click.argument("folder", required=False, type=click.Path(path_type=Path, readable=False))
@click.option("--index", "index_path", type=click.Path(path_type=Path, dir_okay=False),
              help="Index file (default: the one `scan` writes for FOLDER).")
@click.option("--quality", "qualities", multiple=True, metavar="NAME",
              help="Rendition of a transcode to make: 1080p, 720p, 480p, 360p, the "
                   "source's own height, or 'all' (repeatable; default: the largest).")
@click.option("--only-needed", is_flag=True,
              help="Only videos the default browser (Chromium) cannot play as they are; "
                   "without it, also the remux Safari needs for Matroska/WebM files.")
@click.option("--cache-dir", metavar="DIR",
              help="Segment cache (default: the server's: cache_dir of the index's [server] "
                   "table or MEDIASERVE_CACHE_DIR, else the data folder).")
@click.option("--workers", type=click.IntRange(0, 64), default=0, show_default=True,
              help="Producer processes at once; 0: the CPU count less one, at least 1.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def prepare(folder: Path | None, index_path: Path | None, qualities: tuple[str, ...],
            only_needed: bool, cache_dir: str | None, workers: int, as_json: bool) -> None:
    """Make the HLS segments of FOLDER's videos ahead of time, so that `serve` never
    converts while someone watches (use `serve --no-live-transcode` on a small machine)."""
    if folder is None and index_path is None:
        fail("give a FOLDER or --index", ExitStatus.USAGE)
    library = open_library(folder, index_path)
    if library.index is None:
        fail(f"no index for {library.root}: run `mediaserve scan {library.root}` first",
             ExitStatus.USAGE)
    index = library.index
    try:
        settings = resolve({"cache_dir": cache_dir}, os.environ, index.settings)
    except SettingsError as exc:
        fail(str(exc), ExitStatus.USAGE)
    plan = plan_tasks(index, tuple(q.lower() for q in qualities), only_needed)
    preparer = Preparer(index, library.root, settings.cache_dir,
                        workers or worker_count(settings))
    out = console(stderr=True)
    total = sum(1 for _ in plan.tasks)
    lock = threading.Lock()
    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TimeElapsedColumn(), console=out, transient=True,
                        disable=as_json or not out.is_terminal)
    with progress:
        bar = progress.add_task("preparing", total=total or None)
        finished: set[int] = set()

        def on_progress(task: Task) -> None:
            with lock:
                if task.status in ("made", "cached", "failed") and id(task) not in finished:
                    finished.add(id(task))
                progress.update(bar, completed=len(finished),
                                description=f"{task.entry.path} {task.variant} "
                                            f"{task.done}/{task.segments}")

        try:
            preparer.run(plan.tasks, on_progress)
        finally:
            preparer.close()
    failed = [t for t in plan.tasks if t.status == "failed"]
    if as_json:
        print_json({"tasks": [t.as_json() for t in plan.tasks], "direct": plan.direct,
                    "failed": len(failed)})
    else:
        _summary(plan.tasks, plan.direct)
    if failed:
        raise SystemExit(ExitStatus.PROBLEMS)


def _summary(tasks: list[Task], direct: int) -> None:
    out = console()
    table = Table(title="Prepared", title_justify="left")
    for column in ("Video", "Variant", "Mode", "Segments", "Status", "Seconds"):
        table.add_column(column, overflow="fold")
    for task in tasks:
        style = {"failed": "red", "made": "green"}.get(task.status, "")
        status = task.status + (f": {task.error}" if task.error else "")
        table.add_row(task.entry.path, task.variant, task.mode, str(task.segments),
                      f"[{style}]{status}[/]" if style else status, f"{task.seconds:.1f}")
    out.print(table)
    out.print(f"{len(tasks)} variants; {direct} videos play as they are (nothing to make)")
