"""Who may change whose state: users as profiles (``--auth-users``), the cross-site rule of
every state-changing route, hostile bodies on every route (never a 5xx), and a store that
cannot be opened (503, the rest of the server unharmed)."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest

from mediaserve.adapters.profiles.store import StateStore
from mediaserve.core.http.auth import COOKIE_NAME as LOGIN_COOKIE
from mediaserve.core.http.auth import hash_password
from mediaserve.core.profiles import cookie
from tests.profiles.conftest import Server
from tests.server.logins import csrf_field

TOKEN = "test-token-0123456789abcdef"
FILM = "Film (2017).mp4"


def basic(user: str) -> dict[str, str]:
    pair = base64.b64encode(f"{user}:pw-{user}".encode()).decode()
    return {"Authorization": f"Basic {pair}"}


@pytest.fixture
def users_file(tmp_path: Path) -> Path:
    path = tmp_path / "users"
    # cheap scrypt parameters: the tests check who is who, not scrypt's cost
    path.write_text("".join(f"{user}:{hash_password(f'pw-{user}', b'salt' * 4, n=16, r=1)}\n"
                            for user in ("alice", "bob")))
    return path


async def test_each_user_is_a_profile_of_their_own(served: Server, users_file: Path,
                                                   profile_library: Any,
                                                   tmp_path: Path) -> None:
    clients = await served(auth_users=str(users_file), auth_token=TOKEN)
    alice, bob = await clients(headers=basic("alice")), await clients(headers=basic("bob"))
    me = await alice.ok("GET", "/api/me")
    assert me["mode"] == "users" and me["profile"]["name"] == "alice"
    assert me["profile"]["kind"] == "user"
    film = profile_library.ids[FILM]
    await alice.ok("POST", f"/api/me/progress/{film}", json={"position": 42})
    assert (await bob.ok("GET", "/api/me/progress"))["progress"] == {}
    assert (await alice.ok("GET", "/api/profiles"))["profiles"] == [me["profile"]]
    # a local profile's valid cookie does not make Alice anybody else
    local = StateStore.open(tmp_path / "state.db")
    other = local.create("Local")
    forged = cookie.sign(local.secret, other.id, None)
    local.close()
    alice.session.cookie_jar.update_cookies({cookie.COOKIE_NAME: forged})
    assert (await alice.ok("GET", "/api/me"))["profile"]["name"] == "alice"
    # the login form's cookie identifies the user as Basic does
    browser = await clients()
    _status, form = await browser.call("GET", "/login")  # its CSRF field and cookie
    status, _ = await browser.call("POST", "/login", allow_redirects=False,
                                   data={"user": "bob", "password": "pw-bob",
                                         "csrf": csrf_field(form)})
    assert status == 303
    assert browser.cookie(LOGIN_COOKIE)
    assert (await browser.ok("GET", "/api/me"))["profile"]["name"] == "bob"
    # the token belongs to nobody
    token = await clients(headers={"Authorization": f"Bearer {TOKEN}"})
    status, body = await token.call("GET", "/api/me")
    assert status == 403 and "sign in as a user" in body["error"]
    assert (await token.ok("GET", "/api/profiles"))["profiles"] == []


async def test_users_are_managed_by_the_users_file(served: Server, users_file: Path) -> None:
    clients = await served(auth_users=str(users_file))
    alice, bob = await clients(headers=basic("alice")), await clients(headers=basic("bob"))
    mine = (await alice.ok("GET", "/api/me"))["profile"]["id"]
    theirs = (await bob.ok("GET", "/api/me"))["profile"]["id"]
    assert (await alice.call("POST", "/api/profiles", json={"name": "Kid"}))[0] == 409
    assert (await alice.call("POST", f"/api/profiles/{theirs}/select"))[0] == 409
    assert (await alice.call("DELETE", f"/api/profiles/{theirs}"))[0] == 409
    assert (await alice.call("PATCH", f"/api/profiles/{theirs}",
                             json={"colour": "#000000"}))[0] == 403
    assert (await alice.call("PATCH", f"/api/profiles/{mine}", json={"pin": "1234"}))[0] == 409
    changed = await alice.ok("PATCH", f"/api/profiles/{mine}", json={"colour": "#000000"})
    assert changed["profile"]["colour"] == "#000000"


# --------------------------------------------------------------------------- cross-site

ATTACKS = {
    "another site": {"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"},
    "another port of this host": {"Origin": "http://127.0.0.1:1", "Sec-Fetch-Site":
                                  "same-site"},
    "an old browser on another site": {"Origin": "http://evil.example"},
    "a sandboxed frame": {"Origin": "null"},
    "no origin but cross-site": {"Sec-Fetch-Site": "cross-site"},
}


def state_changes(ids: dict[str, str], pid: str) -> list[tuple[str, str, Any]]:
    film = ids[FILM]
    return [("POST", f"/api/me/progress/{film}", {"position": 99}),
            ("POST", f"/api/me/watched/{film}", {"watched": True}),
            ("PUT", "/api/me/preferences", {"quality": "360p"}),
            ("POST", "/api/profiles", {"name": "Intruder"}),
            ("PATCH", f"/api/profiles/{pid}", {"name": "Renamed"}),
            ("POST", f"/api/profiles/{pid}/select", None),
            ("DELETE", f"/api/profiles/{pid}", None),
            ("POST", "/api/me/leave", None)]


@pytest.mark.parametrize("attack", sorted(ATTACKS))
async def test_other_sites_cannot_change_state(served: Server, profile_library: Any,
                                               attack: str) -> None:
    client = await (await served())()
    pid = (await client.ok("POST", "/api/profiles", json={"name": "Alice"}))["profile"]["id"]
    await client.ok("POST", f"/api/profiles/{pid}/select")
    before = (await client.ok("GET", "/api/me"), await client.ok("GET", "/api/me/progress"),
              await client.ok("GET", "/api/profiles"))
    for method, path, body in state_changes(profile_library.ids, pid):
        for payload in ({"json": body}, {"data": b'{"position": 1}',
                                         "headers": {"Content-Type": "text/plain"}}):
            headers = {**payload.get("headers", {}), **ATTACKS[attack]}
            status, answer = await client.call(method, path, **{**payload,
                                                                "headers": headers})
            assert status == 403 and answer["cross_site"], (method, path, answer)
    after = (await client.ok("GET", "/api/me"), await client.ok("GET", "/api/me/progress"),
             await client.ok("GET", "/api/profiles"))
    assert after == before


@pytest.mark.parametrize("headers", [
    {"Origin": "ORIGIN", "Sec-Fetch-Site": "same-origin"},  # our page; sendBeacon too
    {"Sec-Fetch-Site": "none"}, {"Origin": "ORIGIN"}, {},  # an older browser; curl
    {"Origin": "https://friend.example", "Sec-Fetch-Site": "cross-site"},  # --cors-origin
])
async def test_our_pages_and_scripts_can(served: Server, profile_library: Any,
                                         headers: dict[str, str]) -> None:
    client = await (await served(cors_origins=("https://friend.example",)))()
    sent = {k: v.replace("ORIGIN", client.base) for k, v in headers.items()}
    pid = (await client.ok("POST", "/api/profiles", json={"name": "Alice"},
                           headers=sent))["profile"]["id"]
    await client.ok("POST", f"/api/profiles/{pid}/select", headers=sent)
    film = profile_library.ids[FILM]
    await client.ok("POST", f"/api/me/progress/{film}", data=b'{"position": 12}',
                    headers={**sent, "Content-Type": "text/plain;charset=UTF-8"})
    assert (await client.ok("GET", "/api/me/progress"))["progress"][film]["position"] == 12


# --------------------------------------------------------------------------- robustness

HOSTILE = [b"", b"{}", b"null", b"[]", b"\x00\xff", b'{"name": {"$gt": ""}}',
           b'{"pin": ["1234"]}', b'{"position": 1e308, "duration": 1e308}',
           b'{"watched": null}', b'{"a":' * 3000, b'"' + b"x" * 4000 + b'"',
           b'{"name": "\\ud800"}', b'{"quality": "auto", "quality": "8k"}']


async def test_no_body_makes_any_route_fail_with_a_5xx(served: Server,
                                                       profile_library: Any) -> None:
    client = await (await served())()
    pid = (await client.ok("POST", "/api/profiles", json={"name": "Alice"}))["profile"]["id"]
    await client.ok("POST", f"/api/profiles/{pid}/select")
    for method, path, _body in state_changes(profile_library.ids, pid):
        for body in HOSTILE:  # Client.call asserts every status is below 500
            status, answer = await client.call(method, path, data=body)
            assert status < 500 and (status in (200, 201, 204) or answer["error"])


async def test_an_unusable_store_is_503_and_videos_still_play(served: Server,
                                                              tmp_path: Path,
                                                              profile_library: Any) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    client = await (await served(state_db=str(blocker / "state.db")))()
    status, body = await client.call("GET", "/api/me", allow_5xx=True)
    assert status == 503 and "state store" in body["error"] and str(blocker) in body["error"]
    assert (await client.call("POST", "/api/profiles", json={"name": "A"},
                              allow_5xx=True))[0] == 503
    listing = await client.ok("GET", "/api/videos")
    assert listing["count"] == len(profile_library.ids)
