"""The profile API on a real server (loopback), without authentication: "Who is watching?",
the signed cookie, progress, watched marks, preferences and the home rows, driven by
independent HTTP clients (each its own cookie jar, as two devices are)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from mediaserve.core.profiles.cookie import COOKIE_NAME
from mediaserve.core.profiles.pin import FREE_TRIES
from tests.profiles.conftest import Client, Server

E1, E2, E3 = (f"Show/Season 1/Show S01E0{n}.mp4" for n in (1, 2, 3))
FILM, CLIP = "Film (2017).mp4", "Clip.mp4"


@pytest.fixture
def ids(profile_library: Any) -> dict[str, str]:
    return profile_library.ids


async def chosen(client: Client, name: str, pin: str | None = None) -> str:
    """Create ``name`` (if needed) and choose it on ``client``; its id."""
    listed = await client.ok("GET", "/api/profiles")
    found = [p["id"] for p in listed["profiles"] if p["name"] == name]
    if not found:
        body: dict[str, Any] = {"name": name, **({"pin": pin} if pin else {})}
        found = [(await client.ok("POST", "/api/profiles", json=body))["profile"]["id"]]
    await client.ok("POST", f"/api/profiles/{found[0]}/select",
                    json={"pin": pin} if pin else None)
    return found[0]


async def test_who_is_watching_create_choose_and_me(served: Server) -> None:
    client = await (await served())()
    assert await client.ok("GET", "/api/profiles") == {"mode": "local", "current": None,
                                                       "profiles": []}
    status, body = await client.call("GET", "/api/me")
    assert status == 403 and body["profile_required"]
    alice = (await client.ok("POST", "/api/profiles", json={"name": "Alice", "pin": "1234"})
             )["profile"]
    assert alice["has_pin"] and "pin_hash" not in alice and alice["kind"] == "local"
    await client.ok("POST", "/api/profiles", json={"name": "Bob", "colour": "#123456"})
    status, body = await client.call("POST", f"/api/profiles/{alice['id']}/select")
    assert status == 403 and body["pin_required"]
    status, body = await client.call("POST", f"/api/profiles/{alice['id']}/select",
                                     json={"pin": "4321"})
    assert (status, body["error"]) == (403, "wrong PIN")
    async with client.session.post(f"{client.base}/api/profiles/{alice['id']}/select",
                                   json={"pin": "1234"}) as response:
        assert response.status == 200
        morsel = response.cookies[COOKIE_NAME]
        assert morsel["httponly"] and morsel["samesite"] == "Lax" and morsel["path"] == "/"
        assert response.headers["Cache-Control"] == "no-store"
    me = await client.ok("GET", "/api/me")
    assert me["profile"]["name"] == "Alice" and me["preferences"]["quality"] == "auto"
    assert me["last_played"] is None
    assert (await client.ok("GET", "/api/profiles"))["current"] == alice["id"]
    await client.ok("POST", "/api/me/leave")
    assert (await client.call("GET", "/api/me"))[0] == 403


@pytest.mark.parametrize(("body", "status"), [
    ({}, 400), ({"name": ""}, 400), ({"name": "x" * 33}, 400), ({"name": "A", "pin": "12"}, 400),
    ({"name": "A", "pin": 1234}, 400), ({"name": "A", "colour": "blue"}, 400),
    ({"name": "A", "admin": True}, 400), ([], 400), ({"name": "Taken"}, 409),
])
async def test_bad_profiles_are_refused_clearly(served: Server, body: Any,
                                                status: int) -> None:
    client = await (await served())()
    await client.ok("POST", "/api/profiles", json={"name": "taken"})
    got, answer = await client.call("POST", "/api/profiles", json=body)
    assert got == status and answer["error"]
    got, answer = await client.call("POST", "/api/profiles", data=b"\xff{not json")
    assert got == 400 and "JSON" in answer["error"]


async def test_one_profile_without_a_pin_is_chosen_implicitly(served: Server) -> None:
    clients = await served()
    first = await clients()
    await first.ok("POST", "/api/profiles", json={"name": "Solo"})
    phone = await clients()
    me = await phone.ok("GET", "/api/me")  # no choice made on this device
    assert me["profile"]["name"] == "Solo" and phone.cookie(COOKIE_NAME)
    await first.ok("POST", "/api/profiles", json={"name": "Second"})
    third = await clients()
    assert (await third.call("GET", "/api/me"))[0] == 403  # two now: choose
    assert (await phone.ok("GET", "/api/me"))["profile"]["name"] == "Solo"  # its cookie


async def test_a_forged_or_stale_cookie_chooses_nobody(served: Server) -> None:
    clients = await served()
    client = await clients()
    alice = await chosen(client, "Alice", "1234")
    bob = await chosen(await clients(), "Bob")
    real = client.cookie(COOKIE_NAME)
    assert real is not None and alice in real
    for forged in (real.replace(alice, bob), real[:-1] + ("0" if real[-1] != "0" else "1"),
                   f"1.{bob}." + "0" * 64, "garbage"):
        other = await clients()
        other.session.cookie_jar.update_cookies({COOKIE_NAME: forged})
        status, body = await other.call("GET", "/api/me")
        assert status == 403 and body["profile_required"], forged
    # a new PIN voids the cookies issued before it (a child's browser chose it earlier)
    child = await clients()
    child.session.cookie_jar.update_cookies({COOKIE_NAME: real})
    assert (await child.ok("GET", "/api/me"))["profile"]["id"] == alice
    await client.ok("PATCH", f"/api/profiles/{alice}", json={"pin": "5678",
                                                               "current_pin": "1234"})
    assert (await child.call("GET", "/api/me"))[0] == 403
    assert (await client.ok("GET", "/api/me"))["profile"]["id"] == alice  # renewed here


async def test_wrong_pins_are_slowed_down_with_retry_after(served: Server) -> None:
    client = await (await served())()
    pid = (await client.ok("POST", "/api/profiles", json={"name": "Kid", "pin": "1111"})
           )["profile"]["id"]
    for _ in range(FREE_TRIES):
        status, _body = await client.call("POST", f"/api/profiles/{pid}/select",
                                          json={"pin": "0000"})
        assert status == 403
    async with client.session.post(f"{client.base}/api/profiles/{pid}/select",
                                   json={"pin": "1111"}) as response:  # even the right one
        assert response.status == 429 and int(response.headers["Retry-After"]) == 30
        assert (await response.json())["retry_after"] > 0
    status, _body = await client.call("DELETE", f"/api/profiles/{pid}", json={"pin": "1111"})
    assert status == 429  # removing waits too


async def test_remove_needs_the_pin_and_takes_the_state(served: Server, ids: dict) -> None:
    client = await (await served())()
    pid = await chosen(client, "Alice", "1234")
    await client.ok("POST", f"/api/me/progress/{ids[FILM]}", json={"position": 30})
    assert (await client.call("DELETE", f"/api/profiles/{pid}"))[0] == 403
    assert (await client.call("DELETE", f"/api/profiles/{pid}", json={"pin": "0"}))[0] == 403
    await client.ok("DELETE", f"/api/profiles/{pid}", json={"pin": "1234"})
    assert client.cookie(COOKIE_NAME) in (None, "")
    assert (await client.call("DELETE", f"/api/profiles/{pid}"))[0] == 404
    again = await chosen(client, "Alice")
    assert again != pid and (await client.ok("GET", "/api/me/progress"))["progress"] == {}


async def test_progress_from_one_device_is_seen_by_another_at_once(served: Server,
                                                                   ids: dict) -> None:
    clients = await served()
    laptop, phone, sister = await clients(), await clients(), await clients()
    await chosen(laptop, "Alice", "1234")
    await chosen(phone, "Alice", "1234")
    await chosen(sister, "Sister")
    film = ids[FILM]
    # what navigator.sendBeacon sends for a string: POST, text/plain, no custom header
    async with laptop.session.post(f"{laptop.base}/api/me/progress/{film}",
                                   data=json.dumps({"position": 754.2, "duration": 5400}),
                                   headers={"Content-Type": "text/plain;charset=UTF-8"}
                                   ) as response:
        assert response.status == 200
    seen = (await phone.ok("GET", f"/api/me/progress?ids={film},{ids[CLIP]}"))["progress"]
    assert list(seen) == [film]
    assert seen[film]["position"] == 754.2 and seen[film]["in_progress"]
    assert not seen[film]["watched"] and seen[film]["duration"] == 5400
    assert (await phone.ok("GET", "/api/me"))["last_played"]["video"] == film
    assert (await sister.ok("GET", "/api/me/progress"))["progress"] == {}
    # a Blob of application/json, as the page's other beacons send
    await phone.ok("POST", f"/api/me/progress/{film}", data=b'{"position": 5000}',
                   headers={"Content-Type": "application/json"})
    row = (await laptop.ok("GET", f"/api/me/progress?ids={film}"))["progress"][film]
    assert row["watched"] and not row["in_progress"]  # the last 10 % (and 10 minutes)


@pytest.mark.parametrize(("body", "status"), [
    (b"", 400), (b"{", 400), (b'{"position": -1}', 400), (b'{"position": "1"}', 400),
    (b'{"position": 1e999}', 400), (b'{"position": 1, "duration": 0}', 400),
    (b'{"position": 1, "volume": 1}', 400), (b"[1]", 400), (b"x" * 5000, 400),
    (b"x" * 70_000, 413),
])
async def test_bad_reports_get_a_clear_4xx(served: Server, ids: dict, body: bytes,
                                           status: int) -> None:
    client = await (await served())()
    await chosen(client, "Alice")
    got, answer = await client.call("POST", f"/api/me/progress/{ids[FILM]}", data=body)
    assert got == status and answer["error"]


async def test_unknown_videos_and_bad_queries_are_4xx(served: Server) -> None:
    client = await (await served())()
    await chosen(client, "Alice")
    status, body = await client.call("POST", "/api/me/progress/0123456789ab",
                                     json={"position": 1})
    assert status == 404 and body["error"] == "unknown video id"
    assert (await client.call("POST", "/api/me/watched/0123456789ab"))[0] == 404
    for query in ("ids=xyz", "ids=" + ",".join(["0123456789ab"] * 1001)):
        assert (await client.call("GET", f"/api/me/progress?{query}"))[0] == 400
    for limit in ("0", "51", "x", "-1"):
        assert (await client.call("GET", f"/api/me/home?limit={limit}"))[0] == 400
    assert (await client.call("GET", "/api/profiles/0123456789abcdef"))[0] == 405
    assert (await client.call("POST", "/api/profiles/0123456789abcdef/select"))[0] == 404


async def test_watched_by_hand_on_and_off(served: Server, ids: dict) -> None:
    client = await (await served())()
    await chosen(client, "Alice")
    film = ids[FILM]
    await client.ok("POST", f"/api/me/progress/{film}", json={"position": 600,
                                                              "duration": 5400})
    row = (await client.ok("POST", f"/api/me/watched/{film}"))["progress"]
    assert row["watched"] and row["position"] == 600 and not row["in_progress"]
    row = (await client.ok("POST", f"/api/me/watched/{film}", json={"watched": False})
           )["progress"]
    assert not row["watched"] and row["position"] == 0
    assert (await client.call("POST", f"/api/me/watched/{film}",
                              json={"watched": "yes"}))[0] == 400


async def test_preferences_are_merged_and_checked(served: Server) -> None:
    client = await (await served())()
    await chosen(client, "Alice")
    prefs = (await client.ok("PUT", "/api/me/preferences",
                             json={"subtitles": True, "subtitle_language": "fr"})
             )["preferences"]
    prefs = (await client.ok("PUT", "/api/me/preferences",
                             json={"quality": "480p", "bandwidth_limit": 2_000_000,
                                   "autoplay_next": False}))["preferences"]
    assert prefs == {"subtitles": True, "subtitle_language": "fr", "quality": "480p",
                     "bandwidth_limit": 2_000_000, "autoplay_next": False}
    assert (await client.ok("GET", "/api/me"))["preferences"] == prefs
    for bad in ({"quality": "8k"}, {"bandwidth_limit": 10}, {"theme": "dark"}, [],
                {"quality": "99p"}, {"quality": "720P"}, {"quality": 720}, {"quality": None}):
        status, body = await client.call("PUT", "/api/me/preferences", json=bad)
        assert status == 400 and body["error"]
    # a rendition's own height (the quality menu's choice of a 576-line source) is kept
    prefs = (await client.ok("PUT", "/api/me/preferences", json={"quality": "576p"})
             )["preferences"]
    assert prefs["quality"] == "576p"


async def test_home_rows_fill_and_empty(served: Server, ids: dict) -> None:
    client = await (await served())()
    await chosen(client, "Alice")
    home = await client.ok("GET", "/api/me/home")
    assert home["continue_watching"] == [] and home["next_up"] == []
    added = [item["video"] for item in home["recently_added"]]
    assert sorted(added) == sorted(ids.values())  # newest first (by file time)
    await client.ok("POST", f"/api/me/progress/{ids[E1]}", json={"position": 1300,
                                                                 "duration": 1320})
    await client.ok("POST", f"/api/me/progress/{ids[FILM]}", json={"position": 60,
                                                                   "duration": 6000})
    await client.ok("POST", f"/api/me/progress/{ids[CLIP]}", json={"position": 20,
                                                                   "duration": 60})
    home = await client.ok("GET", "/api/me/home")
    assert [i["video"] for i in home["continue_watching"]] == [ids[CLIP], ids[FILM]]
    assert home["continue_watching"][0]["card"]["name"] == CLIP
    assert [(i["video"], i["after"]) for i in home["next_up"]] == [(ids[E2], ids[E1])]
    await client.ok("POST", f"/api/me/watched/{ids[E2]}")
    await client.ok("POST", f"/api/me/watched/{ids[CLIP]}")
    home = await client.ok("GET", "/api/me/home?limit=1")
    assert [i["video"] for i in home["continue_watching"]] == [ids[FILM]]
    assert [(i["video"], i["after"]) for i in home["next_up"]] == [(ids[E3], ids[E2])]
    assert len(home["recently_added"]) == 1
    await client.ok("POST", f"/api/me/watched/{ids[E3]}")
    assert (await client.ok("GET", "/api/me/home"))["next_up"] == []  # the season is done
