"""A ``--deep`` worker process: ``python -m mediaserve.adapters.audit.deep_worker BUDGET
MAX_PACKETS``.

The protocol, one JSON document a line: the worker prints ``ready`` once PyAV is imported,
then reads paths (JSON strings) on stdin and answers each with its :class:`DeepFacts` (as a
JSON object) on stdout, until stdin closes. :mod:`.deep_pool` starts, feeds, times and, when
a file hangs FFmpeg, kills these processes.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from collections.abc import Iterable
from typing import TextIO

from mediaserve.adapters.audit.deep import deep_demux
from mediaserve.core.audit.model import DeepFacts

READY = "ready"


def serve(lines: Iterable[str], out: TextIO, budget: float, max_packets: int) -> None:
    """Answer every path in ``lines`` with a line of DeepFacts JSON on ``out``."""
    out.write(READY + "\n")
    out.flush()
    for line in lines:
        started = time.monotonic()
        try:
            facts = deep_demux(json.loads(line), budget, max_packets)
        except Exception as exc:  # a bug here must not pass for a corrupt file
            facts = DeepFacts(timed_out=True, error=f"deep check failed: {exc!r}",
                              elapsed=time.monotonic() - started)
        out.write(json.dumps(dataclasses.asdict(facts)) + "\n")
        out.flush()


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    budget, max_packets = float(args[0]), int(args[1])
    serve(sys.stdin, sys.stdout, budget, max_packets)


if __name__ == "__main__":
    main()
