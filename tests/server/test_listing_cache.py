"""``GET /api/videos`` is serialised once per catalog version, compressed when asked, and
revalidated with its ETag; a new catalog (a reloaded library) or a presence change gives a
new listing. Counts and bytes, never times (the timing is benchmarks/listing_lag.py)."""

from __future__ import annotations

import asyncio
import gzip
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mediaserve.adapters.library.scanner import scan
from mediaserve.adapters.server import create_app
from mediaserve.adapters.server.api import listing as listing_http
from mediaserve.adapters.server.api.keys import STATE
from mediaserve.adapters.server.site import listing_cache as listing
from mediaserve.adapters.server.site.catalog import Catalog
from tests.server.conftest import Lib, blob


@pytest.fixture
def lib(tmp_path: Path, library_maker: Callable[[Path, dict], Lib]) -> Lib:
    return library_maker(tmp_path / "lib", {"a.mp4": blob(10_000, seed=41),
                                            "b/c.webm": blob(20_000, seed=42),
                                            "d.mkv": blob(30_000, seed=43)})


async def raw_client(aiohttp_client: Any, lib: Lib) -> tuple[Any, Any]:
    app = create_app(lib.index, lib.root)
    client = await aiohttp_client(app, auto_decompress=False)
    return client, app


async def test_serialised_once_per_version_and_bytes_reused(aiohttp_client: Any,
                                                            lib: Lib) -> None:
    client, app = await raw_client(aiohttp_client, lib)
    bodies = []
    for _ in range(5):
        response = await client.get("/api/videos", headers={"Accept-Encoding": "identity"})
        assert response.status == 200
        assert response.headers["Content-Type"] == "application/json; charset=utf-8"
        bodies.append(await response.read())
    cache = app[STATE].catalog.listing_cache
    assert cache.serialisations == 1
    assert len(set(bodies)) == 1
    doc = json.loads(bodies[0])
    assert doc["count"] == 3
    assert [v["path"] for v in doc["videos"]] == ["a.mp4", "b/c.webm", "d.mkv"]
    assert doc["videos"] == app[STATE].catalog.listing()  # the one producer, unchanged


async def test_etag_and_304(aiohttp_client: Any, lib: Lib) -> None:
    client, app = await raw_client(aiohttp_client, lib)
    first = await client.get("/api/videos", headers={"Accept-Encoding": "identity"})
    etag = first.headers["ETag"]
    assert etag.startswith('"') and first.headers["Cache-Control"] == "no-cache"
    for tag in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        again = await client.get("/api/videos", headers={"If-None-Match": tag})
        assert again.status == 304, tag
        assert await again.read() == b""
    stale = await client.get("/api/videos", headers={"If-None-Match": '"other"'})
    assert stale.status == 200
    head = await client.head("/api/videos", headers={"Accept-Encoding": "identity"})
    assert head.status == 200 and head.headers["ETag"] == etag
    assert app[STATE].catalog.listing_cache.serialisations == 1


async def test_gzip_when_accepted_made_once(aiohttp_client: Any, lib: Lib,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    client, _app = await raw_client(aiohttp_client, lib)
    compressions = []
    real = listing._compress
    monkeypatch.setattr(listing, "_compress",
                        lambda data, coding: compressions.append(coding) or real(data, coding))
    plain = await (await client.get("/api/videos",
                                    headers={"Accept-Encoding": "identity"})).read()
    for accept in ("gzip", "gzip, deflate", "br;q=0, gzip;q=0.5"):
        response = await client.get("/api/videos", headers={"Accept-Encoding": accept})
        assert response.headers["Content-Encoding"] == "gzip", accept
        assert response.headers["Vary"] == "Accept-Encoding"
        body = await response.read()
        assert gzip.decompress(body) == plain
        assert int(response.headers["Content-Length"]) == len(body)
    assert compressions == ["gzip"]
    for accept in ("gzip;q=0", "", "deflate"):
        response = await client.get("/api/videos", headers={"Accept-Encoding": accept})
        assert "Content-Encoding" not in response.headers, accept
        assert await response.read() == plain
    gz = await client.get("/api/videos", headers={"Accept-Encoding": "gzip"})
    identity = await client.get("/api/videos", headers={"Accept-Encoding": "identity"})
    assert gz.headers["ETag"] != identity.headers["ETag"]  # one tag per representation
    again = await client.get("/api/videos", headers={"Accept-Encoding": "gzip",
                                                     "If-None-Match": gz.headers["ETag"]})
    assert again.status == 304


async def test_presence_change_and_catalog_swap_give_a_new_listing(aiohttp_client: Any,
                                                                   lib: Lib) -> None:
    client, app = await raw_client(aiohttp_client, lib)
    first = await client.get("/api/videos", headers={"Accept-Encoding": "identity"})
    etag = first.headers["ETag"]
    (lib.root / "d.mkv").unlink()  # noticed when someone asks for it
    gone = await client.get(f"/api/videos/{lib.ids['d.mkv']}/stream")
    assert gone.status == 404
    changed = await client.get("/api/videos", headers={"If-None-Match": etag,
                                                       "Accept-Encoding": "identity"})
    assert changed.status == 200  # the old ETag no longer matches
    statuses = {v["path"]: v["status"] for v in json.loads(await changed.read())["videos"]}
    assert statuses["d.mkv"] == "missing"
    assert app[STATE].catalog.listing_cache.serialisations == 2

    (lib.root / "e.mp4").write_bytes(blob(5_000, seed=44))  # a reload: a new catalog
    index, _ = scan(lib.root, lib.index, workers=1)
    app[STATE].catalog = Catalog(index)
    swapped = json.loads(await (await client.get(
        "/api/videos", headers={"Accept-Encoding": "identity"})).read())
    assert [v["path"] for v in swapped["videos"]] == ["a.mp4", "b/c.webm", "d.mkv", "e.mp4"]
    assert app[STATE].catalog.listing_cache.serialisations == 1


async def test_large_listing_is_encoded_once_in_a_thread_for_concurrent_clients(
        aiohttp_client: Any, lib: Lib, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(listing, "INLINE_MAX_VIDEOS", 0)  # every library counts as large
    client, app = await raw_client(aiohttp_client, lib)
    catalog = app[STATE].catalog
    threads = []
    real = catalog.listing_cache._produce

    def produce() -> Any:
        import threading

        threads.append(threading.current_thread() is threading.main_thread())
        return real()

    catalog.listing_cache._produce = produce
    responses = await asyncio.gather(*(client.get("/api/videos", headers={
        "Accept-Encoding": "gzip"}) for _ in range(8)))
    bodies = {await r.read() for r in responses}
    assert len(bodies) == 1 and all(r.status == 200 for r in responses)
    assert catalog.listing_cache.serialisations == 1
    assert threads == [False]  # built once, not on the loop's thread


async def test_single_video_has_an_etag(aiohttp_client: Any, lib: Lib) -> None:
    client, _app = await raw_client(aiohttp_client, lib)
    url = f"/api/videos/{lib.ids['a.mp4']}"
    first = await client.get(url)
    assert json.loads(await first.read())["path"] == "a.mp4"
    again = await client.get(url, headers={"If-None-Match": first.headers["ETag"]})
    assert again.status == 304


async def test_a_large_body_written_in_pieces_is_byte_identical(
        aiohttp_client: Any, lib: Lib, monkeypatch: pytest.MonkeyPatch) -> None:
    client, app = await raw_client(aiohttp_client, lib)
    whole = await (await client.get("/api/videos",
                                    headers={"Accept-Encoding": "identity"})).read()
    monkeypatch.setattr(listing_http, "_PIECE", 100)  # every listing now counts as large
    for coding in ("identity", "gzip"):
        response = await client.get("/api/videos", headers={"Accept-Encoding": coding})
        body = await response.read()
        assert int(response.headers["Content-Length"]) == len(body)
        assert (gzip.decompress(body) if coding == "gzip" else body) == whole
        assert response.headers["ETag"] and response.headers["Vary"] == "Accept-Encoding"
    assert app[STATE].catalog.listing_cache.serialisations == 1
