"""Password guessing against a real server on loopback (issue 17, finding 5): the budget
per client address, the lanes that keep a real user out of the guessers' queue, and the
rehash of old scrypt hashes.

Clients take distinct loopback addresses (127.0.0.1 guesses, 127.0.0.2 is the real user).
Hashes are made at the old cost, N = 2^14, which is also what a rehash starts from. Nothing
here times anything: the tests count answers, checks and queue places.
"""

from __future__ import annotations

import asyncio
import base64
import os
import secrets
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mediaserve.adapters.server import create_app
from mediaserve.adapters.server.api.access import ACCESS
from mediaserve.core.config.settings import Settings
from mediaserve.core.http.auth import hash_password
from mediaserve.core.http.guesses import Lane
from tests.server.conftest import MIB, Lib, blob
from tests.server.logins import client_login, raw_login
from tests.server.rawhttp import Connection, build_request, read_body, read_head

PASSWORD = "correct horse battery staple"
TOKEN = "limits-token-0123456789abcdef"
GUESSER, HONEST = "127.0.0.1", "127.0.0.2"
OLD_COST = 1 << 14


def old_hash(password: str = PASSWORD) -> str:
    return hash_password(password, secrets.token_bytes(16), n=OLD_COST)


@pytest.fixture
def lib(tmp_path: Path, library_maker: Callable[[Path, dict], Lib]) -> Lib:
    return library_maker(tmp_path / "lib", {"clip.mp4": blob(MIB, seed=23)})


@pytest.fixture
def users(tmp_path: Path) -> Path:
    path = tmp_path / "etc" / "users"
    path.parent.mkdir()
    path.write_text(f"# the family\nalice:{old_hash()}\n\nbob:{old_hash()}\n"
                    f"carol:{old_hash()}\n", encoding="utf-8")
    path.chmod(0o644)
    return path


async def start(aiohttp_client: Any, lib: Lib, users: Path, first_wait: float = 1.0,
                **settings: Any) -> Any:
    """A server for ``users``; ``first_wait``: the backoff's first step (long, so that a
    test's next tries surely come within it on a loaded machine)."""
    app = create_app(lib.index, lib.root, Settings(auth_users=str(users), **settings))
    app[ACCESS].budget.first_wait = first_wait
    return await aiohttp_client(app)


def basic(user: str, password: str) -> dict[str, str]:
    pair = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {pair}"}


async def get(client: Any, source: str, headers: dict[str, str]) -> Any:
    conn = await Connection.open(client.server.port, source=source)
    try:
        return await conn.request("GET", "/api/videos", headers)
    finally:
        await conn.close()


async def test_failed_basic_logins_get_429_with_retry_after_and_no_check(
        aiohttp_client: Any, lib: Lib, users: Path) -> None:
    client = await start(aiohttp_client, lib, users, 60, login_attempts=3, auth_token=TOKEN)
    queue = client.server.app[ACCESS].passwords.queue
    assert (await get(client, GUESSER, basic("alice", PASSWORD))).status == 200  # memoised
    for number in range(3):
        assert (await get(client, GUESSER, basic("alice", f"guess{number}"))).status == 401
    checks = queue.checks
    for headers in (basic("alice", "guess3"), basic("alice", PASSWORD), basic("nobody", "x")):
        refused = await get(client, GUESSER, headers)
        assert refused.status == 429, headers
        assert 55 <= int(refused.headers["Retry-After"]) <= 60
        assert "too many failed logins" in refused.body.decode()
    assert queue.checks == checks  # refused before scrypt, and before the memo too
    assert (await get(client, HONEST, basic("alice", PASSWORD))).status == 200  # per address
    assert queue.checks == checks  # from the memo: no queue for a known password
    bearer = await get(client, GUESSER, {"Authorization": f"Bearer {TOKEN}"})
    assert bearer.status == 200  # only passwords are budgeted


async def test_the_form_spends_the_same_budget(aiohttp_client: Any, lib: Lib,
                                               users: Path) -> None:
    client = await start(aiohttp_client, lib, users, 60, login_attempts=2, auth_token=TOKEN)
    conn = await Connection.open(client.server.port, source=GUESSER)
    assert (await raw_login(conn, {"user": "alice", "password": "nope"})).status == 401
    assert (await raw_login(conn, {"token": "wrong-token-0123456789"})).status == 401
    page, basic_try, browser = await asyncio.gather(
        raw_login(conn, {"user": "alice", "password": PASSWORD}),
        get(client, GUESSER, basic("alice", PASSWORD)),
        client.get("/", headers={"Accept": "text/html", **basic("bob", "x")}))
    assert page.status == 429 and int(page.headers["Retry-After"]) >= 1
    assert "Too many failed logins" in page.body.decode()
    assert 'name="csrf"' in page.body.decode()
    assert basic_try.status == 429  # one budget for the form and Basic
    assert browser.status == 429 and "Too many failed logins" in await browser.text()


async def _guess_in_parallel(port: int, count: int) -> tuple[list[Connection],
                                                             list[asyncio.Task[int]]]:
    """``count`` wrong Basic guesses, each on its own connection from GUESSER, sent at once;
    the tasks finish with each answer's status."""
    conns = [await Connection.open(port, source=GUESSER) for _ in range(count)]

    async def answer(conn: Connection) -> int:
        response = await read_head(conn.reader)
        await read_body(conn.reader, response, "GET")
        return response.status

    for number, conn in enumerate(conns):
        conn.writer.write(build_request("GET", "/api/videos", basic("alice", f"g{number}")))
    return conns, [asyncio.create_task(answer(conn)) for conn in conns]


async def test_parallel_guesses_from_one_address_get_only_the_budget_of_checks(
        aiohttp_client: Any, lib: Lib, users: Path) -> None:
    client = await start(aiohttp_client, lib, users)  # the default: 10
    queue = client.server.app[ACCESS].passwords.queue
    began = asyncio.get_running_loop().time()
    conns, tasks = await _guess_in_parallel(client.server.port, 60)
    statuses = await asyncio.gather(*tasks)
    assert sorted(statuses) == [401] * 10 + [429] * 50
    assert queue.checks == 10
    # a lower bound, safe on a loaded machine: a refusal is held a second, so a guesser
    # that ignores Retry-After gets one answer a second per connection
    assert asyncio.get_running_loop().time() - began >= 1.0
    assert (await get(client, HONEST, basic("bob", PASSWORD))).status == 200
    for conn in conns:
        await conn.close()


async def test_a_crowd_of_fresh_addresses_is_refused_busy_then_held_suspect(
        aiohttp_client: Any, lib: Lib, users: Path) -> None:
    """Eight fresh addresses at once: two checks run, two wait, four are refused as busy
    (429, come back when the hold is over) instead of queueing ahead of a real user."""
    with users.open("a") as handle:  # at today's cost: checks that last while all arrive
        handle.write(f"erin:{hash_password(PASSWORD, secrets.token_bytes(16))}\n")
    client = await start(aiohttp_client, lib, users)
    queue = client.server.app[ACCESS].passwords.queue
    port = client.server.port
    conns = [await Connection.open(port, source=f"127.0.1.{n}") for n in range(1, 9)]
    for number, conn in enumerate(conns):
        conn.writer.write(build_request("GET", "/api/videos", basic("erin", f"x{number}")))
    answers = []
    for conn in conns:
        answer = await read_head(conn.reader)
        await read_body(conn.reader, answer, "GET")
        answers.append(answer)
    assert sorted(a.status for a in answers) == [401] * 4 + [429] * 4
    assert queue.checks == 4
    for busy in (a for a in answers if a.status == 429):
        assert busy.headers["Retry-After"] == "10"
        assert "busy checking other logins" in busy.body.decode()
    held = next(n for n, a in enumerate(answers, 1) if a.status == 429)
    queue.last_place = None
    assert (await get(client, f"127.0.1.{held}", basic("alice", "y"))).status == 401
    assert queue.last_place == (Lane.SUSPECT, 0)  # held suspect, not clean
    assert (await get(client, HONEST, basic("bob", PASSWORD))).status == 200
    for conn in conns:
        await conn.close()


async def test_a_real_user_is_not_queued_behind_guesses(aiohttp_client: Any, lib: Lib,
                                                        users: Path) -> None:
    """No per-address limit at all (0): the lanes alone keep the real user's first login
    out of the queue of 30 pending guesses."""
    with users.open("a") as handle:  # at today's cost: the check is the whole login
        handle.write(f"dave:{hash_password(PASSWORD, secrets.token_bytes(16))}\n")
    client = await start(aiohttp_client, lib, users, login_attempts=0)
    queue = client.server.app[ACCESS].passwords.queue
    lanes = queue.lanes
    conns, tasks = await _guess_in_parallel(client.server.port, 30)
    for _ in range(500):  # until the server holds them all: one running, the rest queued
        if len(lanes.waiting[Lane.SUSPECT]) >= 25:
            break
        await asyncio.sleep(0.01)
    assert len(lanes.waiting[Lane.SUSPECT]) >= 25
    honest = await get(client, HONEST, basic("dave", PASSWORD))  # a first login: scrypt
    assert honest.status == 200
    # it queued in the clean lane, at worst behind the one guess that came first
    assert queue.last_place is not None and queue.last_place[0] is Lane.CLEAN
    assert queue.last_place[1] <= 1
    answered = sum(task.done() for task in tasks)
    assert answered <= 20, f"the real user waited for {answered} of 30 guesses"
    assert set(await asyncio.gather(*tasks)) == {401}
    for conn in conns:
        await conn.close()


async def test_an_old_hash_is_replaced_at_the_next_good_login(aiohttp_client: Any, lib: Lib,
                                                              users: Path) -> None:
    before = users.read_text()
    link = users.parent / "users-link"  # as /etc/mediaserve/users -> /srv/...: kept a link
    link.symlink_to(users.name)
    client = await start(aiohttp_client, lib, link)
    login = await client_login(client, {"user": "alice", "password": PASSWORD})
    assert login.status == 303
    after = users.read_text()
    lines = after.splitlines()
    assert lines[0] == "# the family" and lines[2] == "" and lines[3:] == before.splitlines()[3:]
    assert lines[1].startswith("alice:scrypt$131072$8$1$")
    assert stat.S_IMODE(os.stat(users).st_mode) == 0o600 and link.is_symlink()
    assert (await client.get("/api/videos")).status == 200  # the cookie made from the new hash
    assert (await get(client, HONEST, basic("alice", PASSWORD))).status == 200
    again = await start(aiohttp_client, lib, users)  # a restart reads the new hash
    cookies = {"mediaserve_auth": login.cookies["mediaserve_auth"].value}
    assert (await again.get("/api/videos", cookies=cookies)).status == 200
    assert (await get(again, HONEST, basic("alice", PASSWORD))).status == 200
    assert (await get(again, HONEST, basic("alice", "wrong"))).status == 401
    assert users.read_text() == after  # a 2^17 hash is left alone
