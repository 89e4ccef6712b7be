"""Run the application until SIGINT/SIGTERM, then shut down gracefully.

On a signal the listening socket closes first (no new connections) and idle keep-alive
connections are closed; streams in flight get ``shutdown_timeout`` seconds to finish, then the
connections still writing are cut. We sequence this ourselves because aiohttp's own
shutdown waits the timeout once for the handler and then once more after cancelling only the
request payload: a stalled client would hold the process for twice the timeout.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable

from aiohttp import web

from mediaserve.adapters.server.access import RedactTokens
from mediaserve.adapters.server.accesslog import CombinedLogger, make_access_logger
from mediaserve.adapters.server.state import STATE
from mediaserve.core.config.settings import Settings


class _OneLineErrors(logging.Filter):
    """aiohttp logs a malformed request from a client with a full traceback at ERROR level;
    it is the client's mistake and already answered 400, so one line is enough."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            record.msg = f"{record.getMessage()}: {type(exc).__name__}: {exc}"
            record.args = ()
            record.exc_info = None
            record.exc_text = None
        return True


def configure_logging() -> None:
    """Warnings and errors of the server on stderr, one line each."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("mediaserve: %(levelname)s: %(message)s"))
    handler.addFilter(RedactTokens())  # a bad request's line may carry ?token=
    for name in ("mediaserve", "aiohttp.server", "aiohttp.web"):
        logger = logging.getLogger(name)
        if not logger.handlers:
            logger.addHandler(handler)
        logger.setLevel(logging.WARNING)
        logger.propagate = False
    logging.getLogger("aiohttp.server").addFilter(_OneLineErrors())


async def drain(app: web.Application, runner: web.AppRunner, timeout: float) -> None:
    """Stop listening, give running streams ``timeout`` seconds, abort what is left."""
    for site in list(runner.sites):
        await site.stop()
    inflight = app[STATE].inflight
    if inflight:
        await asyncio.wait(list(inflight), timeout=timeout)
    left = list(inflight)
    for task in left:
        # Cancelling unwinds a handler parked waiting for a stalled client's window
        # cleanly: sendfile.py drops its writer callback and the duplicate descriptor, our
        # finally closes the file, and aiohttp closes the connection.
        task.cancel()
    if left:
        await asyncio.wait(left, timeout=1.0)


async def run_until_signalled(app: web.Application, settings: Settings,
                              on_started: Callable[[str], None] | None = None,
                              stop: asyncio.Event | None = None, *,
                              reuse_port: bool = False) -> None:
    """Serve ``app`` on settings.host:settings.port until a signal (or ``stop`` is set).

    ``reuse_port``: a worker beside others (see workers.py): listen with SO_REUSEPORT, and
    keep the signal handlers through the drain, because a worker gets Ctrl-C from the
    terminal *and* SIGTERM from its supervisor, and the second must not cut the drain short.
    A single process lets a second Ctrl-C interrupt a drain, as a user expects."""
    access = make_access_logger(settings.access_log)
    runner = web.AppRunner(app, handle_signals=False, access_log_class=CombinedLogger,
                           access_log=access, shutdown_timeout=settings.shutdown_timeout,
                           keepalive_timeout=75.0)
    await runner.setup()
    site = web.TCPSite(runner, settings.host, settings.port, backlog=1024, reuse_address=True,
                       reuse_port=reuse_port or None)
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
            if reuse_port:
                await drain(app, runner, settings.shutdown_timeout)
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
        if not reuse_port:
            await drain(app, runner, settings.shutdown_timeout)
    finally:
        await runner.cleanup()
