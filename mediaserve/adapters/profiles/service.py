"""What the profile handlers share: the store's thread, the mode, JSON answers and errors.

Every handler does its store work in one call to the store's thread (:meth:`ProfileApp.call`),
which also turns each failure into the 4xx it stands for (503 when the store itself is
unusable), and refuses cross-site requests first for the routes that change state
(``session.cross_site``). Answers are ``Cache-Control: no-store``: they are one profile's,
never a shared cache's.
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from mediaserve.adapters.profiles.library_view import NextEpisodes, ViewCache
from mediaserve.adapters.profiles.schema import Conflict, NoSuchProfile, StoreError
from mediaserve.adapters.profiles.session import Current, Who, cross_site, set_cookie, who
from mediaserve.adapters.profiles.worker import StoreThread
from mediaserve.core.profiles.progress import read_json_object
from mediaserve.core.profiles.rules import RuleError

#: bodies of the profile routes (a name, a colour, a PIN, preferences)
MAX_BODY = 4096
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Refused(Exception):
    """An answer decided inside the store's thread: status, message, extra JSON fields."""

    def __init__(self, status: int, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.message, self.extra = status, message, extra


def reply(data: Any, status: int = 200, text: str | None = None) -> web.Response:
    body = text if text is not None else json.dumps(data, ensure_ascii=False)
    return web.Response(status=status, text=body, content_type="application/json",
                        charset="utf-8", headers={"Cache-Control": "no-store"})


def error(status: int, message: str, **extra: Any) -> web.Response:
    response = reply({"error": message, **extra}, status)
    if status == 429 and "retry_after" in extra:
        response.headers["Retry-After"] = str(math.ceil(extra["retry_after"]))
    return response


async def body_of(request: web.Request, required: bool = True) -> dict[str, Any]:
    """The JSON object a request carries (any Content-Type: a beacon sends text/plain)."""
    raw = await request.read()
    if not raw.strip() and not required:
        return {}
    return read_json_object(raw, MAX_BODY)


def public(record: Any) -> dict[str, Any]:
    """A profile as the API shows it: no PIN hash, whether it has a PIN."""
    return {"id": record.id, "kind": record.kind, "name": record.name,
            "colour": record.colour, "has_pin": record.pin_hash is not None,
            "created": record.created}


class ProfileApp:
    """What the handlers share: the settings' mode, the store's thread, the view cache."""

    def __init__(self, state: Any, path: Path, next_episodes: NextEpisodes | None) -> None:
        self.state = state
        self.users_mode = bool(state.settings.auth_users)
        self.trusted: tuple[str, ...] = tuple(state.settings.cors_origins)
        self.thread = StoreThread(path)
        self.views = ViewCache(next_episodes) if next_episodes else ViewCache()

    def who(self, request: web.Request) -> Who:
        return who(request, self.users_mode)

    def guard(self, request: web.Request) -> None:
        """Refuse a state-changing request from another site (before reading its body)."""
        reason = cross_site(request, self.trusted)
        if reason is not None:
            raise Answer(error(403, reason, cross_site=True))

    async def call(self, func: Callable[..., Any], *args: Any) -> Any:
        """``func(store, *args)`` in the store's thread; every failure becomes the 4xx (or
        503: the store is unusable) it stands for, raised as an :class:`Answer`."""
        try:
            return await self.thread.run(func, *args)
        except Refused as exc:
            raise Answer(error(exc.status, exc.message, **exc.extra)) from None
        except RuleError as exc:
            raise Answer(error(400, str(exc))) from None
        except NoSuchProfile:
            raise Answer(error(404, "no such profile")) from None
        except Conflict as exc:
            raise Answer(error(409, str(exc))) from None
        except StoreError as exc:
            raise Answer(error(503, f"profiles are unavailable: {exc}")) from None
        except sqlite3.OperationalError as exc:  # busy past the timeout, disk full, I/O
            self.state.logger.warning("mediaserve: state store: %s", exc)
            raise Answer(error(503, f"the state store is busy or failing ({exc}); try "
                                "again")) from None


class Answer(Exception):
    """Carries a finished JSON response out of a handler (see :func:`with_answers`)."""

    def __init__(self, response: web.Response) -> None:
        super().__init__(response.status)
        self.response = response


def with_answers(handler: Handler) -> Handler:
    """A handler whose :class:`Answer` exceptions become their response."""

    async def wrapped(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except Answer as answer:
            return answer.response
        except Refused as exc:  # decided on the loop
            return error(exc.status, exc.message, **exc.extra)
        except RuleError as exc:  # a body that is not a JSON object, read on the loop
            return error(400, str(exc))

    wrapped.__name__ = handler.__name__
    wrapped.__doc__ = handler.__doc__
    return wrapped


def need_profile(current: Current, asker: Who) -> Any:
    """The request's profile, or the 403 that says how to get one."""
    if current.profile is None:
        raise Refused(403, current.reason, profile_required=True, mode=asker.mode)
    return current.profile


def finish(response: web.Response, request: web.Request, current: Current) -> web.Response:
    """Send the cookie of an implicit choice along with the answer."""
    if current.set_cookie is not None:
        set_cookie(response, request, current.set_cookie)
    return response


def fields(body: dict[str, Any], allowed: tuple[str, ...]) -> dict[str, Any]:
    """``body``, refusing a key outside ``allowed`` (a typo must not pass silently)."""
    unknown = sorted(key for key in body if key not in allowed)
    if unknown:
        raise RuleError(f"unknown field {unknown[0]!r}; expected {', '.join(allowed)}")
    return body


PROFILES = web.AppKey("mediaserve_profiles", ProfileApp)
