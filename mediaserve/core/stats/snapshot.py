"""Snapshots as plain data: derived values, merging across processes, rates between two.

A snapshot carries the *additive* raw numbers (counts, byte totals, histogram buckets,
bytes per throughput window) next to the values derived from them (means, percentiles,
rates). Merging adds the raw numbers and derives again, so merging the snapshots of two
workers gives exactly the snapshot one process serving both workloads would have given;
no average of percentiles anywhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mediaserve.core.stats.histogram import merge_histograms, quantiles_ms

#: throughput windows, in seconds
WINDOWS = {"10s": 10, "60s": 60}

_ROW_SUMS = ("requests", "bytes_sent", "ranges_served", "range_bytes", "active_streams",
             "aborts", "player_seeks")
_ROW_LISTS = ("seek_heatmap", "player_seek_heatmap")
_GLOBAL_SUMS = ("requests", "bytes_sent", "ranges_served", "range_bytes", "active_streams",
                "aborts", "player_seeks")
_GLOBAL_HISTOGRAMS = ("range_size_histogram", "ttfb_histogram", "response_histogram")


def _mean(total: int, count: int) -> float:
    return round(total / count, 1) if count else 0.0


def finish_row(row: dict[str, Any]) -> dict[str, Any]:
    """Fill a VIDEO row's derived values from its raw ones (in place; returns it)."""
    row["mean_range_bytes"] = _mean(row["range_bytes"], row["ranges_served"])
    return row


def finish_global(raw: dict[str, Any], uptime: float) -> dict[str, Any]:
    """Fill GLOBAL's derived values: mean range size, latency percentiles, throughput."""
    raw["status"] = {str(code): count for code, count in
                     sorted(raw["status"].items(), key=lambda item: int(item[0]))}
    raw["mean_range_bytes"] = _mean(raw["range_bytes"], raw["ranges_served"])
    raw["ttfb_ms"] = quantiles_ms(raw["ttfb_histogram"])
    raw["response_ms"] = quantiles_ms(raw["response_histogram"])
    raw["throughput_bps"] = {
        # a server up 3 s has 3 s of history, not 10: divide by what the window could hold
        name: round(raw["throughput_bytes"][name] / max(1.0, min(float(length), uptime)), 1)
        for name, length in WINDOWS.items()}
    return raw


def _add_status(into: dict[str, int], more: dict[str, int]) -> None:
    for code, count in more.items():
        into[code] = into.get(code, 0) + count


def _latest(a: float | None, b: float | None) -> float | None:
    if a is None:
        return b
    return a if b is None or a >= b else b


def add_rows(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The sum of VIDEO rows (same id, or rows folded together); derived values redone."""
    first = rows[0]
    total: dict[str, Any] = {"id": first["id"], "title": None, "status": {},
                             "last_seen": None}
    for name in _ROW_SUMS:
        total[name] = 0
    for name in _ROW_LISTS:
        total[name] = [0] * len(first[name])
    folded = 0
    for row in rows:
        total["title"] = total["title"] or row.get("title")
        for name in _ROW_SUMS:
            total[name] += row[name]
        for name in _ROW_LISTS:
            bucket = total[name]
            for index, count in enumerate(row[name]):
                bucket[index] += count
        _add_status(total["status"], row["status"])
        total["last_seen"] = _latest(total["last_seen"], row["last_seen"])
        folded += row.get("folded", 0)
    if "folded" in first:
        total["folded"] = folded
    total["status"] = dict(sorted(total["status"].items(), key=lambda item: int(item[0])))
    return finish_row(total)


def _busiest(row: dict[str, Any]) -> tuple[int, int, str]:
    return (-row["bytes_sent"], -row["requests"], row["id"])


def merge_snapshots(snapshots: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Add up snapshots of several processes (each taken with ``top=None``).

    Counters, statuses, histograms, heat maps and throughput-window bytes are summed,
    rows are matched by video id, ``uptime_s`` is the longest; percentiles, means and rates
    are derived again from the sums, so the result is exact, not an average. Cut it down
    with :func:`limit_top` afterwards."""
    if not snapshots:
        raise ValueError("nothing to merge")
    uptime = max(float(snap["uptime_s"]) for snap in snapshots)
    raw: dict[str, Any] = {name: 0 for name in _GLOBAL_SUMS}
    raw["status"] = {}
    raw["throughput_bytes"] = dict.fromkeys(WINDOWS, 0)
    for snap in snapshots:
        glob = snap["global"]
        for name in _GLOBAL_SUMS:
            raw[name] += glob[name]
        _add_status(raw["status"], glob["status"])
        for name in WINDOWS:
            raw["throughput_bytes"][name] += glob["throughput_bytes"][name]
    for name in _GLOBAL_HISTOGRAMS:
        raw[name] = merge_histograms([snap["global"][name] for snap in snapshots])
    by_id: dict[str, list[dict[str, Any]]] = {}
    for snap in snapshots:
        for row in snap["videos"]:
            by_id.setdefault(row["id"], []).append(row)
    rows = sorted((add_rows(group) for group in by_id.values()), key=_busiest)
    others = [snap["other"] for snap in snapshots if snap.get("other")]
    return {
        "uptime_s": round(uptime, 3),
        "global": finish_global(raw, uptime),
        "videos": rows,
        "other": add_rows(others) if others else None,
        "tracked": len(rows),
        "max_videos": sum(int(snap.get("max_videos", 0)) for snap in snapshots),
    }


def limit_top(snapshot: dict[str, Any], top: int) -> dict[str, Any]:
    """The snapshot with only its ``top`` busiest videos listed; the rest go to ``other``
    (so ``videos`` plus ``other`` still add up to the totals)."""
    rows = sorted(snapshot["videos"], key=_busiest)
    kept, rest = rows[:max(0, top)], rows[max(0, top):]
    folded = [dict(row, folded=1) for row in rest]
    if snapshot.get("other"):
        folded.append(snapshot["other"])
    other = None
    if folded:
        other = add_rows([{**folded[0], "id": "other", "title": "other videos",
                           "folded": folded[0].get("folded", 1)}, *folded[1:]])
    return {**snapshot, "videos": kept, "other": other}


def rates(before: dict[str, Any], after: dict[str, Any]) -> dict[str, float] | None:
    """Requests/s and bytes/s between two snapshots of the same server, by its own uptime
    clock; None when they cannot be compared (same instant, or the server restarted)."""
    elapsed = float(after["uptime_s"]) - float(before["uptime_s"])
    if elapsed <= 0:
        return None
    requests = after["global"]["requests"] - before["global"]["requests"]
    sent = after["global"]["bytes_sent"] - before["global"]["bytes_sent"]
    if requests < 0 or sent < 0:
        return None
    return {"requests_per_s": requests / elapsed, "bytes_per_s": sent / elapsed,
            "elapsed_s": elapsed}
