"""The fast path's tests run on both event loops: ``serve`` runs on uvloop, and the two
schedule a new connection's first bytes differently (on uvloop they can arrive before
aiohttp's handler task has started)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any

import pytest
import uvloop


def pytest_asyncio_loop_factories(config: pytest.Config, item: pytest.Item
                                  ) -> Mapping[str, Callable[[], asyncio.AbstractEventLoop]]:
    factories: dict[str, Any] = {"asyncio": asyncio.new_event_loop,
                                 "uvloop": uvloop.new_event_loop}
    return factories
