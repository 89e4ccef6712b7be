"""Next up follows the shows model (``catalog.shows``) through the real API: the next
episode of the show across seasons, the second copy of an episode counted as the same
episode, and nothing after a film or a home video (the folder's next file is not a "next
episode")."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from mediaserve.adapters.server import create_app
from mediaserve.core.config.settings import Settings
from tests.profiles.conftest import Client
from tests.server.conftest import Lib, blob, make_library

S1 = [f"Show/Season 1/Show S01E0{n}.mkv" for n in (1, 2, 3)]
S2 = [f"Show/Season 2/Show S02E0{n}.mkv" for n in (1, 2)]
COPY = "Show/Season 1/Show S01E03 - 1080p copy.mkv"  # a second file of S01E03
SPECIAL = "Show/Specials/Show S00E01.mkv"
FILM, FILM_NEXT = "Films/Alien (1979).mkv", "Films/Aliens (1986).mkv"
HOME, HOME_NEXT = "Phone/VID_20230105_1.mp4", "Phone/VID_20230105_2.mp4"
FILES = [*S1, *S2, COPY, SPECIAL, FILM, FILM_NEXT, HOME, HOME_NEXT]


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Lib:
    return make_library(tmp_path_factory.mktemp("next-up") / "lib",
                        {name: blob(2048, seed) for seed, name in enumerate(FILES)})


@pytest.fixture
async def client(aiohttp_server: Any, library: Lib, tmp_path: Path
                 ) -> AsyncIterator[Callable[[], Awaitable[Client]]]:
    app = create_app(library.index, library.root, Settings(state_db=str(tmp_path / "s.db")))
    server = await aiohttp_server(app)
    session = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    alice = Client(str(server.make_url("")).rstrip("/"), session)
    await alice.ok("POST", "/api/profiles", json={"name": "Alice"})  # the only one: chosen
    yield alice
    await session.close()


def ids(library: Lib) -> dict[str, str]:
    return {entry.path: entry.id for entry in library.index.videos.values()}


async def next_up(client: Client, library: Lib) -> list[tuple[str, str]]:
    """(next video, after) as paths."""
    names = {vid: path for path, vid in ids(library).items()}
    home = await client.ok("GET", "/api/me/home")
    return [(names[item["video"]], names[item["after"]]) for item in home["next_up"]]


async def watch(client: Client, library: Lib, path: str) -> None:
    await client.ok("POST", f"/api/me/watched/{ids(library)[path]}")


async def test_next_up_crosses_seasons_and_skips_what_was_watched(client: Client,
                                                                  library: Lib) -> None:
    await watch(client, library, S1[1])  # S01E02
    assert await next_up(client, library) == [(S1[2], S1[1])]  # S01E03
    await watch(client, library, S1[2])  # the season's last episode
    assert await next_up(client, library) == [(S2[0], S1[2])]  # S02E01, not the special
    await watch(client, library, S2[1])  # S02E02 watched out of order: still one row
    assert await next_up(client, library) == [(S2[0], S1[2])]
    await watch(client, library, S2[0])
    assert await next_up(client, library) == []  # the show is done; specials are apart


async def test_an_episode_watched_in_another_copy_is_not_offered(client: Client,
                                                                 library: Lib) -> None:
    await watch(client, library, S1[1])
    await watch(client, library, COPY)  # S01E03, the other file
    assert await next_up(client, library) == [(S2[0], S1[2])]


async def test_a_film_or_a_home_video_offers_nothing(client: Client, library: Lib) -> None:
    for path in (FILM, HOME):
        await watch(client, library, path)
    assert await next_up(client, library) == []
    status, body = await client.call("GET", f"/api/videos/{ids(library)[FILM]}")
    assert status == 200 and body["next_episode_id"] is None
