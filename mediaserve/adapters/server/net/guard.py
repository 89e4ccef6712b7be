"""The connection cap and its bookkeeping: who is open, who is idle, who is slow, from where.

The listener (``listener.py``) asks :meth:`ConnectionGuard.full` before each ``accept``; at
the cap it accepts only when something could be reclaimed, and then asks
:meth:`~ConnectionGuard.reclaim_for` the newcomer's address for room. What may be reclaimed, in
order:

1. a connection idle between requests (no byte of a head received), the longest idle first,
   as nginx reuses idle keep-alive connections when it runs out;
2. a connection that has been sending one head for a while: the one that sent the least of it
   for the longest (a slowloris client trickles a few bytes; a real head arrives in one
   packet). nginx keeps such connections until its header timeout: at ``ulimit -n 256``, 150
   of them locked everyone else out for 60 s. Here the cap evicts them instead.

A connection that is streaming or being answered is never reclaimed. A second limit,
``max_connections_per_address``, keeps one client address from holding more than its share,
so one host cannot lock out the rest even below the cap: a new connection over it first
reclaims that address's own idle or slow connections, and is refused (closed) if it cannot.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Protocol

from mediaserve.adapters.server.net.errorlog import RateLimitedLog

log = logging.getLogger("mediaserve")

#: a head younger than this is still arriving, not slow: never reclaimed (seconds)
SLOW_AFTER = 1.0


def per_address_share(setting: int, cap: int) -> int:
    """The per-address limit: the setting, or (0) half the cap but at least 16 (a household
    of devices behind one NAT address must not feel it), never above the cap."""
    return min(cap, setting) if setting > 0 else min(cap, max(16, cap // 2))


class Conn(Protocol):
    """What the guard needs of a connection (``connection.HttpConnection``)."""

    address: str
    head_bytes: int  # bytes of the head being received (0 when not in one)
    head_since: float  # when that head began (time.monotonic())

    def force_close(self) -> None: ...

    def shutdown_idle(self) -> None: ...


class ConnectionGuard:
    """Counts connections, keeps the idle and the half-sent ones in order for reclaiming,
    and enforces the per-address share. ``make(guard)`` builds a connection protocol: the
    listener hands accepted sockets to the guard as their protocol factory."""

    def __init__(self, cap: int, header_timeout: float, keepalive_timeout: float,
                 send_timeout: float, limited: RateLimitedLog, per_address: int = 0) -> None:
        self.cap = cap
        self.per_address = per_address if per_address > 0 else cap
        self.header_timeout = header_timeout
        self.keepalive_timeout = keepalive_timeout
        self.send_timeout = send_timeout
        self.limited = limited
        self.handlers: set[Conn] = set()
        #: connections waiting for a request with no byte of it received, oldest first
        self.idle: dict[Conn, None] = {}
        #: connections part-way through a request head
        self.heads: dict[Conn, None] = {}
        self.by_address: dict[str, int] = {}
        self.closing: set[Conn] = set()  # reclaimed, not yet gone
        self.pending = 0  # accepted, connection (or TLS handshake) not yet made
        self.reclaimed = 0
        self.refused = 0  # closed at once: over the per-address share
        self.header_timeouts = 0
        self.send_timeouts = 0
        self.client_errors = 0
        self.on_closed: Callable[[], None] | None = None  # the listener's "resume accepting"
        self.make: Callable[[ConnectionGuard], object] | None = None

    def __call__(self) -> object:
        assert self.make is not None, "ConnectionGuard.make is not set"
        return self.make(self)

    @property
    def active(self) -> int:
        return len(self.handlers)

    def full(self) -> bool:
        return len(self.handlers) - len(self.closing) + self.pending >= self.cap

    # ------------------------------------------------------------------ reclaiming
    def reclaimable(self) -> bool:
        """At the cap: whether some connection could give up its place (idle, or slow)."""
        return self._victim(None) is not None

    def reclaim_for(self, address: str) -> bool:
        """At the cap, a newcomer from ``address`` was accepted: make room for it. An address
        over its share can only give up one of its own connections (never another
        address's, for a newcomer that :meth:`opened` would refuse anyway); others take the
        longest idle, then the slowest head. False: no room, the caller closes the newcomer."""
        if self._count(address) >= self.per_address:
            return self._within_share(address)
        victim = self._victim(None)
        if victim is None:
            return False
        self._evict(victim, f"{self.cap} connections open (--max-connections): closing idle "
                            "or slow ones to make room")
        return True

    def _victim(self, address: str | None) -> Conn | None:
        """What may give up its place (of ``address``, or anyone's): the longest idle, else
        the slowest head."""
        return self._oldest_idle(address) or self._slowest_head(address)

    def _within_share(self, address: str) -> bool:
        """Whether ``address`` may have one more connection: below its share, or at it with
        one of its own idle or slow connections closed for room; False (counted, logged)
        when it has none to give up."""
        if self._count(address) < self.per_address:
            return True
        victim = self._victim(address)
        if victim is None:
            self._refuse(address)
            return False
        self._evict(victim, self._over_share(address))
        return True

    def _count(self, address: str) -> int:
        """``address``'s connections, those already being closed for room not counted."""
        count = self.by_address.get(address, 0)
        if count and self.closing:
            count -= sum(1 for conn in self.closing if conn.address == address)
        return count

    def _over_share(self, address: str) -> str:
        return (f"{address} holds {self._count(address)} connections "
                "(--max-connections-per-address): closing its idle or slow ones to make room")

    def _refuse(self, address: str) -> None:
        self.refused += 1
        self.limited(logging.WARNING, "per-address",
                     f"{address} holds {self._count(address)} connections "
                     "(--max-connections-per-address): refusing more")

    def _oldest_idle(self, address: str | None) -> Conn | None:
        for conn in self.idle:
            if conn not in self.closing and (address is None or conn.address == address):
                return conn
        return None

    def _slowest_head(self, address: str | None) -> Conn | None:
        """The half-sent head with the fewest bytes per second, among those older than
        SLOW_AFTER: the longest-running, least-sent first."""
        now = time.monotonic()
        best: Conn | None = None
        best_rate = 0.0
        for conn in self.heads:
            age = now - conn.head_since
            if age < SLOW_AFTER or conn in self.closing:
                continue
            if address is not None and conn.address != address:
                continue
            rate = conn.head_bytes / age
            if best is None or rate < best_rate:
                best, best_rate = conn, rate
        return best

    def _evict(self, conn: Conn, why: str) -> None:
        self.idle.pop(conn, None)
        self.heads.pop(conn, None)
        self.closing.add(conn)
        self.reclaimed += 1
        self.limited(logging.WARNING, "reclaim", why)
        conn.force_close()

    # ------------------------------------------------------------------ life of a connection
    def opened(self, conn: Conn) -> bool:
        """Count a new connection; False when its address is over its share and nothing of
        that address could be reclaimed (the caller closes it)."""
        address = conn.address
        if not self._within_share(address):
            return False
        self.by_address[address] = self.by_address.get(address, 0) + 1
        self.handlers.add(conn)
        return True

    def closed(self, conn: Conn) -> None:
        if conn in self.handlers:
            self.handlers.discard(conn)
            left = self.by_address.get(conn.address, 1) - 1
            if left > 0:
                self.by_address[conn.address] = left
            else:
                self.by_address.pop(conn.address, None)
        self.idle.pop(conn, None)
        self.heads.pop(conn, None)
        self.closing.discard(conn)
        if self.on_closed is not None:
            self.on_closed()

    def client_error(self, text: str) -> None:
        self.client_errors += 1
        if log.isEnabledFor(logging.INFO):
            log.info("bad request: %s", text)

    def shutdown_idle(self) -> None:
        """Close idle keep-alive connections now; busy ones close after their response."""
        for conn in list(self.handlers):
            conn.shutdown_idle()
