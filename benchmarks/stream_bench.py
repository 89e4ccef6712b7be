"""Stream throughput against nginx on the same machine, in the same run.

Serves one file with nginx, with mediaserve and (as a reference) with aiohttp's own
``web.FileResponse``, then drives each with ``wrk``:

* seeks: random 64 KiB closed ranges (what a player's first read after a seek looks like),
  reported as requests/s and as a ratio to nginx;
* bulk: whole-file GETs, reported as MiB/s and as a ratio to nginx.

Shared machines are noisy, so only the ratios mean much. Needs ``nginx`` and ``wrk``
(Debian packages). Everything runs on 127.0.0.1 and stops by itself.

    python benchmarks/stream_bench.py [--size-mib 256] [--seconds 5] [--connections 16]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

LUA_RANGES = """
math.randomseed(%(seed)d)
local size = %(size)d
local span = %(span)d
request = function()
  local first = math.random(0, size - span)
  return wrk.format(nil, nil, {["Range"] = "bytes=" .. first .. "-" .. (first + span - 1)})
end
"""

NGINX_CONF = """
worker_processes 1;
daemon off;
pid %(dir)s/nginx.pid;
error_log %(dir)s/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  tcp_nodelay on;
  keepalive_requests 100000;
  types { video/mp4 mp4; }
  server {
    listen 127.0.0.1:%(port)d;
    root %(root)s;
  }
}
"""

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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listening on {port}")


@contextlib.contextmanager
def running(cmd: list[str], port: int, env: dict[str, str] | None = None) -> Iterator[None]:
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env={**os.environ, **(env or {})})
    try:
        wait_port(port)
        yield
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


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
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"

    with tempfile.TemporaryDirectory(prefix="mediaserve-bench-") as tmp:
        work = Path(tmp)
        work.chmod(0o755)  # nginx workers run as www-data: they must reach the file
        media = work / "media"
        media.mkdir()
        video = media / "video.mp4"
        size = args.size_mib * 1024 * 1024
        with open(video, "wb") as handle:  # random bytes: nothing compresses or caches oddly
            block = os.urandom(1024 * 1024)
            for _ in range(args.size_mib):
                handle.write(block)
        script = work / "ranges.lua"
        script.write_text(LUA_RANGES % {"seed": 7, "size": size, "span": args.span})

        subprocess.run([sys.executable, "-m", "mediaserve", "scan", str(media), "--json"],
                       check=True, capture_output=True)
        from mediaserve.core.ids import video_id

        vid = video_id("video.mp4")
        servers: dict[str, tuple[list[str], int, str]] = {}
        port = free_port()
        conf = work / "nginx.conf"
        conf.write_text(NGINX_CONF % {"dir": work, "port": port, "root": media})
        servers["nginx"] = ([nginx, "-c", str(conf), "-p", str(work)], port,
                            f"http://127.0.0.1:{port}/video.mp4")
        port = free_port()
        servers["mediaserve"] = (
            [sys.executable, "-m", "mediaserve", "serve", str(media), "--port", str(port),
             "--access-log", "off"], port, f"http://127.0.0.1:{port}/api/videos/{vid}/stream")
        if not args.skip_aiohttp:
            port = free_port()
            helper = work / "fileresponse.py"
            helper.write_text(AIOHTTP_FILERESPONSE)
            servers["aiohttp FileResponse"] = (
                [sys.executable, str(helper), str(video), str(port)], port,
                f"http://127.0.0.1:{port}/video.mp4")

        results: dict[str, dict[str, dict[str, float]]] = {}
        for name, (cmd, port, url) in servers.items():
            with running(cmd, port):
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
