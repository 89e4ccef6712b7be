"""Listen, serve until SIGINT/SIGTERM, then shut down gracefully.

Start-up raises the soft descriptor limit to the hard one, derives the connection cap from it
(``net/guard.py``), grows the descriptor table to that cap at once (growing it later stalls
the loop: ``net/listener.py``), installs an event-loop exception handler that logs one line
per kind of error and interval (never a traceback per failed ``accept()``), and listens with
our own accept loop (``net/listener.py``), over TLS when a certificate is configured. Every
accepted socket belongs to one ``net.connection.HttpConnection`` for its whole life.

aiohttp is built lazily: serving a :class:`~.site.site.Site`, its application and runner are
made (and aiohttp imported) by the first request the connection hands to it. A process that
has only streamed never imports aiohttp. ``create_app``'s application (tests, tools) is
built at once instead.

On a signal the listening socket closes first (no new connections) and idle keep-alive
connections are closed at once; streams in flight get ``shutdown_timeout`` seconds to finish,
then the connections still writing are cut.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mediaserve.adapters.server.net.connection import HttpConnection
from mediaserve.adapters.server.net.delegate import Delegator, HandlerFactory
from mediaserve.adapters.server.net.errorlog import RateLimitedLog, make_exception_handler
from mediaserve.adapters.server.net.guard import ConnectionGuard, per_address_share
from mediaserve.adapters.server.net.listener import (
    Listener,
    connection_cap,
    presize_descriptor_table,
    raise_nofile_limit,
)
from mediaserve.adapters.server.net.tls import make_ssl_context
from mediaserve.adapters.server.site.access_summary import SummaryLog, open_access_log
from mediaserve.adapters.server.site.site import Site
from mediaserve.adapters.server.stream.fast import FastStreams
from mediaserve.core.config.settings import Settings

if TYPE_CHECKING:
    from aiohttp import web


@dataclass(slots=True)
class Running:
    """A server that listens: its address, its connections, and aiohttp once built."""

    url: str
    port: int
    site: Site
    guard: ConnectionGuard
    listener: Listener
    delegator: Delegator
    fast: FastStreams | None
    owns_site: bool  # the site's background work is ours to stop (not an app's)
    app_runner: list[web.AppRunner] = field(default_factory=list)  # empty until built
    summary: SummaryLog | None = None  # the access log's summary form: its last line at exit

    @property
    def state(self) -> Any:
        return self.site.state

    async def stop(self) -> None:
        """Close everything at once (tests; ``drain`` is the graceful way)."""
        self.listener.close()
        self.guard.shutdown_idle()
        await self.cleanup()

    async def cleanup(self) -> None:
        if self.summary is not None:
            self.summary.close()
        for runner in self.app_runner:
            await runner.cleanup()
        self.app_runner.clear()
        if self.owns_site:
            await self.site.stop()


async def drain(running: Running, timeout: float,
                announce: Callable[[str], None] | None = None) -> None:
    """Stop listening, close idle connections, give running streams ``timeout`` seconds,
    abort what is left. ``announce`` gets one line saying what shutdown waits for."""
    running.listener.close()
    guard = running.guard
    guard.shutdown_idle()
    inflight = running.site.state.inflight
    if announce is not None:
        count = len(inflight)
        announce(f"shutting down: {count} stream{'s' if count != 1 else ''} finishing, for up "
                 f"to {timeout:g} s" if count else "shutting down: no streams in flight")
    if inflight:
        await asyncio.wait(list(inflight), timeout=timeout)
    left = list(inflight)
    for task in left:
        # Cancelling unwinds a body parked waiting for a stalled client's window cleanly:
        # sendfile.py drops its writer callback and the duplicate descriptor, the job
        # closes the file, and the connection is closed.
        task.cancel()
    if left:
        await asyncio.wait(left, timeout=1.0)
    guard.shutdown_idle()  # a connection accepted while the listener closed came after


AccessLogOverride = tuple[type, logging.Logger]


async def start_server(target: Site | web.Application, settings: Settings, *,
                       reuse_port: bool = False,
                       access_log: AccessLogOverride | None = None) -> Running:
    """Listen and serve ``target``: a :class:`Site` (aiohttp built on first need) or an
    application from ``create_app`` (built already, its start and cleanup run the site).
    ``reuse_port``: listen with SO_REUSEPORT beside the other workers (workers.py).
    ``access_log``: a logger class and logger instead of ``settings.access_log`` (tests)."""
    loop = asyncio.get_running_loop()
    limited = RateLimitedLog(logging.getLogger("mediaserve"))
    loop.set_exception_handler(make_exception_handler(limited))
    nofile = raise_nofile_limit()
    cap = connection_cap(settings.max_connections, nofile)
    presize_descriptor_table(cap, nofile)  # no 10-20 ms stalls as connections arrive
    context = make_ssl_context(settings)
    site, app = _site_and_app(target)
    if access_log is not None:
        log_class: Any = access_log[0]
        fast_log: Any = log_class(access_log[1], "")
        aiohttp_log: Any = access_log[1]
    else:
        log_class, fast_log = None, open_access_log(settings)
        aiohttp_log = fast_log
    fast = None
    if settings.fast_path and settings.sendfile and context is None:  # plain streams skip aiohttp
        fast = FastStreams(site.state, site.access, fast_log)
    runners: list[web.AppRunner] = []

    async def build() -> HandlerFactory:
        return await _aiohttp_server(site, app, settings, log_class, aiohttp_log, runners)

    if app is None:
        await site.start()
        delegator = Delegator(build)
    else:
        delegator = Delegator(build, await build())
    guard = ConnectionGuard(cap, settings.header_timeout, settings.keepalive_timeout,
                            settings.send_timeout, limited,
                            per_address_share(settings.max_connections_per_address, cap))

    def connection(peer: str) -> HttpConnection:
        return HttpConnection(guard, fast, delegator, peer)

    listener = Listener(guard, connection, context, settings.header_timeout)
    running = Running("", 0, site, guard, listener, delegator, fast, app is None, runners,
                      fast_log if isinstance(fast_log, SummaryLog) else None)
    try:
        await listener.bind(settings.host, settings.port, 1024, reuse_port)
    except BaseException:
        await running.cleanup()
        raise
    host, port = listener.sockets[0].getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    running.url, running.port = f"{'https' if context else 'http'}://{shown}:{port}/", port
    if running.summary is not None:
        running.summary.started(running.url)
    return running


def _site_and_app(target: Site | web.Application) -> tuple[Site, web.Application | None]:
    if isinstance(target, Site):
        return target, None
    from mediaserve.adapters.server.api.keys import SITE

    return target[SITE], target


async def _aiohttp_server(site: Site, app: web.Application | None, settings: Settings,
                          log_class: Any, aiohttp_log: Any,
                          runners: list[web.AppRunner]) -> HandlerFactory:
    """aiohttp's request-handler factory for ``site`` (its app built now if need be): the
    first delegated request pays for importing aiohttp (~0.2 s), never a stream. The import
    runs in a thread, so the loop keeps serving streams (and a worker's heartbeat) meanwhile."""
    await asyncio.get_running_loop().run_in_executor(None, _import_aiohttp_side)
    from aiohttp import web

    from mediaserve.adapters.server.api.accesslog import OFF, CombinedLogger
    from mediaserve.adapters.server.app import build_app

    if app is None:
        app = build_app(site)
    runner = web.AppRunner(app, handle_signals=False,
                           shutdown_timeout=settings.shutdown_timeout,
                           access_log_class=log_class or CombinedLogger,
                           access_log=aiohttp_log if aiohttp_log is not None else OFF)
    await runner.setup()
    runners.append(runner)
    if gc.get_freeze_count():
        # The process froze its start-up heap (run_until_signalled); aiohttp, the app and
        # the web modules arrived later and live as long. Left unfrozen (~24,000 objects),
        # the next full collection scanned them all under load: a 42-67 ms pause with 1,000
        # slow streams (W5's TTFB p99), measured with a gc.callbacks timer. A full pass
        # first, once: cyclic garbage already waiting in the old generation would be frozen
        # with them and never freed.
        gc.collect()
        gc.freeze()
    assert runner.server is not None
    return runner.server


def _import_aiohttp_side() -> None:
    import importlib

    for name in ("aiohttp.web", "mediaserve.adapters.server.api.accesslog",
                 "mediaserve.adapters.server.app"):
        importlib.import_module(name)


#: gen0 collections per gen1 collection (CPython's default: 10)
YOUNG_PASSES = 2
#: gen1 collections between looks at the oldest generation (CPython's default: 10): with
#: YOUNG_PASSES, every 1,000 gen0 collections, as with 10 x 100 before
FULL_COLLECTION_EVERY = 500
#: the thresholds above are the generational collector's: 3.14's incremental one reads the
#: second as the old generation's scan rate (2 would scan it five times as hard) and
#: ignores the third, so there they are left as CPython sets them
GENERATIONAL = sys.version_info < (3, 14)


def quiet_collector() -> None:
    """Keep the cyclic collector's full passes out of a serving process's latency.

    What exists once the server listens (modules, the app, the catalog) lives as long as the
    process: frozen, a full collection scans only what requests made (its pauses with 1,000
    streams went from 20-27 ms to ~8 ms). What requests make is mostly live, not garbage:
    the stream and fast paths leave no reference cycle (``tests/server/
    test_sendfile_chunks.py`` checks an abandoned stream), yet with 1,000 slow streams
    open a full pass still walked their ~36,000 objects, a 6-14 ms stop of every
    connection (W5's TTFB p99) every ten gen1 passes. It now comes every thousand gen0
    passes: still bounded memory for whatever cycles other code makes, ten times fewer stops.

    The gen1 pass comes every second gen0 pass instead of every tenth: what it scans is
    what survived the gen0 passes since the last one, and with 1,000 slow streams that is
    the ~58 tracked objects of each stream begun meanwhile (coroutines, contexts, timer
    handles): ~7,000 objects, a 1.2-7 ms stop (max 5.2-7.3 ms in a W5 run). Five times as
    often, each scans a fifth: 0.7 ms at the median, 1.1-2.5 ms at most, the same total
    (``gc.callbacks`` timer in the server through ``benchmarks.slow_readers``). The price:
    what survives two gen0 passes (not ten) reaches the oldest generation, so a reference
    cycle that lives that long waits for the next full pass (still one per 1,000 gen0
    passes) and lengthens it. Measured over 30 s of W5 beside aiohttp API requests: the
    same peak RSS (62 MB) with either setting, no full pass triggered in either, gen1 at
    most 2.0 ms against 3.9 ms."""
    gc.freeze()
    if GENERATIONAL:
        first, _second, _third = gc.get_threshold()
        gc.set_threshold(first, YOUNG_PASSES, FULL_COLLECTION_EVERY)


async def run_until_signalled(target: Site | web.Application, settings: Settings,
                              on_started: Callable[[str], None] | None = None,
                              stop: asyncio.Event | None = None,
                              announce: Callable[[str], None] | None = None, *,
                              reuse_port: bool = False) -> None:
    """Serve ``target`` on settings.host:settings.port until a signal (or ``stop`` is set).
    ``announce`` gets one line when shutdown starts (the caller prints the last one).

    ``reuse_port``: a worker beside others (see workers.py): listen with SO_REUSEPORT, and
    keep the signal handlers through the drain, because a worker gets Ctrl-C from the
    terminal *and* SIGTERM from its supervisor, and the second must not cut the drain short.
    A single process lets a second Ctrl-C interrupt a drain, as a user expects."""
    running = await start_server(target, settings, reuse_port=reuse_port)
    quiet_collector()
    try:
        stop = stop or asyncio.Event()
        loop = asyncio.get_running_loop()
        # before the start-up line: whoever reads it may signal at once (a supervisor, a test)
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        if on_started:
            on_started(running.url)
        try:
            await stop.wait()
            if reuse_port:
                await drain(running, settings.shutdown_timeout, announce)
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
        if not reuse_port:
            await drain(running, settings.shutdown_timeout, announce)
    finally:
        await running.cleanup()
