"""Who may talk to the server: the Host check and authentication, as aiohttp middlewares.

Both are middlewares registered in ``create_app`` rather than checks in handlers, so every
route is covered, including routes added later (stats, posters, pages): a handler cannot
forget them. The only answers given without credentials are the login form itself and CORS
preflights (``OPTIONS`` carries no credentials by design and returns no data).

A client proves itself with the token (``Authorization: Bearer``, ``?token=`` for players
that can only be given a URL, or the cookie the login form sets) or, when a users file is
configured, with HTTP Basic. Password checks (scrypt, the per-address budget, the memo) are
``passwords.py``'s; the login form is ``login.py``'s.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiohttp import web

from mediaserve.adapters.server.authcheck import AUTH_CHECK_PATH
from mediaserve.adapters.server.login_form import (
    form_response,
    refused_response,
    too_many_message,
)
from mediaserve.adapters.server.passwords import PasswordChecks, checks_for
from mediaserve.adapters.server.state import json_error
from mediaserve.core.config.settings import Settings
from mediaserve.core.http import auth
from mediaserve.core.http.auth import HostPolicy
from mediaserve.core.http.guesses import GuessBudget, Refused
from mediaserve.core.http.login import LOGIN_PATH


class AccessError(ValueError):
    """The access settings cannot be used (an unreadable or malformed users file)."""


@dataclass(slots=True)
class Access:
    """The access policy of one app: hosts, token, users."""

    hosts: HostPolicy
    token: str = ""
    passwords: PasswordChecks | None = None
    #: failed logins per client address (form and Basic), shared with ``passwords``
    budget: GuessBudget = field(default_factory=GuessBudget)
    #: signs the login form's CSRF field; made before workers fork, so all of them share it
    form_secret: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    _hosts: dict[str, bool] = field(default_factory=dict)  # Host field -> allowed

    @property
    def users(self) -> dict[str, str]:
        return self.passwords.users if self.passwords is not None else {}

    @property
    def required(self) -> bool:
        return bool(self.token or self.passwords)

    @classmethod
    def from_settings(cls, settings: Settings) -> Access:
        budget = GuessBudget(attempts=settings.login_attempts)
        passwords = None
        if settings.auth_users:
            try:
                passwords = checks_for(settings.auth_users, budget)
            except ValueError as exc:
                raise AccessError(str(exc)) from None
        return cls(HostPolicy.build(settings.host, settings.allowed_hosts),
                   settings.auth_token, passwords, budget)

    def host_allowed(self, host: str | None) -> bool:
        """The Host check, remembered per field value: the policy is fixed, and a server
        hears a handful of names (bounded anyway)."""
        if host is None:
            return self.hosts.allows(None)
        allowed = self._hosts.get(host)
        if allowed is None:
            if len(self._hosts) >= 64:
                self._hosts.clear()
            allowed = self._hosts[host] = self.hosts.allows(host)
        return allowed

    def cookie_ok(self, value: str) -> bool:
        if self.token and auth.same_secret(value, auth.token_cookie(self.token)):
            return True
        user = auth.cookie_user(value)
        stored = self.users.get(user) if user is not None else None
        return (user is not None and stored is not None
                and auth.same_secret(value, auth.user_cookie(user, stored)))

    def secret_ok(self, bearer: str | None, query_token: str | None,
                  cookie: str | None) -> bool:
        """True when the bearer token, the ``?token=`` value or the login cookie is right:
        every check but Basic's scrypt (the stream fast path makes only these)."""
        token = self.token
        if token and ((bearer is not None and auth.same_secret(bearer, token))
                      or (query_token is not None and auth.same_secret(query_token, token))):
            return True
        return cookie is not None and self.cookie_ok(cookie)

    async def authenticated(self, request: web.Request) -> bool | Refused | None:
        """True: let it through; False: wrong credentials; None: no credentials at all;
        :class:`Refused`: this client has failed too often, answer 429."""
        parsed = auth.split_authorization(request.headers.get("Authorization"))
        query_token = request.query.get("token")
        cookie = request.cookies.get(auth.COOKIE_NAME)
        bearer = parsed[1] if parsed is not None and parsed[0] == "bearer" else None
        if self.secret_ok(bearer, query_token, cookie):
            return True
        passwords = self.passwords
        if (cookie is not None and passwords is not None and cookie.startswith("u.")
                and await passwords.refresh() and self.cookie_ok(cookie)):
            return True  # made by another worker after it rehashed the user's password
        if parsed is not None and parsed[0] == "basic" and passwords is not None:
            pair = auth.parse_basic(parsed[1])
            if pair is not None:
                verdict = await passwords.password_ok(*pair, request.remote)
                if verdict is not False:
                    return verdict
        given = parsed is not None or query_token is not None or cookie is not None
        return False if given else None


ACCESS = web.AppKey("mediaserve_access", Access)


def _challenge(access: Access) -> str:
    schemes = []
    if access.token:
        schemes.append('Bearer realm="mediaserve"')
    if access.passwords is not None:
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
        return json_error(_for_proxy(request, 421), "this server does not answer for that "
                          "host name; start it with --allowed-host NAME to accept it")
    return await handler(request)


def _for_proxy(request: web.Request, status: int) -> int:
    """The status to give: a caching proxy's ``auth_request`` passes only 401 and 403 on
    (anything else becomes its own 500, whose error log quotes the request line, token and
    all), so its check gets 403 where any other request gets 421 or 429."""
    return 403 if request.path == AUTH_CHECK_PATH and status not in (401, 403) else status


def login_page(request: web.Request, access: Access, status: int = 200, message: str = "",
               target: str | None = None) -> web.Response:
    """The login form, with the fields this server asks for."""
    return form_response(request, access.form_secret, token_field=bool(access.token),
                         user_fields=access.passwords is not None, status=status,
                         message=message, target=target)


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """401 unless the request carries valid credentials (when any are configured); 429
    when it carries a password from an address that has failed too often."""
    access = request.app[ACCESS]
    if (not access.required or request.method == "OPTIONS"
            or request.path == LOGIN_PATH):
        return await handler(request)
    verdict = await access.authenticated(request)
    if verdict is True:
        return await handler(request)
    if isinstance(verdict, Refused):
        if _wants_page(request):
            return await refused_response(
                login_page(request, access, 429, too_many_message(verdict)), verdict)
        response = await refused_response(None, verdict)
        response.set_status(_for_proxy(request, response.status))
        return response
    if _wants_page(request):  # a person at a browser: the form, still with a 401
        return login_page(request, access, 401,
                          "Wrong token or password." if verdict is False else "")
    message = ("invalid credentials" if verdict is False else
               "authentication required: send 'Authorization: Bearer TOKEN', add "
               "?token=TOKEN to the URL, or log in at /login")
    response = json_error(401, message)
    response.headers["WWW-Authenticate"] = _challenge(access)
    return response


class RedactTokens(logging.Filter):
    """Replaces ``token=...`` in every log line that passes (access log, errors)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = auth.redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        return True


__all__ = ["ACCESS", "Access", "AccessError", "RedactTokens", "auth_middleware",
           "hosts_middleware", "login_page"]
