"""Stream throughput against nginx on the same machine, in the same run.

Serves one file with nginx, with mediaserve and (as a reference) with aiohttp's own
``web.FileResponse``, then drives each with ``wrk``:

* seeks: random 64 KiB closed ranges (what a player's first read after a seek looks like),
  reported as requests/s and as a ratio to nginx;
* bulk: whole-file GETs, reported as MiB/s and as a ratio to nginx.

Shared machines are noisy, so only the ratios mean much. Needs ``nginx`` and ``wrk``
(Debian packages). Everything runs on 127.0.0.1 and stops by itself.

    python -m benchmarks.stream_bench [--size-mib 256] [--seconds 5] [--connections 16]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from contextlib import AbstractContextManager
from functools import partial
from pathlib import Path

from benchmarks.peers import free_port, random_library, run_mediaserve, run_nginx, run_peer

LUA_RANGES = """
math.randomseed(%(seed)d)
local size = %(size)d
local span = %(span)d
request = function()
  local first = math.random(0, size - span)
  return wrk.format(nil, nil, {["Range"] = "bytes=" .. first .. "-" .. (first + span - 1)})
end
"""

#: on top of ``peers.nginx_config``'s defaults: what a tuned static-file nginx would set
NGINX_TUNING = ("tcp_nodelay on;", "keepalive_requests 100000;")

AIOHTTP_FILERESPONSE = """
import sys
from aiohttp import web
path = sys.argv[1]
async def handler(request):
    return web.FileResponse(path)
app = web.Application()
app.router.add_get("/video.mp4", handler)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[2]), access_log=None, print=None)
"""


def run_wrk(url: str, seconds: int, connections: int, script: Path | None) -> dict[str, float]:
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency"]
    if script:
        cmd += ["-s", str(script)]
    out = subprocess.run([*cmd, url], capture_output=True, text=True, timeout=seconds + 30,
                         check=True).stdout
    result: dict[str, float] = {}
    for line in out.splitlines():
        parts = line.split()
        if line.startswith("Requests/sec:"):
            result["rps"] = float(parts[1])
        elif line.startswith("Transfer/sec:"):
            value = parts[1]
            scale = {"GB": 1024.0, "MB": 1.0, "KB": 1 / 1024, "B": 1 / 1024 / 1024}
            for unit, factor in scale.items():
                if value.endswith(unit):
                    result["mib_s"] = float(value[: -len(unit)]) * factor
                    break
        elif parts[:1] == ["50%"]:
            result["p50_ms"] = _ms(parts[1])
        elif parts[:1] == ["99%"]:
            result["p99_ms"] = _ms(parts[1])
        elif "Non-2xx" in line:
            result["non2xx"] = float(parts[-1])
    return result


def _ms(text: str) -> float:
    for unit, factor in (("us", 0.001), ("ms", 1.0), ("s", 1000.0)):
        if text.endswith(unit):
            return float(text[: -len(unit)]) * factor
    return float(text)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=256)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--span", type=int, default=64 * 1024)
    parser.add_argument("--skip-aiohttp", action="store_true")
    args = parser.parse_args()
    for tool in ("wrk", "nginx"):
        if not shutil.which(tool) and not Path(f"/usr/sbin/{tool}").exists():
            print(f"needs {tool} (apt-get install {tool})", file=sys.stderr)
            return 2

    with tempfile.TemporaryDirectory(prefix="mediaserve-bench-") as tmp:
        work = Path(tmp)
        media = work / "media"
        media.mkdir()
        size = args.size_mib * 1024 * 1024
        video, vid = random_library(media, args.size_mib)
        script = work / "ranges.lua"
        script.write_text(LUA_RANGES % {"seed": 7, "size": size, "span": args.span})
        # name -> (start the server: a context manager yielding its base URL, the file's path)
        servers: dict[str, tuple[Callable[[], AbstractContextManager[str]], str]] = {
            "nginx": (partial(run_nginx, media, work, log_level="warn",
                              http_directives=NGINX_TUNING), "/video.mp4"),
            "mediaserve": (partial(run_mediaserve, media), f"/api/videos/{vid}/stream"),
        }
        if not args.skip_aiohttp:
            port = free_port()
            helper = work / "fileresponse.py"
            helper.write_text(AIOHTTP_FILERESPONSE)
            servers["aiohttp FileResponse"] = (
                partial(run_peer, [sys.executable, str(helper), str(video), str(port)], port),
                "/video.mp4")

        results: dict[str, dict[str, dict[str, float]]] = {}
        for name, (start, path) in servers.items():
            with start() as base:
                url = base + path
                run_wrk(url, 1, args.connections, script)  # warm the page cache and the server
                results[name] = {
                    "seeks": run_wrk(url, args.seconds, args.connections, script),
                    "bulk": run_wrk(url, args.seconds, 4, None),
                }

    base = results["nginx"]
    print(f"file {args.size_mib} MiB, {args.seconds} s per run, wrk -t1, "
          f"{args.connections} connections for seeks ({args.span // 1024} KiB ranges), "
          "4 for bulk")
    print(f"{'server':<22}{'seeks req/s':>12}{'x nginx':>9}{'p50 ms':>8}{'p99 ms':>8}"
          f"{'bulk MiB/s':>12}{'x nginx':>9}")
    for name, res in results.items():
        seeks, bulk = res["seeks"], res["bulk"]
        print(f"{name:<22}{seeks.get('rps', 0):>12.0f}"
              f"{seeks.get('rps', 0) / base['seeks']['rps']:>9.2f}"
              f"{seeks.get('p50_ms', 0):>8.2f}{seeks.get('p99_ms', 0):>8.2f}"
              f"{bulk.get('mib_s', 0):>12.0f}"
              f"{bulk.get('mib_s', 0) / base['bulk']['mib_s']:>9.2f}"
              + (f"  non-2xx: {seeks['non2xx']:.0f}" if "non2xx" in seeks else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
