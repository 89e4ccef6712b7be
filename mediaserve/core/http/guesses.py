"""Budgets for password guessing: who may try a password now, and where its scrypt check
waits. Pure state machines; the server feeds them the clock and the client's address.

**Per address** (:class:`GuessBudget`). Each client address may fail ``attempts`` logins
(HTTP Basic or the form); after that it waits before each further try, 1 s, then 2, 4, ...
up to 15 minutes, and a try that comes early is answered ``429`` with ``Retry-After``,
without checking the password (so a guess made early says nothing, and costs no scrypt).
An address that has not failed for an hour starts over. A try that is still being checked
counts against the budget until it is settled, so 400 parallel connections from one
address cannot all slip past the budget before the first answer. IPv6 clients are counted
per /64, the block one subscriber gets. The table is bounded: at ``capacity`` addresses the
one touched least recently (and with no check in flight) is forgotten, so a flood of
spoofed or rotating addresses costs a fixed amount of memory, never more.

**Globally** (:class:`Lanes`). scrypt is slow and big (N = 2^17: 128 MiB, a fraction of a
second), so at most ``slots`` checks run at once, whatever the load. A check from an address
with no failures and nothing in flight goes in the *clean* lane, every other in the
*suspect* lane, which may use at most ``suspect_slots`` of the slots, and starts nothing new
while a clean check runs: a real user logging in for the first time never queues behind a
crowd of guesses, only behind other clean checks (at most ``clean_queue``, which only a
crowd of fresh addresses could fill; past that a clean check queues as a suspect one), and
shares the CPUs with at most the one guess already running when it came. A full suspect
queue answers ``busy`` at once (a 429 that counts as a failure): guessing cannot pile up
memory or waiting time either.
"""

from __future__ import annotations

import enum
import ipaddress
import math
from collections import deque
from dataclasses import dataclass, field

FIRST_WAIT = 1.0
MAX_WAIT = 900.0
FORGET_AFTER = 3600.0
CAPACITY = 4096


class Lane(enum.Enum):
    CLEAN = "clean"
    SUSPECT = "suspect"


@dataclass(frozen=True, slots=True)
class Admitted:
    """Check the password, in this lane; then :meth:`GuessBudget.settle` the outcome."""

    lane: Lane


@dataclass(frozen=True, slots=True)
class Refused:
    """Do not check: answer 429 with ``Retry-After: retry_after`` (whole seconds, >= 1)."""

    retry_after: int


def client_key(address: str | None) -> str:
    """Whose budget a client spends: its IPv4 address (also when IPv4-mapped), its IPv6
    /64, or ``""`` for a peer without an IP address (a Unix socket)."""
    try:
        ip = ipaddress.ip_address((address or "").split("%", 1)[0])
    except ValueError:
        return ""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


@dataclass(slots=True)
class _Record:
    failures: int = 0
    pending: int = 0
    last_failure: float = -math.inf


@dataclass(slots=True)
class GuessBudget:
    """Failed logins per client address, with exponential backoff (see the module)."""

    attempts: int = 10  # free failures per address; 0: no per-address limit
    capacity: int = CAPACITY
    first_wait: float = FIRST_WAIT
    max_wait: float = MAX_WAIT
    forget_after: float = FORGET_AFTER
    _table: dict[str, _Record] = field(default_factory=dict)  # oldest touched first

    def __len__(self) -> int:
        return len(self._table)

    def wait_after(self, failures: int) -> float:
        """Seconds to wait after the last failure, once ``failures`` have been made."""
        if failures < self.attempts or not self.attempts:
            return 0.0
        return min(self.max_wait, self.first_wait * 2.0 ** min(failures - self.attempts, 64))

    def admit(self, key: str, now: float) -> Admitted | Refused:
        """May ``key`` try a password at ``now``? An :class:`Admitted` must be settled."""
        record = self._table.get(key)
        if (record is not None and not record.pending
                and now - record.last_failure >= self.forget_after):
            del self._table[key]
            record = None
        if record is None:
            record = self._new(key)
            if record is None:
                return Refused(1)
            record.pending = 1
            return Admitted(Lane.CLEAN)
        if self.attempts:
            if record.failures >= self.attempts:
                ready = record.last_failure + self.wait_after(record.failures)
                if now < ready or record.pending:
                    return Refused(max(1, math.ceil(ready - now)))
            elif record.failures + record.pending >= self.attempts:
                return Refused(1)  # its other tries are still being checked
        record.pending += 1
        self._touch(key, record)
        return Admitted(Lane.SUSPECT)

    def settle(self, key: str, now: float, ok: bool) -> None:
        """The admitted try of ``key`` succeeded (``ok``) or failed. A success does not
        wipe earlier failures: an attacker who also holds one good account must not be able
        to reset their budget with it."""
        record = self._table.get(key)
        if record is None:
            return
        record.pending = max(0, record.pending - 1)
        if ok:
            if not record.failures and not record.pending:
                del self._table[key]  # a clean address leaves no trace
            return
        record.failures += 1
        record.last_failure = now
        self._touch(key, record)

    def _touch(self, key: str, record: _Record) -> None:
        del self._table[key]
        self._table[key] = record

    def _new(self, key: str) -> _Record | None:
        if len(self._table) >= self.capacity:
            victim = next((name for name, old in self._table.items() if not old.pending), None)
            if victim is None:
                return None  # every slot has a check in flight: refuse rather than grow
            del self._table[victim]
        record = self._table[key] = _Record()
        return record


class Grant(enum.Enum):
    RUN = "run"  # start now
    WAIT = "wait"  # queued: started by a later release()
    BUSY = "busy"  # refused: the queue is full


@dataclass(slots=True)
class Lanes:
    """Which scrypt check runs next (see the module). Tickets are the caller's ids."""

    slots: int = 2
    suspect_slots: int = 1
    clean_queue: int = 8
    suspect_queue: int = 32
    running: dict[Lane, int] = field(default_factory=lambda: dict.fromkeys(Lane, 0))
    waiting: dict[Lane, deque[int]] = field(
        default_factory=lambda: {lane: deque() for lane in Lane})

    def request(self, ticket: int, lane: Lane) -> tuple[Grant, Lane]:
        """Start ``ticket`` in ``lane``, queue it, or refuse it; and in which lane."""
        if lane is Lane.CLEAN:
            if self._may_start(Lane.CLEAN):
                self.running[Lane.CLEAN] += 1
                return Grant.RUN, Lane.CLEAN
            if len(self.waiting[Lane.CLEAN]) < self.clean_queue:
                self.waiting[Lane.CLEAN].append(ticket)
                return Grant.WAIT, Lane.CLEAN
        if self._may_start(Lane.SUSPECT):
            self.running[Lane.SUSPECT] += 1
            return Grant.RUN, Lane.SUSPECT
        if len(self.waiting[Lane.SUSPECT]) < self.suspect_queue:
            self.waiting[Lane.SUSPECT].append(ticket)
            return Grant.WAIT, Lane.SUSPECT
        return Grant.BUSY, Lane.SUSPECT

    def withdraw(self, ticket: int) -> bool:
        """Take a waiting ticket out of its queue (its client went away)."""
        for queue in self.waiting.values():
            if ticket in queue:
                queue.remove(ticket)
                return True
        return False

    def release(self, lane: Lane) -> list[tuple[int, Lane]]:
        """A check of ``lane`` ended: the waiting tickets that start now, clean ones first."""
        self.running[lane] -= 1
        started = []
        for candidate in (Lane.CLEAN, Lane.SUSPECT):
            queue = self.waiting[candidate]
            while queue and self._room(candidate):
                self.running[candidate] += 1
                started.append((queue.popleft(), candidate))
        return started

    def _room(self, lane: Lane) -> bool:
        """A free slot ``lane`` may take. A suspect check also waits while a clean one runs:
        the real user's scrypt then shares the CPUs with at most the one guess that was
        already running when it came, not with a new one after each."""
        if sum(self.running.values()) >= self.slots:
            return False
        return lane is Lane.CLEAN or (self.running[Lane.SUSPECT] < self.suspect_slots
                                      and not self.running[Lane.CLEAN])

    def _may_start(self, lane: Lane) -> bool:
        """Room, and nobody of the lane (or, for a suspect, any clean one) waiting first."""
        ahead = self.waiting[Lane.CLEAN] or (lane is Lane.SUSPECT and self.waiting[lane])
        return self._room(lane) and not ahead
