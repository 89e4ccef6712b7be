"""Accepting connections within the descriptor budget, the way nginx does.

asyncio's own accept loop takes up to ``backlog`` connections per wake-up before any protocol
is created, so a cap checked in the protocol comes too late: 1,100 waiting clients against a
1,024-descriptor limit still end in ``accept()`` failing with EMFILE, and asyncio then logs a
traceback per failed call (~1,000 per wake-up). So the site accepts itself:

* below the cap, it accepts (at most ``_BATCH`` per wake-up) and hands each socket to
  ``loop.connect_accepted_socket`` with a new connection protocol (TLS included);
* at the cap, when a connection could be reclaimed (the longest-idle one, else the slowest
  half-sent head or body: ``guard.py``), it accepts and reclaims one for the newcomer, an
  address over its share only from its own; when every connection is busy it stops accepting
  until one ends (the kernel queues newcomers);
* EMFILE and its kin (descriptors used elsewhere) pause accepting for a second, with one
  rate-limited log line.
"""

from __future__ import annotations

import asyncio
import errno
import fcntl
import logging
import os
import resource
import socket
import ssl
from collections.abc import Callable
from typing import Any

from mediaserve.adapters.server.net.guard import ConnectionGuard

#: descriptors kept back from the connection cap: the listening sockets, the library root,
#: the event loop's own, log files, the index when it is saved, executor work
FD_RESERVE = 64
#: the most descriptor slots made at start-up (8 bytes of kernel memory each)
FD_TABLE = 16384
_BATCH = 64  # connections accepted per wake-up, so accepting never starves the streams
_OUT_OF_RESOURCES = (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM)


def raise_nofile_limit() -> int:
    """Raise the soft ``RLIMIT_NOFILE`` to the hard limit (systemd's default soft limit of
    1,024 is far below what a server needs) and return the soft limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):  # a container may forbid it; keep what we have
            pass
    return int(soft if soft != resource.RLIM_INFINITY else 1 << 20)


def connection_cap(setting: int, nofile: int) -> int:
    """The effective cap: the setting, or (0) half of what the descriptor limit leaves after
    the reserve, since a connection that streams holds two descriptors (socket and file).
    Never above that either, so a cap set too high cannot bring back accept() failing."""
    room = max(1, (nofile - FD_RESERVE) // 2)
    return room if setting <= 0 else min(setting, room)


def presize_descriptor_table(cap: int, nofile: int) -> None:
    """Grow the process's descriptor table now to what ``cap`` connections can use at most
    (the socket, its duplicate while a stream is parked (``stream/sendfile.py``), a file) and
    the reserve, at most FD_TABLE slots (the kernel rounds up to a power of two; ``FDSize``
    in ``/proc/PID/status`` shows the result).

    Why: Linux grows the table by doubling when a new descriptor does not fit it, and in a
    process with more than one thread (the executor's, the watcher's, libuv's) each growth
    waits for an RCU grace period (``expand_fdtable`` → ``synchronize_rcu``): 10-20 ms in
    which ``accept()``, and with it the event loop, stands still. A freshly started server
    under 1,000 new slow readers (W5) stalled at its 128th, 256th and 512th connection: time
    to first byte p99 13.6-22 ms on first runs by hand, 3.2-5.1 ms pre-sized (stream_bench
    W5, nginx 2.6-3.5 ms in the same runs). The table never shrinks, so once is enough.
    ``F_DUPFD`` takes the lowest free number at or above the one asked, so no descriptor in
    use is touched."""
    size = max(1, min(nofile, 3 * cap + FD_RESERVE, FD_TABLE))
    try:
        with open(os.devnull, "rb") as null:
            os.close(fcntl.fcntl(null.fileno(), fcntl.F_DUPFD_CLOEXEC, size - 1))
    except OSError:  # a limit (or fs.nr_open) below the size asked: it grows as it used to
        pass


#: makes the protocol for one accepted connection, given the peer's address
ProtocolFactory = Callable[[str], asyncio.BaseProtocol]


class Listener:
    """The listening sockets and their accept loop."""

    def __init__(self, guard: ConnectionGuard, make: ProtocolFactory,
                 context: ssl.SSLContext | None, handshake_timeout: float) -> None:
        self.guard = guard
        self.make = make
        self.context = context
        self.handshake_timeout = handshake_timeout
        self.sockets: list[socket.socket] = []
        self._loop = asyncio.get_running_loop()
        self._paused: set[socket.socket] = set()
        self._tasks: set[asyncio.Task[Any]] = set()
        guard.on_closed = self._resume_all

    async def bind(self, host: str, port: int, backlog: int, reuse_port: bool = False) -> None:
        infos = await self._loop.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                             flags=socket.AI_PASSIVE)
        seen = set()
        try:
            for family, kind, proto, _name, address in infos:
                if (family, address) in seen:
                    continue
                seen.add((family, address))
                if port:  # port 0: the first socket's free port for every address
                    address = (address[0], port, *address[2:])
                sock = socket.socket(family, kind, proto)
                self.sockets.append(sock)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                if reuse_port:  # several worker processes on one port
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
                if family == socket.AF_INET6:
                    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                sock.bind(address)
                port = port or sock.getsockname()[1]
                sock.listen(backlog)
                sock.setblocking(False)
        except BaseException:
            self.close()
            raise
        for sock in self.sockets:
            self._loop.add_reader(sock.fileno(), self._accept, sock)

    def close(self) -> None:
        for sock in self.sockets:
            if sock.fileno() >= 0:
                self._loop.remove_reader(sock.fileno())
                sock.close()
        self.sockets = []
        self._paused.clear()
        self.guard.on_closed = None

    def _pause(self, sock: socket.socket) -> None:
        if sock not in self._paused and sock.fileno() >= 0:
            self._loop.remove_reader(sock.fileno())
            self._paused.add(sock)

    def _resume(self, sock: socket.socket) -> None:
        if sock in self._paused and sock.fileno() >= 0:
            self._paused.discard(sock)
            self._loop.add_reader(sock.fileno(), self._accept, sock)

    def _resume_all(self) -> None:
        for sock in list(self._paused):
            self._resume(sock)

    def _accept(self, sock: socket.socket) -> None:
        for _ in range(_BATCH):
            full = self.guard.full()
            if full and not self.guard.reclaimable():
                self.guard.limited(logging.WARNING, "cap", f"{self.guard.cap} connections "
                                   "open (--max-connections), none idle: accepting paused "
                                   "until one ends")
                self._pause(sock)
                return
            try:
                conn, address = sock.accept()
            except (BlockingIOError, InterruptedError, ConnectionAbortedError):
                return
            except OSError as exc:
                self.guard.limited(logging.ERROR, f"accept|{exc.errno}",
                                   f"accept() failed: {exc.strerror}; pausing for 1 s")
                if exc.errno in _OUT_OF_RESOURCES:
                    self._pause(sock)
                    self._loop.call_later(1.0, self._resume, sock)
                return
            peer = address[0] if isinstance(address, tuple) else ""
            if full and not self.guard.reclaim_for(peer):
                conn.close()  # over its address's share with nothing of its own to give up
                continue
            conn.setblocking(False)
            task = self._loop.create_task(self._connect(conn, peer))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _connect(self, conn: socket.socket, peer: str) -> None:
        self.guard.pending += 1
        make = self.make
        try:
            await self._loop.connect_accepted_socket(
                lambda: make(peer), conn, ssl=self.context,
                ssl_handshake_timeout=self.handshake_timeout if self.context else None)
        except (OSError, ValueError):  # ssl.SSLError and TimeoutError are OSErrors
            conn.close()  # a failed TLS handshake or a client gone before it began
        finally:
            self.guard.pending -= 1
            if not self.guard.full():
                self._resume_all()
