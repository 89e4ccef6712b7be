"""The probe's memory is bounded by ``--max-body`` in total, however many requests it makes.

Issue 13 item 6: against a server answering 200 with an endless body, every exchange kept
its own copy of up to ``--max-body`` bytes (plus a second copy made when the exchange was
built), so three ``--range`` options cost about eleven times the cap. Each answer is now
judged as soon as it is read and its content let go.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Callable

from mediaserve.adapters.probe.runner import KEPT_BODY_BYTES, Target, run_probe
from mediaserve.core.probe.content_range import ByteRangeSpec
from tests.probe.conftest import Handler, Script

MiB = 1024 * 1024
ENDLESS_LIMIT = 512 * MiB  # "endless": far beyond any cap here, yet the thread ends


def _endless_200(handler: Handler) -> None:
    """200 with a close-delimited body that goes on until the probe hangs up."""
    handler.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: video/mp4\r\nConnection: close\r\n\r\n")
    handler.close_connection = True
    if handler.command == "HEAD":
        return
    chunk = b"e" * 65536
    for _ in range(ENDLESS_LIMIT // len(chunk)):
        handler.wfile.write(chunk)  # OSError once the probe hangs up (the fixture catches it)


# The child measures its own peak RSS after importing everything the probe uses, and again
# after the run: the difference is what the run itself needed, without the interpreter.
_MEASURE = """
import resource, sys
import aiohttp, rich.table  # noqa: F401
from mediaserve.cli import main
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    main(sys.argv[1:])
finally:
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"peak-growth-kib {after - before}", file=sys.stderr)
"""


def test_three_ranges_against_an_endless_body_stay_within_the_cap(
        scripted: Callable[[Script], str]) -> None:
    # before the fix: +34 to +45 MiB of peak RSS for a 4 MiB cap (each of the three exchanges kept
    # its content twice over); after: +4.5 MiB, the one answer being read
    cap = 4 * MiB
    url = scripted(_endless_200)
    done = subprocess.run(
        [sys.executable, "-c", _MEASURE, "probe", url, "--max-body", str(cap), "--json",
         "--range", "0-0", "--range", "5-9", "--range", "100-"],
        capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 1, done.stderr  # 200 to a range: no range support
    growth = int(done.stderr.split("peak-growth-kib")[-1].split()[0]) * 1024
    assert growth < 2 * cap, f"peak RSS grew by {growth / MiB:.1f} MiB for a {cap // MiB} MiB cap"
    exchanges = json.loads(done.stdout)["exchanges"]
    assert [e["received"] for e in exchanges] == [cap] * 3  # each read up to the cap
    assert {e["end"] for e in exchanges} == {"capped"}


def test_judged_bodies_are_let_go_but_counted(
        scripted: Callable[[Script], str]) -> None:
    cap = 1 * MiB
    outcome = asyncio.run(run_probe(Target(scripted(_endless_200), max_body=cap),
                                    [(ByteRangeSpec(0, 0),), (ByteRangeSpec(5, 9),)]))
    assert [step.exchange.received for step in outcome.steps] == [cap, cap]
    kept = sum(len(step.exchange.body) for step in outcome.steps)
    assert kept <= KEPT_BODY_BYTES
    assert outcome.ranges_supported is False and outcome.failed
