"""Shows, seasons and episodes through a real server on loopback: ``/api/shows``,
``/api/shows/{id}``, and the parsed fields and episode neighbours on every video's JSON and
in the card listing."""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mediaserve.adapters.library.store import INDEX_NAME, save_index
from mediaserve.adapters.server import create_app
from mediaserve.adapters.server.api import shows as shows_routes
from mediaserve.adapters.server.api.keys import SITE, STATE
from mediaserve.adapters.server.site.catalog import Catalog
from mediaserve.core.config.settings import Settings
from tests.server.conftest import Lib, blob

SEASON1 = "TV/Show/Season 1"
FILES = [
    f"{SEASON1}/Show S01E01 - Pilot.mkv",
    f"{SEASON1}/Show S01E02 - Second.mkv",
    "TV/Show/Season 2/01 - Two One.mkv",
    "TV/Show/Specials/Show S00E01 - Christmas.mkv",
    "TV/Show.S02E02.720p.x264.mkv",
    "[Grp] Anime - 01 [1080p].mkv",
    "Films/Blade Runner 2049 (2017).mkv",
    "Home/Wedding 2018 - Ceremony.mp4",
    "Home/Wedding 2018 - Reception.mp4",
]


@pytest.fixture
def serve_mode() -> str:
    """The shows API is the same on every body path: run it once, on serve's default."""
    return "fast"


@pytest.fixture
def tv_lib(tmp_path: Path, library_maker: Callable[[Path, dict], Lib]) -> Lib:
    return library_maker(tmp_path / "lib", {
        name: blob(2048, seed=n) for n, name in enumerate(FILES)})


async def test_the_shows_list(serve: Any, tv_lib: Lib) -> None:
    served = await serve(tv_lib)
    status, doc = await served.get_json("/api/shows")
    assert status == 200
    assert doc["count"] == 2
    anime, show = doc["shows"]
    assert (anime["name"], anime["folder"], anime["episode_count"]) == ("Anime", "", 1)
    pilot = tv_lib.ids[f"{SEASON1}/Show S01E01 - Pilot.mkv"]
    assert show == {
        "id": show["id"], "name": "Show", "folder": "TV", "season_count": 2,
        "episode_count": 5,
        "seasons": [{"number": 1, "name": "Season 1", "episode_count": 2},
                    {"number": 2, "name": "Season 2", "episode_count": 2},
                    {"number": 0, "name": "Specials", "episode_count": 1}],
        "poster_id": pilot,
        "poster_url": show["poster_url"],
    }
    assert show["poster_url"].startswith(f"/api/videos/{pilot}/poster.jpg?v=")
    assert len(show["id"]) == 12 and show["id"] not in json.dumps(tv_lib.ids)


async def test_a_show_in_order_with_its_neighbours(serve: Any, tv_lib: Lib) -> None:
    served = await serve(tv_lib)
    _, listed = await served.get_json("/api/shows")
    show_id = listed["shows"][1]["id"]
    status, show = await served.get_json(f"/api/shows/{show_id}")
    assert status == 200
    ids = tv_lib.ids
    order = [f"{SEASON1}/Show S01E01 - Pilot.mkv", f"{SEASON1}/Show S01E02 - Second.mkv",
             "TV/Show/Season 2/01 - Two One.mkv", "TV/Show.S02E02.720p.x264.mkv"]
    seasons = [(s["number"], [e["id"] for e in s["episodes"]]) for s in show["seasons"]]
    assert seasons == [(1, [ids[p] for p in order[:2]]), (2, [ids[p] for p in order[2:]]),
                       (0, [ids["TV/Show/Specials/Show S00E01 - Christmas.mkv"]])]
    first = show["seasons"][0]["episodes"][0]
    assert {k: first[k] for k in ("title", "episode", "episode_title", "previous_episode_id",
                                  "next_episode_id", "status")} == {
        "title": "Show S01E01 - Pilot", "episode": 1, "episode_title": "Pilot",
        "previous_episode_id": None, "next_episode_id": ids[order[1]], "status": "error"}
    finale = show["seasons"][0]["episodes"][1]
    assert finale["next_episode_id"] == ids[order[2]]  # across the season
    assert {"duration", "width", "height", "poster_url"} <= set(first)


async def test_every_video_says_what_its_name_says(serve: Any, tv_lib: Lib) -> None:
    served = await serve(tv_lib)
    ids = tv_lib.ids
    finale = ids[f"{SEASON1}/Show S01E02 - Second.mkv"]
    _, doc = await served.get_json(f"/api/videos/{finale}")
    assert {k: doc[k] for k in ("title", "kind", "show", "season", "episode",
                                "episode_title", "year", "previous_episode_id",
                                "next_episode_id")} == {
        "title": "Show S01E02 - Second", "kind": "episode", "show": "Show", "season": 1,
        "episode": 2, "episode_title": "Second", "year": None,
        "previous_episode_id": ids[f"{SEASON1}/Show S01E01 - Pilot.mkv"],
        "next_episode_id": ids["TV/Show/Season 2/01 - Two One.mkv"]}
    _, film = await served.get_json(f"/api/videos/{ids['Films/Blade Runner 2049 (2017).mkv']}")
    assert (film["title"], film["kind"], film["year"], film["show_id"],
            film["next_episode_id"]) == ("Blade Runner 2049 (2017)", "movie", 2017, None, None)
    _, listing = await served.get_json("/api/videos")
    by_id = {video["id"]: video for video in listing["videos"]}
    assert by_id[finale] == {k: v for k, v in doc.items() if k != "playback"}  # per client
    assert by_id[finale]["show_id"] == by_id[ids["TV/Show.S02E02.720p.x264.mkv"]]["show_id"]


async def test_the_card_listing_carries_the_parsed_fields(serve: Any, tv_lib: Lib) -> None:
    served = await serve(tv_lib)
    _, cards = await served.get_json("/api/videos?view=cards")
    rows = [dict(zip(cards["fields"], row, strict=True)) for row in cards["rows"]]
    by_id = {row["id"]: row for row in rows}
    episode = by_id[tv_lib.ids["TV/Show.S02E02.720p.x264.mkv"]]
    assert {k: episode[k] for k in ("title", "kind", "show", "season", "episode",
                                    "episode_title", "year")} == {
        "title": "Show S02E02", "kind": "episode", "show": "Show", "season": 2,
        "episode": 2, "episode_title": None, "year": None}
    assert episode["show_id"]
    titles = [row["title"] for row in rows]
    assert "Wedding 2018 - Ceremony" in titles and "Wedding 2018 - Reception" in titles
    _, paged = await served.get_json("/api/videos?view=cards&limit=2")
    assert paged["fields"] == cards["fields"] and paged["rows"] == cards["rows"][:2]


@pytest.mark.parametrize("path", ["/api/shows", "SHOW"])
async def test_etags_and_304(serve: Any, tv_lib: Lib, path: str) -> None:
    served = await serve(tv_lib)
    if path == "SHOW":
        _, listed = await served.get_json("/api/shows")
        path = f"/api/shows/{listed['shows'][0]['id']}"
    first = await served.fetch("GET", path)
    tag = first.headers["ETag"]
    assert first.status == 200 and tag.startswith('"')
    again = await served.fetch("GET", path, {"If-None-Match": tag})
    assert again.status == 304 and again.body == b""
    head = await served.fetch("HEAD", path)
    assert head.status == 200 and head.headers["ETag"] == tag


@pytest.mark.parametrize("path", ["/api/shows/0123456789ab", "/api/shows/0123456789AB",
                                  "/api/shows/0123", "/api/shows/0123456789ab/x",
                                  "/api/shows/../videos"])
async def test_unknown_or_malformed_show_ids_are_json_404s(serve: Any, tv_lib: Lib,
                                                           path: str) -> None:
    served = await serve(tv_lib)
    status, body = await served.get_json(path)
    assert status == 404 and body["error"]


async def test_an_empty_library_has_no_shows(serve: Any, tmp_path: Path,
                                             library_maker: Callable[[Path, dict], Lib]) -> None:
    served = await serve(library_maker(tmp_path / "lib", {"Home/clip.mp4": blob(1024)}))
    assert await served.get_json("/api/shows") == (200, {"count": 0, "shows": []})


def test_a_rebuilt_catalog_reads_only_the_names_that_changed(tv_lib: Lib) -> None:
    old = Catalog(tv_lib.index, this_year=2025)
    moved_id = tv_lib.ids["Home/Wedding 2018 - Reception.mp4"]
    index = copy.deepcopy(tv_lib.index)
    index.videos[moved_id] = dataclasses.replace(index.videos[moved_id],
                                                 path="Home/Wedding 2018 - Party.mp4")
    new = Catalog(index, this_year=2025, previous=old)
    for vid, video in new.videos.items():
        assert (video.parsed is old.videos[vid].parsed) == (vid != moved_id), video.entry.path
    assert new.videos[moved_id].parsed.title == "Wedding 2018 - Party"
    next_year = Catalog(index, this_year=2026, previous=new)  # the bound on years moved
    assert all(v.parsed is not new.videos[k].parsed for k, v in next_year.videos.items())


async def test_a_reload_brings_new_episodes_into_their_show(aiohttp_client: Any,
                                                            tv_lib: Lib) -> None:
    index_path = tv_lib.root / INDEX_NAME
    save_index(index_path, tv_lib.index)
    app = create_app(tv_lib.index, tv_lib.root, Settings(), index_path=str(index_path))
    client = await aiohttp_client(app)
    first = app[STATE].catalog
    second = tv_lib.ids[f"{SEASON1}/Show S01E02 - Second.mkv"]
    new_name = f"{SEASON1}/Show S01E03 - Third.mkv"
    (tv_lib.root / new_name).write_bytes(blob(2048, seed=99))
    index = copy.deepcopy(tv_lib.index)
    template = index.videos[second]
    new_id = "f" * 12
    index.videos[new_id] = dataclasses.replace(template, id=new_id, path=new_name)
    save_index(index_path, index)
    app[SITE].follower.hangup()  # type: ignore[union-attr]
    for _ in range(200):
        if app[STATE].catalog is not first:
            break
        await asyncio.sleep(0.05)
    catalog = app[STATE].catalog
    assert catalog is not first
    assert catalog.videos[second].parsed is first.videos[second].parsed  # not read again
    doc = await (await client.get(f"/api/videos/{second}")).json()
    assert doc["next_episode_id"] == new_id
    third = await (await client.get(f"/api/videos/{new_id}")).json()
    assert (third["title"], third["previous_episode_id"], third["next_episode_id"]) == (
        "Show S01E03 - Third", second, tv_lib.ids["TV/Show/Season 2/01 - Two One.mkv"])


@pytest.mark.parametrize("inline_max", [0, 10_000])  # in an executor thread, on the loop
async def test_the_shows_list_is_encoded_once_per_catalog_version(
        serve: Any, tv_lib: Lib, monkeypatch: pytest.MonkeyPatch, inline_max: int) -> None:
    encoded: list[int] = []
    real = shows_routes._encode

    def counting(catalog: Catalog) -> tuple[bytes, str]:
        encoded.append(catalog.version)
        return real(catalog)

    monkeypatch.setattr(shows_routes, "_encode", counting)
    monkeypatch.setattr(shows_routes, "INLINE_MAX_VIDEOS", inline_max)
    served = await serve(tv_lib)
    first = await served.fetch("GET", "/api/shows")
    again = await served.fetch("GET", "/api/shows")
    assert first.body == again.body and len(encoded) == 1
    catalog = served.app[STATE].catalog
    catalog.mark_missing(next(iter(catalog.videos.values())))  # a new catalog version
    third = await served.fetch("GET", "/api/shows")
    assert len(encoded) == 2 and third.status == 200
