"""Start the folder watcher as a child process of ``serve --watch``.

The watcher probes files with PyAV; the serving process stays lean (no ``av`` import, no
FFmpeg in the address space that answers range requests, no GIL contention from probing).
The child is ``mediaserve scan --watch``: it writes the index under the writer lock, and the
server follows the index file like any other change. It exits with the server: on SIGTERM
from :func:`stop_watcher`, or by itself when its parent is gone (``--parent-pid``).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def start_watcher(root: Path, index_path: Path, settle: float | None = None,
                  ) -> subprocess.Popen[bytes]:
    """``python -m mediaserve scan --watch ROOT --index INDEX``; its stderr is ours (its
    log lines appear with the server's), its summary table is discarded."""
    command = [sys.executable, "-m", "mediaserve", "scan", "--watch", str(root),
               "--index", str(index_path), "--parent-pid", str(os.getpid())]
    if settle is not None:
        command += ["--settle", str(settle)]
    return subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)


def stop_watcher(child: subprocess.Popen[bytes], timeout: float = 5.0) -> None:
    """SIGTERM, wait, and SIGKILL if it does not go."""
    if child.poll() is None:
        child.terminate()
        try:
            child.wait(timeout)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
