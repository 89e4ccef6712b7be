"""A profile's bandwidth limit, enforced by the server on that profile's streams (after a
first burst, as nginx's limit_rate_after and limit_rate), on every way a stream is served.

The time a paced download takes is bounded from below, which no load on the machine can
break; how close the rate comes to the limit is measured by benchmarks/rate_bench.py."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from mediaserve.adapters.profiles.store import StateStore
from mediaserve.core.http.pacing import burst_for
from mediaserve.core.profiles.cookie import COOKIE_NAME, sign
from tests.server.conftest import MIB, Lib, blob

RATE = 2 * MIB
SIZE = 6 * MIB


def _limited_profile(db: Path) -> str:
    store = StateStore.open(db)
    try:
        profile = store.create("Slow")
        store.set_preferences(profile.id, {"bandwidth_limit": RATE})
        return sign(store.secret, profile.id, None)
    finally:
        store.close()


async def _download(served: Any, url: str, cookie: str | None) -> tuple[bytes, float]:
    headers = {"Cookie": f"{COOKIE_NAME}={cookie}"} if cookie else {}
    started = time.monotonic()
    answer = await served.fetch("GET", url, headers)
    return answer.body, time.monotonic() - started


async def test_a_limited_profile_streams_at_its_rate_after_the_burst(
        serve: Any, tmp_path: Path, library_maker: Any) -> None:
    lib: Lib = library_maker(tmp_path / "lib", {"film.mp4": blob(SIZE, seed=41)})
    db = tmp_path / "state.db"
    cookie = _limited_profile(db)
    served = await serve(lib, state_db=str(db))
    state = served.running.site.state  # type: ignore[union-attr]
    for _ in range(200):  # the site reads the limits at start, in a moment
        if state.limits:
            break
        await asyncio.sleep(0.02)
    assert state.limits.by_profile
    url = lib.stream("film.mp4")
    body, took = await _download(served, url, cookie)
    assert body == lib.data["film.mp4"]
    assert took >= 0.9 * (SIZE - burst_for(RATE)) / RATE  # 1 s at least: the rate held
    other, _ = await _download(served, url, None)  # anyone else: not limited
    assert other == body
