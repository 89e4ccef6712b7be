"""What every handler shares: the catalog, the opener, the settings, JSON errors."""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from mediaserve.adapters.server.catalog import Catalog
from mediaserve.adapters.server.safe_open import RootOpener
from mediaserve.core.config.settings import Settings
from mediaserve.core.stats import StatsCollector


@dataclass(slots=True)
class ServerState:
    catalog: Catalog
    opener: RootOpener
    settings: Settings
    index_path: str | None = None
    logger: logging.Logger = field(default_factory=lambda: logging.getLogger("mediaserve"))
    #: tasks writing a stream: shutdown waits for them, then cancels what is left
    inflight: set[asyncio.Task[Any]] = field(default_factory=set)
    #: streaming statistics (core/stats); a DisabledCollector when ``stats = false``
    stats: StatsCollector = field(default_factory=StatsCollector)

    @property
    def use_sendfile(self) -> bool:
        return self.settings.sendfile


STATE = web.AppKey("mediaserve_state", ServerState)


def json_error(status: int, message: str, **extra: Any) -> web.Response:
    """``{"error": message, ...}`` with the given status; what every API failure looks like."""
    return web.Response(status=status, text=json.dumps({"error": message, **extra}),
                        content_type="application/json", charset="utf-8")
