"""Password checks for HTTP Basic and the login form: the per-address budget, the scrypt
lanes, the memo of verified passwords, and the rehash of old hashes.

The order matters. The budget comes first: an address that has failed too often is told
``429`` before anything is compared, even a password that would be in the memo, or a
locked-out address could still test guesses against the memo at full speed. The memo
comes next, before any queue: a password already verified (an HMAC of user and password
under a random key of this server, so the memo holds no password) costs a dict lookup, so a
real user's Basic client never waits behind guesses. Only then does scrypt run, in a thread
of its own small pool, in the lane the budget chose (``core.http.guesses``): at most two
checks at once (2 x 128 MiB at N = 2^17), one of them always free for addresses that have
not failed.

A hash made at an older cost (N = 2^14) is replaced at the user's next good login, in the
same slot as the check: the users file is rewritten (``users_file.replace_hash``) and the
new hash used. If the file cannot be written, that is logged once and the old hash kept.
Other workers of the server notice the new file when a login cookie made from the new hash
fails against their copy (``refresh``).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import logging
import os
import secrets
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from mediaserve.adapters.server.site import users_file
from mediaserve.core.http import auth
from mediaserve.core.http.guesses import (
    Admitted,
    Grant,
    GuessBudget,
    Lane,
    Lanes,
    Outcome,
    Refused,
    client_key,
)

logger = logging.getLogger("mediaserve")
_MEMO_LIMIT = 1024
#: a changed users file is looked for at most this often (a stat, in a thread)
_REFRESH_EVERY = 1.0


class LaneBusy(Exception):
    """The lane's queue is full: the check is refused, not queued."""


class ScryptQueue:
    """:class:`Lanes` over asyncio: checks wait their turn, run in a pool of exactly
    ``slots`` threads (the memory bound), and a slot is only given back when its thread is
    done, even if the client went away meanwhile."""

    def __init__(self, lanes: Lanes | None = None) -> None:
        self.lanes = lanes or Lanes()
        self._tickets = itertools.count()
        self._waiters: dict[int, tuple[asyncio.Future[None], Lane]] = {}
        self._pool: ThreadPoolExecutor | None = None  # made in the serving process
        self.checks = 0  # checks started (the tests count them)
        #: the lane and the place in its queue of the latest request (0: started at once)
        self.last_place: tuple[Lane, int] | None = None

    async def run(self, lane: Lane, work: Any, *args: Any) -> Any:
        """``work(*args)`` in a thread when ``lane``'s turn comes; :class:`LaneBusy` when
        the lane's queue is full."""
        ticket = next(self._tickets)
        grant = self.lanes.request(ticket, lane)
        self.last_place = (lane, len(self.lanes.waiting[lane]) if grant is Grant.WAIT else 0)
        if grant is Grant.BUSY:
            raise LaneBusy
        if grant is Grant.WAIT:
            await self._wait(ticket, lane)
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.lanes.slots, thread_name_prefix="scrypt")
        self.checks += 1
        try:
            job = asyncio.get_running_loop().run_in_executor(self._pool, work, *args)
        except BaseException:
            self._release(lane)
            raise
        job.add_done_callback(lambda _job: self._release(lane))
        return await asyncio.shield(job)

    def close(self) -> None:
        """Let the pool's threads go (a check still running finishes first)."""
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    async def _wait(self, ticket: int, lane: Lane) -> None:
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters[ticket] = (waiter, lane)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self._release(lane)  # started, but nobody will use the slot
            else:
                self.lanes.withdraw(ticket)
            raise
        finally:
            self._waiters.pop(ticket, None)

    def _release(self, lane: Lane) -> None:
        for ticket in self.lanes.release(lane):
            waiter, started = self._waiters.get(ticket, (None, lane))
            if waiter is not None and not waiter.done():
                waiter.set_result(None)
            else:  # cannot happen (a cancelled waiter withdraws), but never leak a slot
                self._release(started)


def admit(budget: GuessBudget, client: str | None) -> tuple[str, Admitted | Refused]:
    """``client``'s key in ``budget``, and whether it may try now."""
    key = client_key(client)
    return key, budget.admit(key, time.monotonic())


def token_ok(budget: GuessBudget, given: str, token: str, client: str | None) -> bool | Refused:
    """The token typed into the login form: no scrypt, but the same budget as passwords."""
    key, verdict = admit(budget, client)
    if isinstance(verdict, Refused):
        return verdict
    ok = auth.same_secret(given, token)
    budget.settle(key, time.monotonic(), Outcome.OK if ok else Outcome.WRONG)
    return ok


def _verify(password: str, stored: str, rehash: bool) -> tuple[bool, str | None]:
    """In a thread: does ``password`` match, and its new hash when one is due."""
    if not auth.verify_password(password, stored):
        return False, None
    if rehash and auth.needs_rehash(stored):
        return True, auth.hash_password(password, secrets.token_bytes(16))
    return True, None


@dataclass(slots=True)
class PasswordChecks:
    """The users, and every check of a password or of the token typed into the form."""

    users: dict[str, str]
    path: str | None = None
    budget: GuessBudget = field(default_factory=GuessBudget)
    queue: ScryptQueue = field(default_factory=ScryptQueue)
    signature: users_file.Signature | None = None
    _memo_key: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    _verified: dict[bytes, str] = field(default_factory=dict)  # memo -> stored hash
    _decoy: str = ""
    _rewrite: bool = True  # False once the users file could not be rewritten
    _checked_at: float = 0.0

    def __post_init__(self) -> None:
        self._rewrite = self.path is not None
        common = max(self.users.values(), key=list(self.users.values()).count, default=None)
        self._decoy = auth.decoy_hash(secrets.token_bytes(16), secrets.token_bytes(32), common)


    async def password_ok(self, user: str, password: str,
                          client: str | None) -> bool | Refused:
        """Whether ``password`` is ``user``'s; :class:`Refused` (a 429) when this client
        must wait, or the checks are all busy (which counts as a failure)."""
        key, verdict = admit(self.budget, client)
        if isinstance(verdict, Refused):
            return verdict
        outcome = Outcome.GONE
        try:
            ok = await self._check(user, password, verdict.lane)
            outcome = Outcome.OK if ok else Outcome.WRONG
            return ok
        except LaneBusy:
            outcome = Outcome.BUSY
            refused = self.budget.settle(key, time.monotonic(), outcome)
            return refused if refused is not None else Refused(1, busy=True)
        finally:
            if outcome is not Outcome.BUSY:
                self.budget.settle(key, time.monotonic(), outcome)

    async def _check(self, user: str, password: str, lane: Lane) -> bool:
        stored = self.users.get(user)
        memo = hmac.new(self._memo_key, f"{user}\0{password}".encode("utf-8", "surrogatepass"),
                        hashlib.sha256).digest()
        if stored is not None and self._verified.get(memo) == stored:
            return True
        # an unknown user costs the same scrypt as a known one: no user enumeration
        ok, new = await self.queue.run(lane, _verify, password, stored or self._decoy,
                                       stored is not None and self._rewrite)
        if not ok or stored is None:
            return False
        if new is not None:
            stored = await self._rehash(user, stored, new)
        if len(self._verified) >= _MEMO_LIMIT:
            self._verified.clear()
        self._verified[memo] = stored
        return True

    async def _rehash(self, user: str, old: str, new: str) -> str:
        """Store ``new`` for ``user`` in the file, then here; the hash in use afterwards."""
        if self.path is None:
            return old
        loop = asyncio.get_running_loop()
        try:
            users = await loop.run_in_executor(None, users_file.replace_hash, self.path, user,
                                               old, new)
        except (OSError, ValueError) as exc:
            if self._rewrite:
                self._rewrite = False
                reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
                logger.warning("cannot rewrite the users file %s to strengthen old password "
                               "hashes (%s); they keep working as they are", self.path, reason)
            return old
        self.users = users
        self.signature = await loop.run_in_executor(None, users_file.signature, self.path)
        return users.get(user, old)

    async def refresh(self) -> bool:
        """Re-read the users file if it changed (at most once a second); whether it did.
        Called when a login cookie fails: another worker may have rehashed its user."""
        now = time.monotonic()
        if self.path is None or now - self._checked_at < _REFRESH_EVERY:
            return False
        self._checked_at = now
        loop = asyncio.get_running_loop()
        current = await loop.run_in_executor(None, users_file.signature, self.path)
        if current is None or current == self.signature:
            return False
        try:
            users, current = await loop.run_in_executor(None, users_file.read_users, self.path)
        except ValueError as exc:
            logger.warning("%s; keeping the users read before", exc)
            self.signature = current
            return False
        self.users, self.signature = users, current
        return True


def checks_for(path: str, budget: GuessBudget) -> PasswordChecks:
    """The checks for the users file at ``path`` (read now: errors are start-up errors)."""
    users, found = users_file.read_users(path)
    return PasswordChecks(users, os.path.abspath(path), budget, signature=found)
