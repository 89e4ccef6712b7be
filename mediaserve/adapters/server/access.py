"""Who may talk to the server: the Host check and authentication, as aiohttp middlewares.

Both are middlewares registered in ``create_app`` rather than checks in handlers, so every
route is covered, including routes added later (stats, posters, pages): a handler cannot
forget them. The only answers given without credentials are the login form itself and CORS
preflights (``OPTIONS`` carries no credentials by design and returns no data).

A client proves itself with the token (``Authorization: Bearer``, ``?token=`` for players
that can only be given a URL, or the cookie the login form sets) or, when a users file is
configured, with HTTP Basic. scrypt is slow on purpose, so Basic passwords are checked in an
executor, at most two at a time, and a password already verified is remembered (keyed with
an HMAC under a per-process random key, so the memo holds no password).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from html import escape
from pathlib import Path

from aiohttp import web

from mediaserve.adapters.identity import AUTH_USER
from mediaserve.adapters.server.state import json_error
from mediaserve.core.config.settings import Settings
from mediaserve.core.http import auth
from mediaserve.core.http.auth import HostPolicy

LOGIN_PATH = "/login"
_COOKIE_MAX_AGE = 30 * 24 * 3600
_MEMO_LIMIT = 1024


class AccessError(ValueError):
    """The access settings cannot be used (an unreadable or malformed users file)."""


@dataclass(slots=True)
class Access:
    """The access policy of one app: hosts, token, users."""

    hosts: HostPolicy
    token: str = ""
    users: dict[str, str] = field(default_factory=dict)
    _memo_key: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    _verified: dict[bytes, str] = field(default_factory=dict)  # memo -> stored hash
    _scrypt_slots: asyncio.Semaphore | None = None
    _decoy: str = ""  # a hash to check unknown users against (same cost as a known user)

    @property
    def required(self) -> bool:
        return bool(self.token or self.users)

    @classmethod
    def from_settings(cls, settings: Settings) -> Access:
        users: dict[str, str] = {}
        if settings.auth_users:
            path = Path(settings.auth_users)
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
                raise AccessError(f"cannot read the users file {path}: {reason}") from None
            try:
                users = auth.parse_users(text, str(path))
            except ValueError as exc:
                raise AccessError(str(exc)) from None
            if not users:
                raise AccessError(f"the users file {path} has no users")
        decoy = auth.hash_password(secrets.token_urlsafe(), secrets.token_bytes(16)) \
            if users else ""
        return cls(HostPolicy.build(settings.host, settings.allowed_hosts),
                   settings.auth_token, users, _decoy=decoy)

    async def _password_ok(self, user: str, password: str) -> bool:
        stored = self.users.get(user)
        memo = hmac.new(self._memo_key, f"{user}\0{password}".encode(), hashlib.sha256).digest()
        if stored is not None and self._verified.get(memo) == stored:
            return True
        if self._scrypt_slots is None:
            self._scrypt_slots = asyncio.Semaphore(2)  # bounds the CPU a flood of guesses gets
        async with self._scrypt_slots:
            loop = asyncio.get_running_loop()
            # an unknown user costs the same scrypt as a known one: no user enumeration
            ok = await loop.run_in_executor(None, auth.verify_password, password,
                                            stored or self._decoy)
        if ok and stored is not None:
            if len(self._verified) >= _MEMO_LIMIT:
                self._verified.clear()
            self._verified[memo] = stored
            return True
        return False

    def cookie_ok(self, value: str) -> bool:
        if self.token and auth.same_secret(value, auth.token_cookie(self.token)):
            return True
        return self.cookie_user(value) is not None

    def cookie_user(self, value: str | None) -> str | None:
        """The user a login cookie proves, None when it is no valid user's cookie."""
        user = auth.cookie_user(value) if value is not None else None
        stored = self.users.get(user) if user is not None else None
        if user is not None and stored is not None and auth.same_secret(
                value or "", auth.user_cookie(user, stored)):
            return user
        return None

    def secret_ok(self, bearer: str | None, query_token: str | None,
                  cookie: str | None) -> bool:
        """True when the bearer token, the ``?token=`` value or the login cookie is right:
        every check but Basic's scrypt (the stream fast path makes only these)."""
        token = self.token
        if token and ((bearer is not None and auth.same_secret(bearer, token))
                      or (query_token is not None and auth.same_secret(query_token, token))):
            return True
        return cookie is not None and self.cookie_ok(cookie)

    async def authenticated(self, request: web.Request) -> bool | None:
        """True: let it through; False: wrong credentials; None: no credentials at all."""
        parsed = auth.split_authorization(request.headers.get("Authorization"))
        query_token = request.query.get("token")
        cookie = request.cookies.get(auth.COOKIE_NAME)
        bearer = parsed[1] if parsed is not None and parsed[0] == "bearer" else None
        if self.secret_ok(bearer, query_token, cookie):
            user = self.cookie_user(cookie) if self.users else None
            if user is not None:  # a user is a profile (adapters/profiles)
                request[AUTH_USER] = user
            return True
        if parsed is not None and parsed[0] == "basic" and self.users:
            pair = auth.parse_basic(parsed[1])
            if pair is not None and await self._password_ok(*pair):
                request[AUTH_USER] = pair[0]
                return True
        given = parsed is not None or query_token is not None or cookie is not None
        return False if given else None


ACCESS = web.AppKey("mediaserve_access", Access)


def _challenge(access: Access) -> str:
    schemes = []
    if access.token:
        schemes.append('Bearer realm="mediaserve"')
    if access.users:
        schemes.append('Basic realm="mediaserve", charset="UTF-8"')
    return ", ".join(schemes)


def _wants_page(request: web.Request) -> bool:
    return (request.method in ("GET", "HEAD") and not request.path.startswith("/api/")
            and "text/html" in request.headers.get("Accept", ""))


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def hosts_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """421 for a Host that is not ours: what a DNS-rebinding page would send."""
    if not request.app[ACCESS].hosts.allows(request.headers.get("Host")):
        return json_error(421, "this server does not answer for that host name; start it "
                          "with --allowed-host NAME to accept it")
    return await handler(request)


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """401 unless the request carries valid credentials (when any are configured)."""
    access = request.app[ACCESS]
    if (not access.required or request.method == "OPTIONS"
            or request.path == LOGIN_PATH):
        return await handler(request)
    verdict = await access.authenticated(request)
    if verdict:
        return await handler(request)
    if _wants_page(request):  # a person at a browser: the form, still with a 401
        return _login_page(request, status=401, failed=verdict is False)
    message = ("invalid credentials" if verdict is False else
               "authentication required: send 'Authorization: Bearer TOKEN', add "
               "?token=TOKEN to the URL, or log in at /login")
    response = json_error(401, message)
    response.headers["WWW-Authenticate"] = _challenge(access)
    return response


# --------------------------------------------------------------------------- login form

_FORM = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>mediaserve: log in</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body>
<h1>mediaserve</h1>
{message}<form method="post" action="/login">
<input type="hidden" name="next" value="{next}">
{fields}<p><button type="submit">Log in</button></p>
</form>
</body>
</html>
"""
_TOKEN_FIELD = ('<p><label>Access token<br><input type="password" name="token" '
                'autocomplete="current-password"></label></p>\n')
_USER_FIELDS = ('<p><label>User<br><input name="user" autocomplete="username"></label></p>\n'
                '<p><label>Password<br><input type="password" name="password" '
                'autocomplete="current-password"></label></p>\n')


def _safe_next(target: str | None) -> str:
    """Only a path on this server: never an open redirect to another site."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return auth.redact(target)


def _login_page(request: web.Request, status: int = 200, failed: bool = False,
                target: str | None = None) -> web.Response:
    access = request.app[ACCESS]
    fields = (_TOKEN_FIELD if access.token else "") + (_USER_FIELDS if access.users else "")
    message = "<p><strong>Wrong token or password.</strong></p>\n" if failed else ""
    next_path = _safe_next(target if target is not None else request.path_qs)
    if next_path == LOGIN_PATH:
        next_path = _safe_next(request.query.get("next"))
    body = _FORM.format(message=message, next=escape(next_path), fields=fields)
    return web.Response(status=status, text=body, content_type="text/html", charset="utf-8",
                        headers={"Cache-Control": "no-store"})


async def login_form(request: web.Request) -> web.Response:
    return _login_page(request)


async def login_submit(request: web.Request) -> web.Response:
    """Check the form; on success set the cookie and go back where the user was going."""
    access = request.app[ACCESS]
    form = await request.post()
    target = _safe_next(str(form.get("next", "/")))
    token, user, password = (str(form.get(key, "")) for key in ("token", "user", "password"))
    cookie = None
    if token and access.token and auth.same_secret(token, access.token):
        cookie = auth.token_cookie(access.token)
    elif user and access.users and await access._password_ok(user, password):
        cookie = auth.user_cookie(user, access.users[user])
    if cookie is None:
        return _login_page(request, status=401, failed=True, target=target)
    response = web.Response(status=303, headers={"Location": target,
                                                 "Cache-Control": "no-store"})
    response.set_cookie(auth.COOKIE_NAME, cookie, max_age=_COOKIE_MAX_AGE, path="/",
                        httponly=True, samesite="Lax", secure=request.secure)
    return response


def install_access(app: web.Application, settings: Settings) -> None:
    """The access policy, the login routes (only when auth is on) and a note of it."""
    access = Access.from_settings(settings)
    app[ACCESS] = access
    if access.required:
        app.router.add_get(LOGIN_PATH, login_form)
        app.router.add_post(LOGIN_PATH, login_submit)


class RedactTokens(logging.Filter):
    """Replaces ``token=...`` in every log line that passes (access log, errors)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = auth.redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        return True


__all__ = ["ACCESS", "Access", "AccessError", "RedactTokens", "auth_middleware",
           "hosts_middleware", "install_access"]
