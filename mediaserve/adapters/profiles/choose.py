"""``/api/profiles``: the "Who is watching?" screen's routes.

List, create, change, remove and choose local profiles. With ``--auth-users`` the profiles
are the users: the list holds the signed-in user's own, and creating, removing or choosing
one is refused (409) because the user file and ``mediaserve profiles`` manage them.

A profile with a PIN needs it to be chosen, changed or removed; wrong PINs are counted in
the store and slowed down (``core/profiles/pin.py``): 403 for a wrong PIN, 429 with
``Retry-After`` while the wait runs. The PIN is a lock against children, not security
(README, *Profiles*).
"""

from __future__ import annotations

import math
from typing import Any

from aiohttp import web

from mediaserve.adapters.profiles.schema import NoSuchProfile
from mediaserve.adapters.profiles.service import (
    PROFILES,
    Refused,
    body_of,
    fields,
    finish,
    public,
    reply,
)
from mediaserve.adapters.profiles.session import Who, clear_cookie, resolve, set_cookie
from mediaserve.adapters.profiles.store import KEEP, StateStore
from mediaserve.core.profiles import cookie
from mediaserve.core.profiles.transfer import ProfileRecord

USERS_MANAGED = ("this server's profiles are its users (--auth-users): add or remove users "
                 "with `mediaserve passwd` and `mediaserve profiles remove`")


def pin_gate(store: StateStore, record: ProfileRecord, pin: object) -> None:
    """Pass when the profile has no PIN or ``pin`` is right; else the 403 or 429."""
    if record.pin_hash is None:
        return
    if pin is None:
        raise Refused(403, "this profile has a PIN: send it as \"pin\"", pin_required=True)
    verdict = store.try_pin(record.id, pin)
    if verdict.locked:
        raise Refused(429, f"too many wrong PINs: try again in {math.ceil(verdict.wait)} s",
                      pin_required=True, retry_after=round(verdict.wait, 1))
    if not verdict.ok:
        raise Refused(403, "wrong PIN", pin_required=True,
                      retry_after=round(verdict.wait, 1))


def _local(store: StateStore, asker: Who, pid: str) -> ProfileRecord:
    if asker.users_mode:
        raise Refused(409, USERS_MANAGED)
    record = store.profile(pid)
    if record is None:
        raise NoSuchProfile(pid)
    if record.kind != "local":
        raise Refused(409, "a user's profile is chosen by signing in as the user")
    return record


def _list(store: StateStore, asker: Who) -> tuple[Any, list[ProfileRecord]]:
    current = resolve(store, asker)
    if asker.users_mode:
        return current, [current.profile] if current.profile else []
    return current, store.profiles("local")


async def list_profiles(request: web.Request) -> web.Response:
    """``{"mode", "current", "profiles": [PROFILE, ...]}``."""
    app = request.app[PROFILES]
    asker = app.who(request)
    current, found = await app.call(_list, asker)
    chosen = current.profile.id if current.profile else None
    return finish(reply({"mode": asker.mode, "current": chosen,
                         "profiles": [public(record) for record in found]}),
                  request, current)


async def create_profile(request: web.Request) -> web.Response:
    """``{"name", "colour"?, "pin"?}`` -> 201 ``{"profile": PROFILE}``."""
    app = request.app[PROFILES]
    app.guard(request)
    if app.users_mode:
        raise Refused(409, USERS_MANAGED)
    body = fields(await body_of(request), ("name", "colour", "pin"))
    if "name" not in body:
        raise Refused(400, "name is required")
    record = await app.call(lambda store: store.create(body["name"], body.get("colour"),
                                                       body.get("pin")))
    return reply({"profile": public(record)}, 201)


def _update(store: StateStore, asker: Who, pid: str, body: dict[str, Any]) -> ProfileRecord:
    if asker.users_mode:
        mine = resolve(store, asker).profile
        if mine is None or mine.id != pid:
            raise Refused(403, "a user may change only their own profile")
        if "name" in body or "pin" in body:
            raise Refused(409, "a user's profile is named after the user and has no PIN")
    else:
        pin_gate(store, _local(store, asker, pid), body.get("current_pin"))
    return store.update(pid, name=body.get("name"), colour=body.get("colour"),
                        pin=body.get("pin", KEEP))


async def update_profile(request: web.Request) -> web.Response:
    """``{"name"?, "colour"?, "pin"?: "1234" | null, "current_pin"?}`` -> ``{"profile"}``.
    A new PIN invalidates the cookies issued before it; this browser's is renewed."""
    app = request.app[PROFILES]
    app.guard(request)
    pid = request.match_info["pid"]
    body = fields(await body_of(request), ("name", "colour", "pin", "current_pin"))
    asker = app.who(request)
    record = await app.call(_update, asker, pid, body)
    response = reply({"profile": public(record)})
    if not asker.users_mode and "pin" in body and cookie.claimed_profile(asker.cookie) == pid:
        secret = await app.call(lambda store: store.secret)
        set_cookie(response, request, cookie.sign(secret, pid, record.pin_hash))
    return response


def _delete(store: StateStore, asker: Who, pid: str, pin: object) -> None:
    pin_gate(store, _local(store, asker, pid), pin)
    store.delete(pid)


async def delete_profile(request: web.Request) -> web.Response:
    """Body ``{"pin"}`` when the profile has one -> 204; its state goes with it."""
    app = request.app[PROFILES]
    app.guard(request)
    pid = request.match_info["pid"]
    body = fields(await body_of(request, required=False), ("pin",))
    asker = app.who(request)
    await app.call(_delete, asker, pid, body.get("pin"))
    response = web.Response(status=204, headers={"Cache-Control": "no-store"})
    if cookie.claimed_profile(asker.cookie) == pid:
        clear_cookie(response, request)
    return response


def _select(store: StateStore, asker: Who, pid: str, pin: object) -> tuple[ProfileRecord,
                                                                            str]:
    record = _local(store, asker, pid)
    pin_gate(store, record, pin)
    return record, cookie.sign(store.secret, pid, record.pin_hash)


async def select_profile(request: web.Request) -> web.Response:
    """Body ``{"pin"}`` when the profile has one -> ``{"profile", "preferences"}`` and the
    signed cookie."""
    app = request.app[PROFILES]
    app.guard(request)
    pid = request.match_info["pid"]
    body = fields(await body_of(request, required=False), ("pin",))
    record, value = await app.call(_select, app.who(request), pid, body.get("pin"))
    response = reply({"profile": public(record),
                      "preferences": record.preferences.as_dict()})
    set_cookie(response, request, value)
    return response


async def leave(request: web.Request) -> web.Response:
    """Forget this browser's choice (back to "Who is watching?") -> 204."""
    app = request.app[PROFILES]
    app.guard(request)
    response = web.Response(status=204, headers={"Cache-Control": "no-store"})
    clear_cookie(response, request)
    return response
