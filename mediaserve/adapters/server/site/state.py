"""What every part of the server shares: the catalog, the opener, the settings, statistics.

Free of aiohttp on purpose: the connection and the stream fast path use it, and a server
that has only streamed never imports aiohttp (see ``runner.py``).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

from mediaserve.adapters.server.site.catalog import Catalog
from mediaserve.adapters.server.site.open_files import OpenFiles
from mediaserve.adapters.server.site.safe_open import RootOpener
from mediaserve.core.config.settings import Settings
from mediaserve.core.profiles.limits import LimitTable
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
    #: descriptors of recently streamed videos, kept open (site/open_files.py)
    files: OpenFiles = field(init=False)
    #: the profiles' bandwidth limits (site/limits.py); an empty table without profiles
    limits: LimitTable = field(default_factory=LimitTable)

    def __post_init__(self) -> None:
        self.files = OpenFiles(self.opener)

    @property
    def use_sendfile(self) -> bool:
        return self.settings.sendfile
