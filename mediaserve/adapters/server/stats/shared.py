"""Whole-server statistics with ``workers = N``: each worker publishes, any worker merges.

Every worker keeps its own collector (the hooks stay O(1) and lock-free on the hot path).
Twice a second it writes a full snapshot (``top=None``, the mergeable form) to a file named
after its pid in a directory on /dev/shm (shared memory when it exists; the temp dir
otherwise), atomically (write, rename). A worker answering ``/api/stats``, a video's
``streaming-stats`` or ``/metrics`` takes its *own* snapshot live, reads the others' files and
adds them up with :func:`~mediaserve.core.stats.merge_snapshots`: the others' numbers are at
most ``PUBLISH_EVERY`` old. A worker that died keeps its last file, so whole-server counters
never go backwards when a worker is replaced (Prometheus would read that as a reset); its
``active_streams`` count as 0. The supervisor removes the directory on exit.

Cost, measured (benchmarks/RESULTS.md): publishing is one snapshot and one small JSON file
per worker every half second, nothing per request.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mediaserve.adapters.server.site.state import ServerState
from mediaserve.core.stats import limit_top, merge_snapshots

PUBLISH_EVERY = 0.5
ENV_DIR = "MEDIASERVE_STATS_DIR"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _retired(snapshot: dict[str, Any]) -> dict[str, Any]:
    """A dead worker's last snapshot: its counts stand, it streams nothing any more."""
    snapshot["global"]["active_streams"] = 0
    for row in snapshot["videos"]:
        row["active_streams"] = 0
    if snapshot.get("other"):
        snapshot["other"]["active_streams"] = 0
    return snapshot


class SharedStats:
    """One worker's side: publish its snapshot, merge everyone's on demand."""

    def __init__(self, state: ServerState, directory: Path) -> None:
        self.state = state
        self.directory = directory
        self.pid = os.getpid()
        self.path = directory / f"{self.pid}.json"

    def publish(self) -> None:
        data = json.dumps(self.state.stats.snapshot(), separators=(",", ":"))
        temp = self.directory / f".{self.pid}.tmp"
        temp.write_text(data, encoding="utf-8")
        os.replace(temp, self.path)

    def others(self) -> list[dict[str, Any]]:
        found = []
        for path in self.directory.glob("*.json"):
            pid = int(path.stem) if path.stem.isdigit() else -1
            if pid == self.pid:
                continue
            try:
                snapshot = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):  # replaced under us: the next read has it
                continue
            found.append(snapshot if _alive(pid) else _retired(snapshot))
        return found

    def snapshot(self, top: int | None = None,
                 title_of: Callable[[str], str | None] | None = None) -> dict[str, Any]:
        """The whole server's snapshot (this worker's live numbers plus the others')."""
        merged = merge_snapshots([self.state.stats.snapshot(), *self.others()])
        if title_of is not None:
            for row in merged["videos"]:
                row["title"] = title_of(row["id"])
        return merged if top is None else limit_top(merged, top)

    async def run(self) -> None:
        while True:
            with contextlib.suppress(OSError):
                self.publish()
            await asyncio.sleep(PUBLISH_EVERY)


def share_stats(site: Any, directory: Path) -> None:
    """Make ``site`` (one worker's) publish to and read from ``directory``; the site runs
    the publishing while it runs (``site.Site.start``)."""
    if site.state.stats.enabled:
        site.shared = SharedStats(site.state, directory)


def server_snapshot(site: Any, top: int | None = None,
                    title_of: Callable[[str], str | None] | None = None) -> dict[str, Any]:
    """What ``/api/stats`` and ``/metrics`` report: the whole server's numbers."""
    shared = site.shared
    if shared is None:
        return dict(site.state.stats.snapshot(top=top, title_of=title_of))
    return dict(shared.snapshot(top, title_of))


def server_video(site: Any, video_id: str, title: str | None) -> dict[str, Any]:
    """One video's row for the whole server (zeros when never streamed)."""
    own = site.state.stats.video(video_id, title)
    shared = site.shared
    if shared is None:
        return own
    rows = [row for snap in shared.others() for row in snap["videos"] if row["id"] == video_id]
    if not rows:
        return own
    from mediaserve.core.stats.snapshot import add_rows

    total = add_rows([own, *rows])
    total["title"] = title
    return total
