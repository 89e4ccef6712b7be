"""How ``mediaserve stats`` draws a snapshot: a summary panel, a table of videos and one-line
seek heat maps, all fitting an 80-column terminal; and the one-line form for logs and pipes.

Pure rendering: a snapshot (and optional rates between two snapshots) in, rich renderables
or a string out. Nothing here talks to the network.
"""

from __future__ import annotations

import time
from typing import Any

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from mediaserve.cli.common import human_duration, human_size, plain, shown

BLOCKS = " ▁▂▃▄▅▆▇█"
#: heat maps narrower than this many columns would say little; below it they are dropped
MIN_MAP = 10


def rate(num: float) -> str:
    return f"{human_size(num)}/s"


def heat_line(counts: list[int], width: int) -> str:
    """``counts`` as ``width`` block characters (buckets summed to fit), scaled to the max."""
    if not counts or width <= 0:
        return ""
    width = min(width, len(counts))
    cells = [0] * width
    for index, count in enumerate(counts):
        cells[index * width // len(counts)] += count
    peak = max(cells)
    if peak == 0:
        return " " * width
    top = len(BLOCKS) - 1
    return "".join(BLOCKS[0 if c == 0 else max(1, -(-c * top // peak))] for c in cells)


def ago(last_seen: float | None, now: float) -> str:
    if last_seen is None:
        return "never"
    seconds = max(0.0, now - last_seen)
    if seconds < 1:
        return "now"
    if seconds < 60:
        return f"{seconds:.0f} s ago"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min ago"
    if seconds < 86400:
        return f"{seconds / 3600:.0f} h ago"
    return f"{seconds / 86400:.0f} d ago"


def _ms(quantiles: dict[str, Any]) -> str:
    if not quantiles.get("count", 1):
        return "–"
    return " ".join(f"{name} {quantiles[name]:.1f}" for name in ("p50", "p90", "p99")) + " ms"


def _statuses(status: dict[str, int]) -> str:
    return " · ".join(f"{shown(code)} {count:,}" for code, count in status.items()) or "none yet"


def _serving(snap: dict[str, Any]) -> dict[str, str]:
    """What ``serve``'s start-up line said (it has scrolled away by now), when the server
    says it: ``{"serving": "9 videos (3:10, 12.4 MiB)"}``."""
    library = snap.get("library")
    if not isinstance(library, dict):
        return {}
    try:
        count = int(library["videos"])
        return {"serving": f"{count:,} video{'' if count == 1 else 's'} "
                           f"({human_duration(float(library['duration']))}, "
                           f"{human_size(int(library['bytes']))})"}
    except (KeyError, TypeError, ValueError, OverflowError):  # a server's odd answer
        return {}


def _conversions(snap: dict[str, Any]) -> dict[str, str]:
    """The HLS producers, when the server converts (issue 19): what runs by mode, the queue,
    media seconds made per second of work, and the segment cache's hit ratio."""
    play = snap.get("playback")
    if not isinstance(play, dict):
        return {}
    try:
        running = " · ".join(f"{mode} {int(count)}" for mode, count in play["running"].items())
        factor = play.get("realtime_factor")
        speed = f"{float(factor):.1f}x real time" if factor is not None else "– x real time"
        cache = play["cache"]
        ratio = cache.get("hit_ratio")
        hits = f"{100 * float(ratio):.0f}%" if ratio is not None else "–"
        return {"converting": f"{running}   queued {int(play['queued'])}   {speed}",
                "segments": f"cache hits {hits} of {int(cache['hits']) + int(cache['misses']):,}"
                            f"   {human_size(int(cache['bytes']))} cached   busy refusals "
                            f"{int(play['busy_refusals']):,}"}
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError):
        return {}


def summary(snap: dict[str, Any], rates: dict[str, float] | None, url: str) -> Panel:
    glob = snap["global"]
    thr = glob["throughput_bps"]
    per_s = (f"{rates['requests_per_s']:,.1f} req/s  {rate(rates['bytes_per_s'])}"
             if rates else "– req/s")
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column(overflow="fold")
    rows = {  # what the server sent: shown as text, never read as markup
        **_serving(snap),
        "uptime": f"{human_duration(snap['uptime_s'])}   active streams "
                  f"{glob['active_streams']}   aborts {glob['aborts']:,}",
        "now": per_s,
        "sent": f"{human_size(glob['bytes_sent'])}   {rate(thr['10s'])} (10 s)  "
                f"{rate(thr['60s'])} (60 s)",
        "requests": f"{glob['requests']:,}: {_statuses(glob['status'])}",
        "ranges": f"{glob['ranges_served']:,}, mean {human_size(glob['mean_range_bytes'])}"
                  f"   player seeks {glob['player_seeks']:,}",
        "ttfb": _ms(glob["ttfb_ms"]),
        "response": _ms(glob["response_ms"]),
        **_conversions(snap),
    }
    for name, value in rows.items():
        grid.add_row(name, plain(value))
    return Panel(grid, title=plain(f"mediaserve stats  {url}"), title_align="left")


def _share_206(row: dict[str, Any]) -> str:
    if not row["requests"]:
        return "–"
    return f"{100 * row['status'].get('206', 0) / row['requests']:.0f}%"


def videos_table(snap: dict[str, Any], now: float, width: int = 80) -> Table:
    """Busiest first. Below 76 columns the mean range size is left out, so that the
    titles keep some room."""
    wide = width >= 76
    table = Table(title="videos by bytes sent", title_justify="left", expand=True,
                  pad_edge=False)
    table.add_column("video", overflow="ellipsis", no_wrap=True, ratio=1, min_width=8)
    for name in ("req", "206", "sent", "mean rng", "act", "last seen"):
        if wide or name != "mean rng":
            table.add_column(name, justify="right", no_wrap=True)
    rows = list(snap["videos"])
    if snap.get("other"):
        rows.append(snap["other"])
    for row in rows:
        name = row.get("title") or row["id"]
        if row["id"] == "other":
            name = f"({row.get('folded', 0)} others)"
        cells = [name, f"{row['requests']:,}", _share_206(row),
                 human_size(row["bytes_sent"]), human_size(row["mean_range_bytes"]),
                 str(row["active_streams"]), ago(row["last_seen"], now)]
        if not wide:
            del cells[4]
        table.add_row(*(plain(cell) for cell in cells))  # a title can hold anything
    if not rows:
        table.add_row(Text("no streams yet", style="dim"))
    return table


def heat_table(snap: dict[str, Any], width: int) -> Table | None:
    """One line per video: where its ranges start (and, if any, where players seeked)."""
    label_width = max(8, min(24, width // 4))
    map_width = min(50, width - label_width - 6)
    if map_width < MIN_MAP or not snap["videos"]:
        return None
    table = Table(title="seeks: where ranges start in the file (player reports: ▸)",
                  title_justify="left", show_header=False, box=None, pad_edge=False)
    table.add_column(overflow="ellipsis", no_wrap=True, width=label_width)
    table.add_column(no_wrap=True)
    for row in snap["videos"]:
        name = row.get("title") or row["id"]
        table.add_row(plain(name), "│" + heat_line(row["seek_heatmap"], map_width) + "│")
        if row.get("player_seeks"):
            table.add_row(f"▸ {row['player_seeks']:,} seeks",
                          "│" + heat_line(row["player_seek_heatmap"], map_width) + "│")
    return table


def dashboard(snap: dict[str, Any], rates: dict[str, float] | None, url: str, width: int,
              now: float | None = None, notice: str | None = None) -> RenderableType:
    """Everything for one refresh; ``notice`` (e.g. "server unreachable ...") goes on top."""
    now = time.time() if now is None else now
    parts: list[RenderableType] = []
    if notice:
        parts.append(plain(notice, style="bold red"))
    parts.append(summary(snap, rates, url))
    parts.append(videos_table(snap, now, width))
    heat = heat_table(snap, width)
    if heat is not None:
        parts.append(heat)
    return Group(*parts)


def one_line(snap: dict[str, Any], rates: dict[str, float] | None, now: float) -> str:
    """The snapshot as one log line (for output that is not a terminal)."""
    glob = snap["global"]
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(now))
    per_s = (f"{rates['requests_per_s']:.1f} req/s {rate(rates['bytes_per_s'])}"
             if rates else f"- req/s {rate(glob['throughput_bps']['10s'])} (10 s)")
    return shown(f"{stamp} up {human_duration(snap['uptime_s'])} active "
                 f"{glob['active_streams']} {per_s} requests {glob['requests']} "
                 f"[{_statuses(glob['status'])}] ttfb {_ms(glob['ttfb_ms'])} "
                 f"aborts {glob['aborts']}"
                 + "".join(f" {name} [{value}]" for name, value in _conversions(snap).items()))
