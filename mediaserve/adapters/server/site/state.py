"""What every part of the server shares: the catalog, the opener, the settings, statistics.

Free of aiohttp on purpose: the connection and the stream fast path use it, and a server
that has only streamed never imports aiohttp (see ``runner.py``).
"""

from __future__ import annotations

import asyncio
import logging
import os
from dataclasses import dataclass, field
from typing import Any, Protocol

from mediaserve.adapters.server.site.catalog import Catalog, Video
from mediaserve.adapters.server.site.open_files import OpenFiles
from mediaserve.adapters.server.site.safe_open import RootOpener
from mediaserve.core.config.settings import Settings
from mediaserve.core.profiles.limits import LimitTable
from mediaserve.core.stats import StatsCollector

SERVER_NAME = "mediaserve"  # the Server header: no Python or aiohttp version for scanners


class CachedSegments(Protocol):
    """The HLS segment cache as the stream fast path sees it (``adapters/playback``
    provides it when its routes are registered): a produced file that can be sent as it
    is, or None (not produced yet, a stale version, anything else): aiohttp's route
    decides then."""

    def lease(self, video: Video, variant: str, name: str, version: str
              ) -> tuple[int, os.stat_result, str] | None:
        """The open file, its ``stat`` and content type; give it back with release."""

    def release(self, fd: int) -> None: ...


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
    #: descriptors of recently streamed videos, kept open (site/open_files.py)
    files: OpenFiles = field(init=False)
    #: the profiles' bandwidth limits (site/limits.py); an empty table without profiles
    limits: LimitTable = field(default_factory=LimitTable)
    #: the HLS segment cache's files, once the playback routes are registered
    segments: CachedSegments | None = None

    def __post_init__(self) -> None:
        self.files = OpenFiles(self.opener)

    @property
    def use_sendfile(self) -> bool:
        return self.settings.sendfile
