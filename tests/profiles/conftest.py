"""Fixtures for the profile tests: a store file, and a real server on a loopback port with
independent HTTP clients (each its own cookie jar: a browser, a phone, a hostile page)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from mediaserve.adapters.profiles.store import StateStore
from mediaserve.adapters.server import create_app
from mediaserve.core.config.settings import Settings
from tests.server.conftest import Lib, blob, make_library

FILES = {"Show/Season 1/Show S01E01.mp4": 1, "Show/Season 1/Show S01E02.mp4": 2,
         "Show/Season 1/Show S01E03.mp4": 3, "Film (2017).mp4": 4, "Clip.mp4": 5}


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "state.db"


@pytest.fixture
def store(db_path: Path) -> Iterator[StateStore]:
    opened = StateStore.open(db_path)
    yield opened
    opened.close()


@pytest.fixture(scope="session")
def profile_library(tmp_path_factory: pytest.TempPathFactory) -> Lib:
    return make_library(tmp_path_factory.mktemp("profiles") / "lib",
                        {name: blob(4096, seed) for name, seed in FILES.items()})


class Client:
    """One independent HTTP client (its own cookies) of the server under test."""

    def __init__(self, base: str, session: aiohttp.ClientSession) -> None:
        self.base = base
        self.session = session

    async def call(self, method: str, path: str, allow_5xx: bool = False,
                   **kwargs: Any) -> tuple[int, Any]:
        """(status, JSON body or text); a 5xx fails the test unless ``allow_5xx``."""
        async with self.session.request(method, self.base + path, **kwargs) as response:
            text = await response.text()
            assert allow_5xx or response.status < 500, (method, path, response.status, text)
            if response.content_type == "application/json" and text:
                return response.status, json.loads(text)
            return response.status, text

    async def ok(self, method: str, path: str, **kwargs: Any) -> Any:
        status, body = await self.call(method, path, **kwargs)
        assert status in (200, 201, 204), (method, path, status, body)
        return body

    def cookie(self, name: str) -> str | None:
        for morsel in self.session.cookie_jar:
            if morsel.key == name:
                return morsel.value
        return None


Server = Callable[..., Awaitable[Callable[[], Awaitable[Client]]]]


@pytest.fixture
async def served(aiohttp_server: Any, profile_library: Lib,
                 tmp_path: Path) -> AsyncIterator[Server]:
    """``clients = await served(**settings)``; ``client = await clients()`` gives a new
    independent client of that server (state in ``tmp_path/state.db``)."""
    sessions: list[aiohttp.ClientSession] = []

    async def start(**settings: Any) -> Callable[[], Awaitable[Client]]:
        settings.setdefault("state_db", str(tmp_path / "state.db"))
        app = create_app(profile_library.index, profile_library.root, Settings(**settings))
        server = await aiohttp_server(app)
        base = str(server.make_url("")).rstrip("/")

        async def client(**session_args: Any) -> Client:
            session = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True),
                                            **session_args)
            sessions.append(session)
            return Client(base, session)

        return client

    yield start
    for session in sessions:
        await session.close()
