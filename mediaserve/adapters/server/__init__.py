"""The server: one connection owner (``net/``), the stream endpoint (``stream/``), the served
library (``site/``), aiohttp's application (``api/``, ``app.py``), statistics over HTTP
(``stats/``), and the process runner and workers.

``create_app`` is imported on first use: importing any part of the server must not import
aiohttp (a process that has only streamed never does).
"""

from __future__ import annotations

from typing import Any

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        try:
            from mediaserve.adapters.server.app import create_app
        except AttributeError as exc:  # else Python reports "cannot import name create_app"
            raise ImportError(f"building the app failed: {exc}") from exc
        return create_app
    raise AttributeError(name)
