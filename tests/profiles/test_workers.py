"""``mediaserve serve --workers 2``: two processes, one state store. A new connection per
request lets the kernel spread the requests over both workers; what one worker wrote, the
other reads at once, and wrong PINs are counted for both."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import aiohttp
import pytest

from benchmarks.peers import start_mediaserve
from mediaserve.adapters.library.store import save_index
from mediaserve.core.profiles.pin import FREE_TRIES
from tests.server.conftest import Lib, blob, make_library
from tests.server.test_workers import children, wait_for

LANES = 5
REPORTS = 30


@pytest.fixture
def folder(tmp_path: Path) -> Lib:
    lib = make_library(tmp_path / "lib", {f"v{n}.mp4": blob(4096, n) for n in range(LANES)})
    save_index(lib.root / ".mediaserve-index.toml", lib.index)
    return lib


def holds(pid: int, path: Path) -> bool:
    target = os.path.realpath(path)
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}") == target:
                return True
        except OSError:
            continue
    return False


async def device(base: str) -> aiohttp.ClientSession:
    """A client whose every request opens a new connection (spread over the workers)."""
    return aiohttp.ClientSession(base, cookie_jar=aiohttp.CookieJar(unsafe=True),
                                 connector=aiohttp.TCPConnector(force_close=True))


async def scenario(base: str, ids: list[str]) -> tuple[int, dict]:
    laptop, phone = await device(base), await device(base)
    try:
        async with laptop.post("/api/profiles", json={"name": "Alice", "pin": "2468"}) as r:
            pid = (await r.json())["profile"]["id"]
        for session in (laptop, phone):
            async with session.post(f"/api/profiles/{pid}/select", json={"pin": "2468"}) as r:
                assert r.status == 200

        async def lane(vid: str) -> None:
            for n in range(REPORTS):
                async with laptop.post(f"/api/me/progress/{vid}", data=f'{{"position": {n}}}',
                                       headers={"Content-Type": "text/plain"}) as r:
                    assert r.status == 200, await r.text()

        await asyncio.gather(*(lane(vid) for vid in ids))
        async with phone.get("/api/me/progress", params={"ids": ",".join(ids)}) as r:
            seen = (await r.json())["progress"]
        statuses = []
        for _ in range(FREE_TRIES + 1):
            async with phone.post(f"/api/profiles/{pid}/select", json={"pin": "0000"}) as r:
                statuses.append(r.status)
        assert statuses == [403] * FREE_TRIES + [429]
        return len(seen), {vid: row["position"] for vid, row in seen.items()}
    finally:
        await laptop.close()
        await phone.close()


def test_two_workers_share_one_store(folder: Lib, tmp_path: Path) -> None:
    data = tmp_path / "data"
    ids = [folder.ids[f"v{n}.mp4"] for n in range(LANES)]
    with start_mediaserve(folder.root, "--workers", "2",
                          env={"MEDIASERVE_DATA_DIR": str(data)}) as peer:
        workers = children(peer.pid)
        assert len(workers) == 2
        count, positions = asyncio.run(scenario(peer.base, ids))
        assert count == LANES and positions == dict.fromkeys(ids, REPORTS - 1)
        # each worker opened the one file: both wrote and read it
        assert wait_for(lambda: all(holds(pid, data / "state.db") for pid in workers))
