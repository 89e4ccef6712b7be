"""``workers = N``: N serving processes on one port, and a supervisor that keeps them alive.

One Python process serves on one core. With N > 1 the supervisor (the process ``serve``
started) forks N workers; each builds its own application and listens on the same address
with ``SO_REUSEPORT``, so the kernel spreads new connections across them by hash (a shared,
inherited listening socket would let the first worker to wake take a whole burst of
connections). The supervisor keeps one socket bound to the port but never listens on it: it
reserves the port (``port = 0`` picks one for all) without receiving connections itself.

The supervisor does nothing per request. It restarts a worker that dies (a crash loop is
slowed down, never a fork storm), forwards SIGTERM/SIGINT to every worker, waits for their
graceful shutdown (``shutdown_timeout``, then SIGKILL after a margin) and exits 0. Forked,
not spawned: the index is loaded once and the workers share its pages copy-on-write; the
supervisor never runs an event loop or starts a thread, so forking it is safe.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import dataclasses
import logging
import os
import shutil
import signal
import socket
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from mediaserve.adapters.server.heartbeat import Heartbeats, beat_forever
from mediaserve.core.config.settings import Settings
from mediaserve.core.text.controls import visible

logger = logging.getLogger("mediaserve")

#: seconds after the graceful shutdown timeout before the supervisor SIGKILLs a worker
KILL_MARGIN = 5.0
#: a worker that dies sooner than this after starting counts as crash-looping
QUICK_DEATH = 2.0
MAX_BACKOFF = 10.0


def new_stats_dir() -> Path:
    """A private directory for one server's worker snapshots (shared memory if possible):
    ``stats/shared.py`` publishes and reads there."""
    base = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
    return Path(tempfile.mkdtemp(prefix="mediaserve-stats-", dir=base))


def worker_count(setting: int) -> int:
    """The ``workers`` setting as a number of processes (0 means one per CPU)."""
    return setting if setting > 0 else max(1, os.cpu_count() or 1)


def reserve_port(host: str, port: int) -> socket.socket:
    """A socket bound (not listening) to ``host:port`` with SO_REUSEPORT: the workers bind
    the same address; ``port`` 0 becomes a real port here, once, for all of them."""
    family, kind, proto, _name, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind(address)
    except OSError:
        sock.close()
        raise
    return sock


#: ``serve_one(settings, ready, heartbeat_fd)``: one worker's whole serving life
ServeOne = Callable[[Settings, Callable[[str], None], int], Coroutine[Any, Any, None]]


_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def _die_with(supervisor: int) -> None:
    """Make the kernel send this worker SIGTERM (a graceful drain) when its supervisor dies,
    however it dies: a SIGKILLed or OOM-killed supervisor must not leave workers serving
    the port on their own, unsupervised and never restarted. The getppid check closes the
    race of a supervisor that died before the request was made."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    if os.getppid() != supervisor:
        os._exit(0)


class Supervisor:
    """Forks ``count`` workers running ``serve_one(settings, on_started)`` and keeps them up.

    ``serve_one`` runs in the child on a fresh event loop (``run_loop``); it must return when
    the worker receives SIGTERM/SIGINT (``runner.run_until_signalled`` does)."""

    def __init__(self, count: int, settings: Settings, serve_one: ServeOne,
                 run_loop: Callable[[Coroutine[Any, Any, None]], None]) -> None:
        self.count = count
        self.settings = settings
        self.serve_one = serve_one
        self.run_loop = run_loop
        self.workers: dict[int, tuple[int, float]] = {}  # pid -> (slot, started at)
        self.stopping = False
        self.stop_deadline = 0.0
        self.restarts = 0
        self._ready_r, self._ready_w = os.pipe()
        os.set_blocking(self._ready_r, False)
        self.supervisor_pid = os.getpid()
        self.heartbeats = Heartbeats(settings.worker_timeout)
        self.hung: set[int] = set()  # killed for silence: their exit is no news

    # ---------------------------------------------------------------- in the worker
    def _child(self, slot: int, settings: Settings, beat_fd: int) -> None:
        """The worker's whole life; never returns into the supervisor's code."""
        code = 0
        _die_with(self.supervisor_pid)
        try:
            for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                signal.signal(sig, signal.SIG_DFL)
            os.close(self._ready_r)
            for fd in self.heartbeats.inherited():  # the siblings' read ends
                os.close(fd)
            os.environ["MEDIASERVE_WORKER"] = str(slot)

            def ready(_url: str) -> None:
                with contextlib.suppress(OSError):
                    os.write(self._ready_w, b"r")

            self.run_loop(self.serve_one(settings, ready, beat_fd))
        except KeyboardInterrupt:
            code = 0
        except BaseException as exc:  # a worker reports what killed it, then dies
            print(f"mediaserve: worker {slot} (pid {os.getpid()}) failed: "
                  f"{type(exc).__name__}: {visible(str(exc))}", file=sys.stderr, flush=True)
            code = 1
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)

    # ---------------------------------------------------------------- in the supervisor
    def _fork(self, slot: int, settings: Settings) -> None:
        read, write = self.heartbeats.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(read)
            self._child(slot, settings, write)
        os.close(write)
        self.heartbeats.forked(pid, read)
        self.workers[pid] = (slot, time.monotonic())

    def _kill_hung(self) -> None:
        """SIGKILL a worker whose loop has not beaten for ``worker_timeout``: it serves
        nobody, yet holds its connections and its share of the port. ``_reap`` restarts it."""
        for pid, silent in self.heartbeats.hung():
            if pid in self.hung or pid not in self.workers:
                continue
            self.hung.add(pid)
            slot = self.workers[pid][0]
            print(f"mediaserve: worker {slot} (pid {pid}) has not answered for {silent:.0f} s "
                  "(its event loop is stuck); killing and restarting it", file=sys.stderr,
                  flush=True)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def _on_signal(self, signum: int, _frame: Any) -> None:
        if not self.stopping:
            self.stopping = True
            self.stop_deadline = (time.monotonic() + self.settings.shutdown_timeout
                                  + KILL_MARGIN)
        for pid in list(self.workers):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    def _forward(self, signum: int, _frame: Any) -> None:
        for pid in list(self.workers):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signum)

    def _wait_ready(self, wanted: int, timeout: float = 60.0) -> bool:
        """Wait until every worker listens; False if one died first (it cannot serve: a
        restart would only crash-loop) or time ran out."""
        deadline = time.monotonic() + timeout
        got = 0
        while got < wanted and time.monotonic() < deadline and not self.stopping:
            try:
                got += len(os.read(self._ready_r, 64))
            except BlockingIOError:
                time.sleep(0.02)
            with contextlib.suppress(ChildProcessError):
                pid, _status = os.waitpid(-1, os.WNOHANG)
                if pid:
                    self.workers.pop(pid, None)
                    return False
        return got >= wanted

    def _reap(self) -> bool:
        """Reap exited workers and restart them (unless stopping); True if any exited."""
        exited = False
        while self.workers:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            exited = True
            self.heartbeats.gone(pid)
            slot, started = self.workers.pop(pid, (-1, 0.0))
            if slot < 0 or self.stopping:
                continue
            how = (f"signal {-os.waitstatus_to_exitcode(status)}"
                   if os.WIFSIGNALED(status) else f"code {os.waitstatus_to_exitcode(status)}")
            if pid not in self.hung:  # a hung one was announced when it was killed
                print(f"mediaserve: worker {slot} (pid {pid}) exited with {how}; restarting "
                      "it", file=sys.stderr, flush=True)
            self.hung.discard(pid)
            if time.monotonic() - started < QUICK_DEATH:  # crash loop: slow it down
                time.sleep(min(MAX_BACKOFF, 0.5 * 2 ** min(self.restarts, 5)))
                self.restarts += 1
            else:
                self.restarts = 0
            if not self.stopping:
                self._fork(slot, self._worker_settings)
        return exited

    def run(self, on_started: Callable[[str], None] | None = None) -> int:
        reserved = reserve_port(self.settings.host, self.settings.port)
        host, port = reserved.getsockname()[:2]
        self._worker_settings = dataclasses.replace(self.settings, port=port)
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        signal.signal(signal.SIGHUP, self._forward)  # "reload the index now", to every worker
        try:
            for slot in range(self.count):
                self._fork(slot, self._worker_settings)
            if not self._wait_ready(self.count):
                print("mediaserve: a worker failed to start; stopping", file=sys.stderr,
                      flush=True)
                self._on_signal(signal.SIGTERM, None)
                self._stop_all()
                return 1
            if on_started is not None:
                shown = f"[{host}]" if ":" in host else host
                on_started(f"http://{shown}:{port}/")
            self._stop_all()
        finally:
            reserved.close()
        return 0

    def _stop_all(self) -> None:
        """Supervise until every worker is gone (after a signal, or forever)."""
        while self.workers:
            self._reap()
            if not self.stopping:
                self._kill_hung()
            if self.stopping and time.monotonic() > self.stop_deadline:
                for pid in list(self.workers):
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
            with contextlib.suppress(BlockingIOError, OSError):
                os.read(self._ready_r, 64)  # readiness of restarted workers
            if self.workers:
                time.sleep(0.1)


def supervise(count: int, settings: Settings, serve_one: ServeOne,
              run_loop: Callable[[Coroutine[Any, Any, None]], None],
              on_started: Callable[[str], None] | None = None) -> int:
    """Run ``count`` workers until SIGTERM/SIGINT; the exit code for the process."""
    return Supervisor(count, settings, serve_one, run_loop).run(on_started)




def serve_forever(make_site: Callable[[], Any], settings: Settings,
                  on_started: Callable[[str], None] | None = None,
                  announce: Callable[[str], None] | None = None) -> int:
    """Serve until SIGTERM/SIGINT: in this process (``workers`` = 1) or with a supervisor
    and N forked workers, each building its own site with ``make_site()`` after the fork
    (the supervisor imports no server code: it only forks, watches and signals). The exit
    code.
    ``announce`` gets the shutdown line of a single process (workers shut down quietly; the
    caller announces the end)."""
    from mediaserve.adapters.server.loops import run as run_loop

    count = worker_count(settings.workers)
    choice = settings.event_loop
    if count == 1:
        from mediaserve.adapters.server.runner import run_until_signalled

        run_loop(run_until_signalled(make_site(), settings, on_started, announce=announce),
                 choice)
        return 0
    stats_dir = new_stats_dir()

    async def one(worker_settings: Settings, ready: Callable[[str], None],
                  beat_fd: int) -> None:
        # imported here, in the forked worker: the supervisor stays small
        from mediaserve.adapters.server.runner import run_until_signalled
        from mediaserve.adapters.server.stats.shared import share_stats

        beating = asyncio.get_running_loop().create_task(beat_forever(beat_fd))
        site = make_site()
        share_stats(site, stats_dir)
        try:
            await run_until_signalled(site, worker_settings, ready, reuse_port=True)
        finally:
            beating.cancel()

    try:
        return supervise(count, settings, one, lambda main: run_loop(main, choice),
                         on_started)
    finally:
        shutil.rmtree(stats_dir, ignore_errors=True)
