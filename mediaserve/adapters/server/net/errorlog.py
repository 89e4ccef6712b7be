"""Event-loop errors as one line per kind: a flood of identical failures (EMFILE on every
accept) must not become a flood of tracebacks."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from mediaserve.core.http import auth
from mediaserve.core.text.controls import visible

#: at most one log line per kind of repeated error in this many seconds
LOG_INTERVAL = 10.0

class VisibleText(logging.Filter):
    """Every message as one line that a terminal shows as it is: file names and request data
    in it may hold ESC sequences, a CR or LF (a forged line) or bidi overrides; they are
    written as escapes (core/text/controls.py). A traceback, if any, is left as it is."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = visible(message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        return True


class RateLimitedLog:
    """At most one line per ``key`` and ``interval``; what was held back is counted into the
    next line. A flood of identical errors (EMFILE on every accept) becomes one line."""

    def __init__(self, logger: logging.Logger, interval: float = LOG_INTERVAL) -> None:
        self.logger = logger
        self.interval = interval
        self._last: dict[str, float] = {}
        self._held: dict[str, int] = {}

    def __call__(self, level: int, key: str, message: str,
                 exc_info: BaseException | None = None) -> bool:
        now = time.monotonic()
        last = self._last.get(key)
        if last is not None and now - last < self.interval:
            self._held[key] = self._held.get(key, 0) + 1
            return False
        if len(self._last) > 1000:  # bounded, whatever the keys
            self._last.clear()
            self._held.clear()
        self._last[key] = now
        held = self._held.pop(key, 0)
        if held:
            message += f" ({held} more like it in the last {self.interval:g} s)"
        self.logger.log(level, "%s", message, exc_info=exc_info)
        return True


def make_exception_handler(limited: RateLimitedLog) -> Any:
    """An event-loop exception handler logging one line per kind of error per interval.

    asyncio's default handler writes a traceback for every failed ``accept()``; at the
    descriptor limit that is ~1,000 tracebacks per wake-up (55 MB of stderr in 20 s). An
    OSError is the system saying no, so one line; anything else is a bug, so its first
    occurrence keeps the traceback."""

    seen: set[str] = set()

    def handle(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        message = str(context.get("message") or "event loop error")
        exc = context.get("exception")
        if isinstance(exc, OSError):
            key = f"{message}|{type(exc).__name__}|{exc.errno}"
            limited(logging.ERROR, key, f"{message}: {type(exc).__name__}: {exc}")
        elif isinstance(exc, BaseException):
            key = f"{message}|{type(exc).__name__}"
            first = key not in seen
            seen.add(key)
            limited(logging.ERROR, key, f"{message}: {type(exc).__name__}: {exc}",
                    exc_info=exc if first else None)
        else:
            limited(logging.ERROR, message, message)

    return handle


class RedactTokens(logging.Filter):
    """Replaces ``token=...`` in every log line that passes (access log, errors)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = auth.redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        return True


class _OneLineErrors(logging.Filter):
    """aiohttp logs a malformed request from a client with a full traceback at ERROR level;
    it is the client's mistake and already answered 400, so one line is enough."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            record.msg = f"{record.getMessage()}: {type(exc).__name__}: {exc}"
            record.args = ()
            record.exc_info = None
            record.exc_text = None
        return True


def configure_logging() -> None:
    """Warnings and errors of the server on stderr, one line each."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("mediaserve: %(levelname)s: %(message)s"))
    handler.addFilter(RedactTokens())  # a bad request's line may carry ?token=
    handler.addFilter(VisibleText())  # and file names may carry ESC sequences
    for name in ("mediaserve", "aiohttp.server", "aiohttp.web"):
        logger = logging.getLogger(name)
        if not logger.handlers:
            logger.addHandler(handler)
        logger.setLevel(logging.WARNING)
        logger.propagate = False
    logging.getLogger("aiohttp.server").addFilter(_OneLineErrors())
