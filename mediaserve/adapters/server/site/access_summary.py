"""The access log as a summary line every :data:`SUMMARY_SECONDS` (``access_log = summary``,
and ``auto`` when stderr is a terminal), instead of a line per request.

Why: ``serve``'s start-up line (the URL to open) scrolled away within seconds of opening
the library page, under a line per poster and per range request. A person at a terminal
wants to know that the server works and whether anything failed; a file or a journal wants
every line (``auto`` writes those when stderr is not a terminal). The summary counts what
:class:`AccessLog` would have written, with the same two callers (the stream fast path and
aiohttp's logger), so nothing is missed, and costs a counter per answer.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import time
from typing import IO

from mediaserve.adapters.server.site.access_log import AccessLog, make_access_logger
from mediaserve.core.config.settings import Settings
from mediaserve.core.stats.access_summary import SUMMARY_SECONDS, AccessWindow
from mediaserve.core.text.controls import visible


def resolve_target(target: str, stderr: IO[str] | None = None) -> str:
    """``auto``: ``summary`` when stderr is a terminal, else ``-`` (a line per request)."""
    if target != "auto":
        return target
    stream = stderr if stderr is not None else sys.stderr
    try:
        return "summary" if stream.isatty() else "-"
    except (AttributeError, ValueError):  # a closed or odd stream: the usual log
        return "-"


class SummaryLog(AccessLog):
    """Counts answers; a line on ``stream`` for each window of :data:`SUMMARY_SECONDS` that
    saw any (counted from its first answer), and one for the last window at :meth:`close`."""

    def __init__(self, stream: IO[str] | None = None, seconds: float = SUMMARY_SECONDS,
                 who: str = "") -> None:
        super().__init__(logging.getLogger("mediaserve.access.summary"))
        self.stream = stream if stream is not None else sys.stderr
        self.seconds = seconds
        self.who = who  # "worker 4242: " when there are several processes
        self.url = ""
        self.window = AccessWindow()
        self._opened = time.monotonic()
        self._timer: asyncio.TimerHandle | None = None

    def started(self, url: str) -> None:
        """The server listens at ``url``: each line repeats it (``serve``'s own start-up
        line says once how the log is shown, see :func:`summary_notice`)."""
        self.url = url

    def write(self, remote: str | None, method: str, target: str, version: str, status: int,
              sent: int, referer: str, agent: str) -> None:
        window = self.window
        if not window.requests:
            self._opened = time.monotonic()
            self._schedule()
        window.add(status, sent)

    def emit(self, line: str) -> None:  # nothing is written line by line
        return None

    def _schedule(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop (a thread, a test): summed up at close
            return
        if self._timer is None:
            self._timer = loop.call_later(self.seconds, self._tick)

    def _tick(self) -> None:
        self._timer = None
        self.summarise()

    def summarise(self) -> None:
        """Write the window's line (if it saw any answer) and start a new window."""
        window, self.window = self.window, AccessWindow()
        line = window.line(time.monotonic() - self._opened, time.strftime("%H:%M:%S"),
                           self.url, self.who)
        if line is not None:
            self._print(line)

    def close(self) -> None:
        """The last window's line: shutdown must not lose what it counted."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self.summarise()

    def _print(self, text: str) -> None:
        try:
            self.stream.write(f"mediaserve: {visible(text)}\n")
            self.stream.flush()
        except (OSError, ValueError):  # a closed terminal: nothing to tell
            pass


def summary_notice(url: str, seconds: float = SUMMARY_SECONDS) -> str:
    """What ``serve`` says once at start-up when the access log is summarised."""
    return (f"access log: a summary line every {seconds:g} s while requests come in "
            "(--access-log - for a line per request, or --access-log FILE); live: "
            f"mediaserve stats {url}")


def open_access_log(settings: Settings, stderr: IO[str] | None = None) -> AccessLog | None:
    """The server's access log for ``settings.access_log``: None when off, a
    :class:`SummaryLog` for ``summary`` (and ``auto`` on a terminal), else the line-per-
    request :class:`AccessLog` on stderr (``-``) or a file."""
    target = resolve_target(settings.access_log, stderr)
    if target == "summary":
        who = f"worker {os.getpid()}: " if settings.workers != 1 else ""
        return SummaryLog(stderr, who=who)
    logger = make_access_logger(target)
    return AccessLog(logger) if logger is not None else None

