"""What every handler shares: the catalog, the opener, the settings, JSON errors."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from mediaserve.adapters.server.catalog import Catalog
from mediaserve.adapters.server.safe_open import RootOpener
from mediaserve.adapters.web.http import json_error
from mediaserve.core.config.settings import Settings
from mediaserve.core.stats import StatsCollector

SERVER_NAME = "mediaserve"  # the Server header: no Python or aiohttp version for scanners


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


# json_error: one definition, in web.http
__all__ = ["SERVER_NAME", "STATE", "STATS_EXTRAS", "VIDEO_EXTRAS", "ServerState",
           "json_error"]

STATE = web.AppKey("mediaserve_state", ServerState)
#: ``await extra(request, video, doc)`` for each, adding fields to ``GET /api/videos/{id}``:
#: how a feature wing (playback) adds to the video's JSON without the server importing it
VIDEO_EXTRAS = web.AppKey("mediaserve_video_extras", list)
#: name -> ``snapshot()`` of a feature's own statistics, shown under that name in /api/stats
#: and turned into metrics by /metrics (playback: live conversions, queue, cache)
STATS_EXTRAS = web.AppKey("mediaserve_stats_extras", dict)
