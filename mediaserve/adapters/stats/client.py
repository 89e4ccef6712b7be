"""Fetch ``/api/stats`` from a running server: what ``mediaserve stats`` shows.

aiohttp's client, as ``adapters/probe`` uses it, with every wait bounded and every failure
turned into :class:`StatsUnavailable` with a one-line reason, so the command can print it
(and, in live mode, keep retrying) instead of a traceback.
"""

from __future__ import annotations

import json
import os
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from mediaserve import __version__

DEFAULT_URL = "http://127.0.0.1:8080/"
#: a stats document is a few kB; a multi-megabyte answer is not one
MAX_BODY = 4 * 1024 * 1024


class StatsUnavailable(Exception):
    """No statistics from the server. ``network`` is True when there was no HTTP answer at
    all (refused, reset, timeout), False when the server answered without statistics."""

    def __init__(self, message: str, *, network: bool) -> None:
        super().__init__(" ".join(message.split())[:300])
        self.network = network


def normalise_url(url: str) -> str:
    """``http://host:port/`` from what a user types (``host:port`` alone is accepted).
    Raises ValueError for anything that is not an http(s) URL with a host."""
    text = url.strip()
    if "://" not in text:
        text = "http://" + text
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an http(s) URL: {url!r}")
    try:
        parts.port  # noqa: B018 - validates the port
    except ValueError as exc:
        raise ValueError(f"bad port in {url!r}: {exc}") from None
    path = parts.path.rstrip("/")
    return f"{parts.scheme}://{parts.netloc}{path}/"


def stats_url(base: str, top: int) -> str:
    return f"{base}api/stats?top={top}"


class StatsClient:
    """One keep-alive session for repeated fetches (live mode polls every interval)."""

    def __init__(self, base: str, *, timeout: float = 5.0, token: str | None = None) -> None:
        self.base = base
        self.timeout = timeout
        self.token = token
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> StatsClient:
        headers = {"User-Agent": f"mediaserve-stats/{__version__}",
                   "Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=self.timeout), headers=headers)
        return self

    async def __aexit__(self, *_exc: object) -> None:
        if self._session is not None:
            await self._session.close()

    async def fetch(self, top: int) -> dict[str, Any]:
        """The server's stats snapshot; StatsUnavailable when there is none."""
        assert self._session is not None, "use `async with StatsClient(...)`"
        url = stats_url(self.base, top)
        where = urlsplit(self.base).netloc
        try:
            async with self._session.get(url, allow_redirects=False) as resp:
                body = await resp.content.read(MAX_BODY + 1)
                status = resp.status
        except TimeoutError:
            raise StatsUnavailable(f"no answer from {where} within {self.timeout:g} s",
                                   network=True) from None
        except aiohttp.ClientConnectorError as exc:
            error = exc.os_error
            reason = os.strerror(error.errno) if error.errno else str(error)
            raise StatsUnavailable(f"cannot connect to {where}: {reason} (is `mediaserve "
                                   "serve` running there?)", network=True) from None
        except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError) as exc:
            raise StatsUnavailable(f"{where} closed the connection: {exc}",
                                   network=True) from None
        except aiohttp.ClientError as exc:
            raise StatsUnavailable(f"bad answer from {where}: {type(exc).__name__}: {exc}",
                                   network=True) from None
        return _decode(url, status, body)


def _decode(url: str, status: int, body: bytes) -> dict[str, Any]:
    if len(body) > MAX_BODY:
        raise StatsUnavailable(f"{url}: the answer is larger than {MAX_BODY} bytes",
                               network=False)
    try:
        data: Any = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        data = None
    if status != 200:
        said = data.get("error") if isinstance(data, dict) else None
        hint = said or "not a mediaserve statistics endpoint"
        if status == 401:
            hint += " (give the server's token with --token or MEDIASERVE_AUTH_TOKEN)"
        raise StatsUnavailable(f"{url}: HTTP {status}: {hint}", network=False)
    if not isinstance(data, dict) or not isinstance(data.get("global"), dict) or (
            not isinstance(data.get("videos"), list)):
        raise StatsUnavailable(f"{url}: the answer is not a mediaserve stats document",
                               network=False)
    return data


async def fetch_once(base: str, top: int, timeout: float = 5.0,
                     token: str | None = None) -> dict[str, Any]:
    """One snapshot on a fresh session."""
    async with StatsClient(base, timeout=timeout, token=token) as client:
        return await client.fetch(top)

