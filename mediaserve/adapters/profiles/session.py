"""Whose state a request reads and writes, and whether it may change it.

Two modes, fixed by the server's settings:

* **users** (``--auth-users``): the profile *is* the user the authentication middleware
  verified (Basic or the user's login cookie), made on first use and named after them. No
  cookie a client holds can point elsewhere. A client with only the token is nobody.
* **local** (no authentication, or ``--auth-token``): profiles chosen on the "Who is
  watching?" screen; the choice travels in the signed ``mediaserve_profile`` cookie
  (``core/profiles/cookie.py``). When exactly one profile exists and it has no PIN, it is
  chosen implicitly (and the cookie set), so a household of one never sees the screen.

:func:`resolve` runs in the store's thread (it reads the store); the rest on the loop.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from mediaserve.adapters.identity import authenticated_user
from mediaserve.adapters.profiles.store import StateStore
from mediaserve.core.profiles import cookie
from mediaserve.core.profiles.origin import cross_site_refusal
from mediaserve.core.profiles.transfer import ProfileRecord


@dataclass(frozen=True, slots=True)
class Who:
    """What a request says about its profile, read on the loop."""

    users_mode: bool
    user: str | None
    cookie: str | None

    @property
    def mode(self) -> str:
        return "users" if self.users_mode else "local"


@dataclass(frozen=True, slots=True)
class Current:
    """The request's profile, or why there is none; ``set_cookie``: a value to send (an
    implicit choice)."""

    profile: ProfileRecord | None
    set_cookie: str | None = None
    reason: str = ""


NO_USER = ("this server's profiles are its users (--auth-users): sign in as a user, not "
           "with the token")
NO_CHOICE = "no profile chosen: choose one with POST /api/profiles/{id}/select"


def who(request: web.Request, users_mode: bool) -> Who:
    return Who(users_mode, authenticated_user(request) if users_mode else None,
               request.cookies.get(cookie.COOKIE_NAME))


def resolve(store: StateStore, asker: Who) -> Current:
    if asker.users_mode:
        if asker.user is None:
            return Current(None, reason=NO_USER)
        return Current(store.user_profile(asker.user))
    pid = cookie.claimed_profile(asker.cookie)
    if pid is not None and asker.cookie is not None:
        found = store.profile(pid)
        if (found is not None and found.kind == "local"
                and cookie.verify(store.secret, asker.cookie, pid, found.pin_hash)):
            return Current(found)
    local = store.profiles("local")
    if len(local) == 1 and local[0].pin_hash is None:
        only = local[0]
        return Current(only, set_cookie=cookie.sign(store.secret, only.id, None))
    return Current(None, reason=NO_CHOICE)


def set_cookie(response: web.StreamResponse, request: web.Request, value: str) -> None:
    response.set_cookie(cookie.COOKIE_NAME, value, max_age=cookie.MAX_AGE_S, path="/",
                        httponly=True, samesite="Lax", secure=request.secure)


def clear_cookie(response: web.StreamResponse, request: web.Request) -> None:
    response.del_cookie(cookie.COOKIE_NAME, path="/", httponly=True, samesite="Lax",
                        secure=request.secure)


def cross_site(request: web.Request, trusted: tuple[str, ...]) -> str | None:
    """Why a state-changing request must be refused (``core/profiles/origin.py``)."""
    return cross_site_refusal(request.method, request.headers.get("Sec-Fetch-Site"),
                              request.headers.get("Origin"),
                              f"{request.scheme}://{request.host}", trusted)
