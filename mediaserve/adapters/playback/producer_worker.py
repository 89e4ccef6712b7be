"""``python -m mediaserve.adapters.playback.producer_worker``: one producer, in its own process.

Why a process per producer: FFmpeg decoding a hostile file can hang, crash or eat memory;
here that costs this process only (the server kills it by pid: a per-segment time budget,
or its viewers left), and the server never loads PyAV. At start it lowers its priority
(streams and the page stay responsive while it encodes) and caps its address space
(``RLIMIT_AS``), so a runaway decoder fails here with MemoryError instead of swapping the
machine.

Protocol, JSON lines: stdin's first line is ``{"analyse": [paths]}`` (answer one line, exit)
or ``{"job": {...}}`` (``jobs.Job``); then ``{"allow": N}`` lets it go on to segment N and
``{"stop": true}`` or end of input ends it. Stdout: ``{"segment": n, "bytes", "seconds",
"media_seconds"}`` per segment written, ``{"done": true}`` at the end of the file,
``{"stopped": true}`` when told to stop, ``{"error": "..."}`` when the source cannot be read.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import sys
from typing import Any, TextIO

DEFAULT_MEMORY_LIMIT = 1536 * 1024 * 1024
NICENESS = 10


def _limit(memory: int) -> None:
    with contextlib.suppress(OSError):
        os.nice(NICENESS)
    if memory > 0:
        _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        cap = memory if hard == resource.RLIM_INFINITY else min(memory, hard)
        resource.setrlimit(resource.RLIMIT_AS, (cap, hard))


class _Channel:
    def __init__(self, reader: TextIO, writer: TextIO, allow: int) -> None:
        self.reader, self.writer, self.allow = reader, writer, allow

    def emit(self, doc: dict[str, Any]) -> None:
        self.writer.write(json.dumps(doc) + "\n")
        self.writer.flush()

    def wait(self, number: int) -> bool:
        """Block until segment ``number`` is allowed; False once told to stop."""
        while number > self.allow:
            line = self.reader.readline()
            if not line:
                return False
            doc = json.loads(line)
            if doc.get("stop"):
                return False
            self.allow = max(self.allow, int(doc.get("allow", self.allow)))
        return True


def main() -> int:
    _limit(int(os.environ.get("MEDIASERVE_PRODUCER_MEMORY", DEFAULT_MEMORY_LIMIT)))
    from mediaserve.adapters.playback import keyframes, segmenter  # PyAV: after the limits
    from mediaserve.adapters.playback.jobs import Job

    first = json.loads(sys.stdin.readline() or "{}")
    channel = _Channel(sys.stdin, sys.stdout, 0)
    try:
        if "analyse" in first:
            channel.emit({"analysis": keyframes.analyse(list(first["analyse"]))})
            return 0
        job = Job.from_json(first["job"])
        channel.allow = job.allow
        finished = segmenter.produce(job, channel.emit, channel.wait)
        channel.emit({"done": True} if finished else {"stopped": True})
        return 0
    except MemoryError:
        channel.emit({"error": "out of memory (the producer's address-space limit)"})
    except Exception as exc:  # a file FFmpeg cannot read: one line for the server's log
        channel.emit({"error": f"{type(exc).__name__}: {exc}"[:500]})
    return 1


if __name__ == "__main__":
    sys.exit(main())
