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
that has never given a wrong password and has nothing in flight goes in the *clean* lane,
every other in the *suspect* lane, which may use at most ``suspect_slots`` of the slots and
starts nothing new while a clean check runs: a real user logging in for the first time never
queues behind a crowd of guesses, only behind at most ``clean_queue`` other clean checks,
and shares the CPUs with at most the one guess already running when it came. A full queue
answers ``busy`` at once (a 429 that counts as a failure): guessing cannot pile up memory or
waiting time.

A crowd of fresh addresses (a botnet's first tries) looks clean and can fill the clean
lane for a moment; those refused as busy are then treated as suspect for ``BUSY_HOLD``
seconds, and since a busy refusal counts against their budget, they soon wait out the
backoff instead of crowding the lane again. A real user refused in that moment is told to
come back when the hold is over, and is clean again then.
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
BUSY_HOLD = 10.0
CAPACITY = 4096


class Lane(enum.Enum):
    CLEAN = "clean"
    SUSPECT = "suspect"


class Outcome(enum.Enum):
    """How an admitted try ended."""

    OK = "ok"  # the right password
    WRONG = "wrong"  # checked, and wrong
    BUSY = "busy"  # not checked: the lane's queue was full
    GONE = "gone"  # not answered (the request was cancelled): no mark either way


@dataclass(frozen=True, slots=True)
class Admitted:
    """Check the password, in this lane; then :meth:`GuessBudget.settle` the outcome."""

    lane: Lane


@dataclass(frozen=True, slots=True)
class Refused:
    """Do not check: answer 429 with ``Retry-After: retry_after`` (whole seconds, >= 1);
    ``busy``: because the checks are all taken, not because of this address's failures."""

    retry_after: int
    busy: bool = False


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
    failures: int = 0  # wrong passwords and busy refusals: what the backoff counts
    wrong: int = 0  # wrong passwords: what makes an address suspect for good
    pending: int = 0
    last_failure: float = -math.inf
    clean_after: float = -math.inf  # a busy refusal holds it suspect until then


@dataclass(slots=True)
class GuessBudget:
    """Failed logins per client address, with exponential backoff (see the module)."""

    attempts: int = 10  # free failures per address; 0: no per-address limit
    capacity: int = CAPACITY
    first_wait: float = FIRST_WAIT
    max_wait: float = MAX_WAIT
    forget_after: float = FORGET_AFTER
    busy_hold: float = BUSY_HOLD
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
                and now - max(record.last_failure, record.clean_after) >= self.forget_after):
            del self._table[key]
            record = None
        if record is None:
            record = self._new(key)
            if record is None:
                return Refused(1, busy=True)
        elif self.attempts:
            if record.failures >= self.attempts:
                ready = record.last_failure + self.wait_after(record.failures)
                if now < ready or record.pending:
                    return Refused(max(1, math.ceil(ready - now)))
            elif record.failures + record.pending >= self.attempts:
                return Refused(1)  # its other tries are still being checked
        clean = not record.wrong and not record.pending and now >= record.clean_after
        record.pending += 1
        self._touch(key, record)
        return Admitted(Lane.CLEAN if clean else Lane.SUSPECT)

    def settle(self, key: str, now: float, outcome: Outcome) -> Refused | None:
        """How ``key``'s admitted try ended; for ``BUSY``, the refusal to answer with.

        A success does not wipe earlier failures: an attacker who also holds one good
        account must not be able to reset their budget with it."""
        record = self._table.get(key)
        if record is None:  # cannot happen: a record in flight is never evicted
            return Refused(1, busy=True) if outcome is Outcome.BUSY else None
        record.pending = max(0, record.pending - 1)
        if outcome is Outcome.OK or outcome is Outcome.GONE:
            if not record.failures and not record.pending:
                del self._table[key]  # a clean address leaves no trace
            return None
        record.failures += 1
        record.last_failure = now
        self._touch(key, record)
        if outcome is Outcome.WRONG:
            record.wrong += 1
            return None
        record.clean_after = now + self.busy_hold
        ready = now + self.wait_after(record.failures)
        return Refused(max(1, math.ceil(max(ready, record.clean_after) - now)), busy=True)

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
    clean_queue: int = 2  # what a crowd of fresh addresses can put ahead of a real user
    suspect_queue: int = 32
    running: dict[Lane, int] = field(default_factory=lambda: dict.fromkeys(Lane, 0))
    waiting: dict[Lane, deque[int]] = field(
        default_factory=lambda: {lane: deque() for lane in Lane})

    def request(self, ticket: int, lane: Lane) -> Grant:
        """Start ``ticket`` in ``lane``, queue it, or refuse it."""
        if self._may_start(lane):
            self.running[lane] += 1
            return Grant.RUN
        limit = self.clean_queue if lane is Lane.CLEAN else self.suspect_queue
        if len(self.waiting[lane]) < limit:
            self.waiting[lane].append(ticket)
            return Grant.WAIT
        return Grant.BUSY

    def withdraw(self, ticket: int) -> bool:
        """Take a waiting ticket out of its queue (its client went away)."""
        for queue in self.waiting.values():
            if ticket in queue:
                queue.remove(ticket)
                return True
        return False

    def release(self, lane: Lane) -> list[int]:
        """A check of ``lane`` ended: the waiting tickets that start now, clean ones first."""
        self.running[lane] -= 1
        started = []
        for candidate in (Lane.CLEAN, Lane.SUSPECT):
            queue = self.waiting[candidate]
            while queue and self._room(candidate):
                self.running[candidate] += 1
                started.append(queue.popleft())
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
