"""A request waiting for a segment ends when its client goes away (a player that seeks
aborts the request by closing the connection), so its producer no longer counts as wanted
and a viewer's new position can take its converter."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from aiohttp import web

from mediaserve.adapters.playback.routes import _while_connected

Handler = Callable[[web.Request], Awaitable[web.Response]]


@asynccontextmanager
async def serving(handler: Handler) -> AsyncIterator[tuple[str, int]]:
    """A runner as mediaserve's own: aiohttp does NOT cancel a handler whose client left
    (handler_cancellation is off by default, unlike in aiohttp's test server)."""
    app = web.Application()
    app.router.add_get("/", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        host, port = runner.addresses[0][:2]
        yield host, port
    finally:
        await runner.cleanup()


async def test_the_wait_is_cancelled_when_the_client_closes() -> None:
    began, cancelled = asyncio.Event(), asyncio.Event()

    async def forever() -> None:
        began.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    async def handler(request: web.Request) -> web.Response:
        await _while_connected(request, forever())
        return web.Response(text="never")

    async with serving(handler) as (host, port):
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        await writer.drain()
        await asyncio.wait_for(began.wait(), 5)
        writer.close()
        await asyncio.wait_for(cancelled.wait(), 5)
        assert await reader.read() == b""  # nothing was answered


async def test_a_connected_client_gets_the_result() -> None:
    async def soon() -> str:
        await asyncio.sleep(0.6)  # longer than one poll
        return "made"

    async def handler(request: web.Request) -> web.Response:
        return web.Response(text=await _while_connected(request, soon()))

    async with serving(handler) as (host, port):
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        answer = await asyncio.wait_for(reader.read(), 5)
        writer.close()
    assert answer.startswith(b"HTTP/1.1 200") and answer.endswith(b"made")
