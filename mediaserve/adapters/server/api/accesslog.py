"""aiohttp's access logger: its answers' lines through the server's :class:`AccessLog`, and
the signal that a delegated answer is complete.

aiohttp calls its access logger once per finished answer, after the last byte is handed to
the transport: the one public hook that says so. ``net/delegate.py`` relies on it: the shim
transport a delegated request runs on learns from :meth:`CombinedLogger.log` that aiohttp is
done, and gives the connection back.

aiohttp's own ``%b`` counts what went through its writer, which misses every byte a stream
sends with ``sendfile``; the stream route records the bytes it really sent on the request
(``SENT_KEY``), and this logger prefers that number.
"""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

from mediaserve.adapters.server.site.access_log import AccessLog, make_access_logger

#: typed request keys came with aiohttp 3.10; on 3.9 (our floor) a plain string key
SENT_KEY: Any = (web.RequestKey("mediaserve_bytes_sent", int) if hasattr(web, "RequestKey")
                 else "mediaserve_bytes_sent")


class CombinedLogger(AbstractAccessLogger):
    """aiohttp's access-log class. ``logger`` is the server's :class:`AccessLog` (shared
    with the fast path, so their lines leave in order) or a ``logging.Logger``; None-like
    (``mediaserve.access.off``) writes nothing but still signals."""

    def __init__(self, logger: Any, log_format: str) -> None:
        super().__init__(logger, log_format)
        self.sink: AccessLog | None = (logger if isinstance(logger, AccessLog) else
                                       None if logger is OFF else AccessLog(logger))

    @property
    def enabled(self) -> bool:
        return True  # always called: the end of a delegated answer is signalled here

    def log(self, request: Any, response: Any, duration: float) -> None:
        try:
            if self.sink is not None:
                sent = request.get(SENT_KEY) if hasattr(request, "get") else None
                if sent is None:  # not a stream: aiohttp wrote it (body_length counts headers)
                    body = getattr(response, "body", None)
                    sent = (len(body) if isinstance(body, bytes) and request.method != "HEAD"
                            else 0)
                headers = request.headers
                self.write(request.remote, request.method, request.raw_path,
                           f"{request.version.major}.{request.version.minor}",
                           response.status, sent, headers.get("Referer", "-"),
                           headers.get("User-Agent", "-"))
        finally:
            done = getattr(request.transport, "response_done", None)
            if done is not None:
                done(bool(response.keep_alive))

    def write(self, remote: str | None, method: str, target: str, version: str, status: int,
              sent: int, referer: str, agent: str) -> None:
        if self.sink is not None:
            self.sink.write(remote, method, target, version, status, sent, referer, agent)


#: the "logger" aiohttp is given when the access log is off: aiohttp calls the access logger
#: only when it has one, and the delegation needs the call
OFF = logging.getLogger("mediaserve.access.off")

__all__ = ["OFF", "SENT_KEY", "AccessLog", "CombinedLogger", "make_access_logger"]
