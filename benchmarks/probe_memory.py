"""Peak memory of ``mediaserve probe`` against servers that send more than anyone asked for.

    python benchmarks/probe_memory.py                  # every scenario, cap 64 MiB
    python benchmarks/probe_memory.py --max-body 16MiB --json

Two loopback servers run in this process (threads): ``endless`` answers every GET with 200
and a body that never ends (no Content-Length, closed by the probe); ``ignores-range``
answers every GET with 200 and the whole ``--file-size`` representation. For each scenario
the probe runs as a child process that resets its peak RSS after importing everything
(``/proc/self/clear_refs``) and reports how far the peak (VmHWM) rose during the run: what
the run itself cost, without the interpreter. Issue 13 item 6 reported 637 MB for the
first scenario with the default cap.
"""

from __future__ import annotations

import argparse
import http.server
import json
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

MiB = 1024 * 1024

# The child resets its peak RSS once everything the probe uses is imported (writing 5 to
# /proc/self/clear_refs sets VmHWM to the current RSS), runs the command, and reports how far
# the peak rose above that: what the run itself needed, without the interpreter and without
# transient import-time allocations (which ru_maxrss would keep as the peak). Its exit
# status is the command's. tests/probe/test_memory.py measures with it too.
_CHILD = """
import sys
import aiohttp, rich.table  # noqa: F401
from mediaserve.cli import main

def kib(field):
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith(field))

with open("/proc/self/clear_refs", "w") as refs:
    refs.write("5")
before = kib("VmRSS:")
try:
    main(sys.argv[1:])
finally:
    print(f"interpreter-kib {before} growth-kib {kib('VmHWM:') - before}", file=sys.stderr)
"""


def run_measured(args: list[str], timeout: float = 600,
                 ) -> tuple[subprocess.CompletedProcess[str], int, int]:
    """``mediaserve ARGS`` in a measuring child: the run, the RSS its interpreter and
    imports held, and how far its peak rose above that (bytes)."""
    done = subprocess.run([sys.executable, "-c", _CHILD, *args], capture_output=True,
                          text=True, timeout=timeout, check=False)
    words = done.stderr.rsplit("interpreter-kib", 1)[-1].split()
    return done, int(words[0]) * 1024, int(words[2]) * 1024


def _server(mode: str, size: int) -> str:
    """Start a threaded server in ``mode``; its URL."""
    pattern = bytes(range(256)) * 256  # 64 KiB

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_HEAD(self) -> None:
            self._answer(body=False)

        def do_GET(self) -> None:
            self._answer(body=True)

        def _answer(self, body: bool) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "video/mp4")
            self.send_header("ETag", '"e"')
            if mode == "endless":
                self.send_header("Connection", "close")
                self.close_connection = True
            else:
                self.send_header("Content-Length", str(size))
            self.end_headers()
            if not body:
                return
            sent = 0
            try:
                while mode == "endless" or sent < size:
                    piece = pattern[:size - sent] if mode != "endless" else pattern
                    self.wfile.write(piece)
                    sent += len(piece)
            except OSError:  # the probe hung up (endless: what it must do)
                self.close_connection = True

    class Server(http.server.ThreadingHTTPServer):
        def handle_error(self, request: object, client_address: object) -> None:
            if not isinstance(sys.exc_info()[1], ConnectionError):  # the probe hung up
                super().handle_error(request, client_address)  # type: ignore[arg-type]

    server = Server(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}/clip.mp4"


def _measure(args: list[str]) -> tuple[float, float]:
    """``(interpreter MiB, growth MiB)`` of one probe run in a child process."""
    _done, before, growth = run_measured(["probe", *args, "--json"])
    return before / MiB, growth / MiB


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--max-body", default="64MiB", help="the probe's --max-body")
    parser.add_argument("--file-size", type=int, default=48, help="MiB, ignores-range server")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    size = args.file_size * MiB
    endless, whole = _server("endless", 0), _server("ignores-range", size)
    ranges = ["--range", "0-0", "--range", "5-9", "--range", "100-"]
    with tempfile.TemporaryDirectory() as folder:
        copy = Path(folder) / "copy.mp4"
        copy.write_bytes((bytes(range(256)) * 256) * (size // (256 * 256)))
        scenarios = {
            "endless 200, HEAD + 1-byte range": [endless],
            "endless 200, three --range": [endless, *ranges],
            "ignores Range, three --range --verify": [whole, *ranges, "--verify", str(copy)],
            "ignores Range, --check": [whole, "--check"],
            "ignores Range, --check --verify": [whole, "--check", "--verify", str(copy)],
        }
        rows = []
        for name, probe_args in scenarios.items():
            interpreter, growth = _measure([*probe_args, "--max-body", args.max_body])
            rows.append({"scenario": name, "interpreter_mib": round(interpreter, 1),
                         "growth_mib": round(growth, 1)})
    if args.json:
        print(json.dumps({"max_body": args.max_body, "file_mib": args.file_size, "runs": rows},
                         indent=2))
        return
    print(f"--max-body {args.max_body}, ignores-range file {args.file_size} MiB; peak RSS "
          "growth over the interpreter and its imports:")
    for row in rows:
        print(f"  {row['scenario']:<40} +{row['growth_mib']:>7.1f} MiB "
              f"(interpreter {row['interpreter_mib']:.0f} MiB)")


if __name__ == "__main__":
    main()
