"""Load generation and server-side accounting for ``stream_bench``: wrk runs and /proc reads.

Requests/s on a shared machine move with the neighbours; what a server *spends* per request
moves much less. So next to wrk's numbers we read the server's own CPU time from
``/proc/PID/stat`` (utime + stime of the process and of every live descendant, so nginx's and
mediaserve's worker processes count) before and after each run.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")

#: random closed ranges of ``span`` bytes; ``close`` adds ``Connection: close`` so every
#: request opens a new TCP connection (what a browser seek on a fresh connection costs)
LUA_RANGES = """
local size = %(size)d
local span = %(span)d
local close = %(close)s
local counter = 0
setup = function(thread) thread:set("id", counter); counter = counter + 1 end
init = function(args) math.randomseed(%(seed)d + id) end
request = function()
  local first = math.random(0, size - span)
  local headers = {["Range"] = "bytes=" .. first .. "-" .. (first + span - 1)}
  if close then headers["Connection"] = "close" end
  return wrk.format(nil, nil, headers)
end
"""

LUA_PROBE = """
wrk.headers["Range"] = "bytes=0-1"
"""


def lua_ranges(size: int, span: int, *, close: bool = False, seed: int = 7) -> str:
    return LUA_RANGES % {"size": size, "span": span, "close": "true" if close else "false",
                         "seed": seed}


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as handle:
                data = handle.read()
        except OSError:
            continue
        ppid = int(data[data.rindex(b")") + 2:].split()[1])
        tree.setdefault(ppid, []).append(int(name))
    return tree


def process_tree(pid: int) -> list[int]:
    """``pid`` and all its live descendants (nginx's workers, mediaserve's workers)."""
    tree = _children()
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(tree.get(current, []))
    return found


def cpu_seconds(pid: int) -> float:
    """User + system CPU of ``pid``'s tree, plus what its reaped children used."""
    ticks = 0
    for index, member in enumerate(process_tree(pid)):
        try:
            with open(f"/proc/{member}/stat", "rb") as handle:
                data = handle.read()
        except OSError:
            continue
        fields = data[data.rindex(b")") + 2:].split()
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
        if index == 0:
            ticks += int(fields[13]) + int(fields[14])  # cutime, cstime: reaped children
    return ticks / CLK_TCK


def rss_bytes(pid: int) -> int:
    """Resident memory of ``pid``'s tree (sum of RSS; shared pages count once per process)."""
    total = 0
    for member in process_tree(pid):
        try:
            with open(f"/proc/{member}/statm", "rb") as handle:
                total += int(handle.read().split()[1]) * PAGE
        except OSError:
            continue
    return total


def fd_count(pid: int) -> int:
    total = 0
    for member in process_tree(pid):
        try:
            total += len(os.listdir(f"/proc/{member}/fd"))
        except OSError:
            continue
    return total


@dataclass
class WrkResult:
    requests: int = 0
    seconds: float = 0.0
    bytes_read: float = 0.0
    rps: float = 0.0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    errors: int = 0
    non2xx: int = 0
    cpu_s: float = 0.0
    extra: dict[str, float] = field(default_factory=dict)

    @property
    def cpu_us_per_request(self) -> float:
        return self.cpu_s / self.requests * 1e6 if self.requests else float("nan")

    @property
    def gb_per_s(self) -> float:
        return self.bytes_read / self.seconds / 1e9 if self.seconds else 0.0

    @property
    def cpu_s_per_gb(self) -> float:
        return self.cpu_s / (self.bytes_read / 1e9) if self.bytes_read else float("nan")


_UNITS = {"B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3, "TB": 1024**4}


def _size(text: str) -> float:
    for unit in ("TB", "GB", "MB", "KB", "B"):
        if text.endswith(unit):
            return float(text[: -len(unit)]) * _UNITS[unit]
    return float(text)


def _ms(text: str) -> float:
    for unit, factor in (("us", 0.001), ("ms", 1.0), ("m", 60000.0), ("s", 1000.0)):
        if text.endswith(unit):
            return float(text[: -len(unit)]) * factor
    return float(text)


def parse_wrk(out: str) -> WrkResult:
    result = WrkResult()
    for line in out.splitlines():
        parts = line.split()
        if " requests in " in line:  # "  123 requests in 5.00s, 7.81GB read"
            result.requests = int(parts[0])
            result.seconds = float(parts[3].rstrip("s,"))
            result.bytes_read = _size(parts[4])
        elif line.startswith("Requests/sec:"):
            result.rps = float(parts[1])
        elif parts[:1] == ["50%"]:
            result.p50_ms = _ms(parts[1])
        elif parts[:1] == ["99%"]:
            result.p99_ms = _ms(parts[1])
        elif "Non-2xx" in line:
            result.non2xx = int(parts[-1])
        elif line.strip().startswith("Socket errors:"):
            # "Socket errors: connect 0, read 0, write 0, timeout 0"
            result.errors = sum(int(p.rstrip(",")) for p in parts[2:] if p.rstrip(",").isdigit())
    return result


def run_wrk(url: str, seconds: float, connections: int, script: Path | None,
            server_pid: int) -> WrkResult:
    """One wrk run (one thread, as in the issue), with the server's CPU over the run."""
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency",
           "--timeout", "10s"]
    if script is not None:
        cmd += ["-s", str(script)]
    before = cpu_seconds(server_pid)
    done = subprocess.run([*cmd, url], capture_output=True, text=True, timeout=seconds + 60,
                          check=True)
    result = parse_wrk(done.stdout)
    result.cpu_s = cpu_seconds(server_pid) - before
    return result
