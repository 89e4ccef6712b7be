"""Run the application until SIGINT/SIGTERM, then shut down gracefully.

On a signal the listening socket closes first (no new connections), streams in flight get
``shutdown_timeout`` seconds to finish, then what is left is cut. aiohttp's runner does the
waiting; this module wires signals, the access log and the start-up line.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable

from aiohttp import web

from mediaserve.adapters.server.accesslog import CombinedLogger, make_access_logger
from mediaserve.core.settings import Settings


async def run_until_signalled(app: web.Application, settings: Settings,
                              on_started: Callable[[str], None] | None = None,
                              stop: asyncio.Event | None = None) -> None:
    """Serve ``app`` on settings.host:settings.port until a signal (or ``stop`` is set)."""
    access = make_access_logger(settings.access_log)
    runner = web.AppRunner(app, handle_signals=False, access_log_class=CombinedLogger,
                           access_log=access, shutdown_timeout=settings.shutdown_timeout,
                           keepalive_timeout=75.0)
    await runner.setup()
    site = web.TCPSite(runner, settings.host, settings.port, backlog=1024,
                       reuse_address=True, shutdown_timeout=settings.shutdown_timeout)
    try:
        await site.start()
        addresses = runner.addresses
        host, port = addresses[0][0], addresses[0][1]
        shown = f"[{host}]" if ":" in host else host
        if on_started:
            on_started(f"http://{shown}:{port}/")
        stop = stop or asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        try:
            await stop.wait()
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
    finally:
        await runner.cleanup()
