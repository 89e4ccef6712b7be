"""What lives as long as the process stays out of the cyclic collector's sight.

``serve`` freezes its start-up heap (``gc.freeze``); aiohttp and the web application are
built later, on the first request that needs them. Unfrozen, they made every full collection
under load scan them: a 42-67 ms pause of the event loop with 1,000 slow streams.
"""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import Callable
from pathlib import Path

import pytest

from mediaserve.adapters.server.runner import start_server
from mediaserve.adapters.server.site.site import Site
from mediaserve.core.config.settings import Settings
from tests.server.conftest import Lib, blob


@pytest.fixture
def lib(tmp_path: Path, library_maker: Callable[[Path, dict], Lib]) -> Lib:
    return library_maker(tmp_path / "lib", {"a.mp4": blob(4096, seed=3)})


async def _api_request(port: int) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /api/videos HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
    answer = await asyncio.wait_for(reader.read(), 30)
    writer.close()
    return answer


def _tracked(obj: object) -> bool:
    """Whether the collector still scans ``obj`` (frozen objects are not listed)."""
    return any(other is obj for other in gc.get_objects())


@pytest.mark.parametrize("frozen_at_start", [True, False])
async def test_the_web_side_built_on_first_need_joins_a_frozen_heap(
        lib: Lib, frozen_at_start: bool) -> None:
    settings = Settings(host="127.0.0.1", port=0, access_log="off")
    gc.unfreeze()
    running = await start_server(Site(lib.index, lib.root, settings), settings)
    try:
        if frozen_at_start:
            gc.freeze()  # what run_until_signalled does once the server listens
        assert running.app_runner == []  # nothing of aiohttp's side yet
        answer = await _api_request(running.port)
        assert answer.startswith(b"HTTP/1.1 200 "), answer[:80]
        app = running.app_runner[0].app
        # frozen with the process's start-up heap; a process that froze nothing (a test,
        # an embedding) keeps its own collector's view
        assert _tracked(app) is not frozen_at_start
    finally:
        gc.unfreeze()
        await running.stop()


def test_a_serving_process_freezes_its_heap_and_looks_at_the_oldest_generation_rarely(
        ) -> None:
    from mediaserve.adapters.server.runner import (
        FULL_COLLECTION_EVERY,
        GENERATIONAL,
        YOUNG_PASSES,
        quiet_collector,
    )

    original = gc.get_threshold()
    gc.set_threshold(700, 10, 10)  # CPython's defaults
    before = gc.get_threshold()
    gc.unfreeze()
    try:
        quiet_collector()
        assert gc.get_freeze_count() > 0
        first, young, full = gc.get_threshold()
        if not GENERATIONAL:  # 3.14's incremental collector: its own settings stay
            assert (first, young, full) == before
            return
        assert (first, young, full) == (before[0], YOUNG_PASSES, FULL_COLLECTION_EVERY)
        # gen1 passes more often than CPython's default, so each is short (a W5 stall) ...
        assert young < before[1]
        # ... and a full pass, counted in gen0 passes, ten times rarer than the default
        assert young * full >= 10 * before[1] * before[2]
    finally:
        gc.unfreeze()
        gc.set_threshold(*original)


class _Node:
    partner: _Node


async def test_garbage_waiting_for_a_full_pass_is_not_frozen_with_the_web_side(
        lib: Lib) -> None:
    """Found by review: the freeze at the first page request also froze cyclic garbage that
    sat in the old generation waiting for a full pass (rarer now), so it was never freed."""
    settings = Settings(host="127.0.0.1", port=0, access_log="off")
    gc.unfreeze()
    running = await start_server(Site(lib.index, lib.root, settings), settings)
    try:
        gc.freeze()  # what run_until_signalled does once the server listens
        first, second = _Node(), _Node()
        first.partner, second.partner = second, first
        alive = weakref.ref(first)
        gc.collect(1)
        gc.collect(1)  # it lived a while (a session, a stream): now in the old generation
        del first, second  # garbage, waiting for the next full pass
        answer = await _api_request(running.port)  # builds aiohttp's side, and freezes it
        assert answer.startswith(b"HTTP/1.1 200 "), answer[:80]
        gc.collect()
        assert alive() is None
    finally:
        gc.unfreeze()
        await running.stop()
