"""Access log in the combined log format (what every log analyser reads).

aiohttp's own ``%b`` counts what went through its writer, which misses every byte we send
with ``sendfile``; the stream handler records the bytes it really sent on the request, and
this logger prefers that number.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Any

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

from mediaserve.core.http.auth import redact

SENT_KEY = web.RequestKey("mediaserve_bytes_sent", int)


def _quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace(
        "\r", "\\r")


class CombinedLogger(AbstractAccessLogger):
    """``host - - [time] "request" status bytes "referer" "user-agent"``."""

    def log(self, request: Any, response: Any, duration: float) -> None:
        sent = request.get(SENT_KEY) if hasattr(request, "get") else None
        if sent is None:  # not a stream: aiohttp wrote it (its body_length counts headers)
            body = getattr(response, "body", None)
            sent = len(body) if isinstance(body, bytes) and request.method != "HEAD" else 0
        now = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime())
        line = (
            f'{request.remote or "-"} - - [{now}] '
            f'"{_quote(request.method)} {_quote(request.raw_path)} '
            f'HTTP/{request.version.major}.{request.version.minor}" '
            f'{response.status} {sent if sent else "-"} '
            f'"{_quote(request.headers.get("Referer", "-"))}" '
            f'"{_quote(request.headers.get("User-Agent", "-"))}"'
        )
        self.logger.info(redact(line))  # ?token= (in the path or a Referer) never logged


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
