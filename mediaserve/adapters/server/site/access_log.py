"""Access log in the combined log format (what every log analyser reads), without aiohttp.

A line per request is on the hot path, so it is kept cheap (the benchmark measures it): the
timestamp is formatted once per second, and when the log goes to a plain stream or file (the
``serve`` case) the lines of one loop iteration are written to the handler's stream directly,
in one write, without a LogRecord and a Formatter per request. Any other logger set-up (tests
capture records) goes through ``logging`` as usual. The stream fast path writes through it
directly; aiohttp's answers reach it through ``accesslog.CombinedLogger``.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from typing import Any

from mediaserve.core.http.auth import redact
from mediaserve.core.text.controls import visible


def _quote(value: str) -> str:
    """A field inside quotes: backslash and quote escaped, and every control or bidi
    character written as an escape (``\\x1b``, ``\\r``, ``\\u202e``) as nginx escapes them:
    a log read on a terminal runs no escape sequence, and a CR or LF forges no line."""
    return visible(value.replace("\\", "\\\\").replace('"', '\\"'))


def _field(value: str) -> str:
    """A field that may carry the token (``?token=`` in the target or a Referer): redacted
    first, then quoted (an escaped tab must not hide a ``token=`` from the redaction)."""
    return _quote(redact(value))


_clock: list[Any] = [-1, ""]  # the second last formatted, and its text


def _now() -> str:
    second = int(time.time())
    if second != _clock[0]:
        _clock[0] = second
        _clock[1] = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(second))
    return str(_clock[1])


_PLAIN = (logging.StreamHandler, logging.FileHandler)


def _direct(logger: logging.Logger) -> logging.StreamHandler[Any] | None:
    """The handler whose stream takes our lines verbatim, if the logger is that simple."""
    handlers = logger.handlers
    if len(handlers) != 1 or logger.filters or not logger.isEnabledFor(logging.INFO):
        return None
    handler = handlers[0]
    if type(handler) not in _PLAIN or handler.filters or getattr(handler, "stream", None) is None:
        return None
    formatter = handler.formatter
    if formatter is None or formatter._fmt != "%(message)s":
        return None
    return handler  # type: ignore[return-value]


class AccessLog:
    """``host - - [time] "request" status bytes "referer" "user-agent"``, one line per answer.

    On the event loop, the lines of one loop iteration leave together: the first schedules
    a flush for the end of the iteration's callbacks, so a burst of 50 answers costs one
    ``write`` instead of 50, and no line waits for a later request (nginx's ``buffer=``
    would hold them up to its ``flush=`` time)."""

    def __init__(self, logger: logging.Logger) -> None:
        self.logger = logger
        self._lines: list[str] = []

    def emit(self, line: str) -> None:
        handler = _direct(self.logger)
        if handler is None:
            self.logger.info(line)
            return
        lines = self._lines
        lines.append(line)
        if len(lines) == 1:
            try:
                asyncio.get_running_loop().call_soon(self.flush, handler)
            except RuntimeError:  # no loop (a test, a thread): at once
                self.flush(handler)

    def flush(self, handler: logging.StreamHandler[Any]) -> None:
        lines, self._lines = self._lines, []
        if not lines:
            return
        with handler.lock or _NO_LOCK:  # one writer at a time, as logging does
            try:
                handler.stream.write("\n".join(lines) + "\n")
                handler.flush()
            except (OSError, ValueError):  # a full disk or a closed stream: as logging would
                for line in lines:
                    handler.handleError(logging.makeLogRecord({"msg": line}))

    def write(self, remote: str | None, method: str, target: str, version: str, status: int,
              sent: int, referer: str, agent: str) -> None:
        """One line from its parts (the stream fast path has no aiohttp request to give)."""
        line = (
            f'{remote or "-"} - - [{_now()}] '
            f'"{_quote(method)} {_field(target)} HTTP/{version}" '
            f'{status} {sent if sent else "-"} "{_field(referer)}" "{_field(agent)}"'
        )
        self.emit(line)  # ?token= (in the target, a Referer, an agent) never logged


class _NoLock:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


_NO_LOCK = _NoLock()


def make_access_logger(target: str) -> logging.Logger | None:
    """A logger writing bare lines to stderr ("-") or to a file; None for "off"."""
    if target == "off":
        return None
    logger = logging.getLogger("mediaserve.access")
    logger.handlers.clear()
    logger.propagate = False
    logger.setLevel(logging.INFO)
    handler: logging.Handler = (logging.StreamHandler(sys.stderr) if target == "-"
                                else logging.FileHandler(target, encoding="utf-8"))
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger.addHandler(handler)
    return logger
