"""The access policy of one server, free of aiohttp: hosts, the token, users' passwords.

The stream fast path asks it without aiohttp (``host_allowed``, ``secret_ok``); aiohttp's
middlewares (``api/access.py``) ask it for every other request (``authenticated``, which adds
HTTP Basic and its scrypt). Password checks (scrypt, the per-address budget, the memo) are
``passwords.py``'s.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

from mediaserve.adapters.server.site.passwords import PasswordChecks, checks_for
from mediaserve.core.config.settings import Settings
from mediaserve.core.http import auth
from mediaserve.core.http.auth import HostPolicy
from mediaserve.core.http.guesses import GuessBudget, Refused


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

    async def authenticated(self, request: Any) -> tuple[bool | Refused | None, str | None]:
        """(verdict, user). Verdict True: let it through; False: wrong credentials; None:
        no credentials at all; :class:`Refused`: this client has failed too often, answer
        429. User: the ``--auth-users`` user it proved to be (a profile, in
        ``adapters/profiles``), None for the token, which belongs to nobody. ``request`` is
        aiohttp's (its headers, query, cookies and remote address are read)."""
        parsed = auth.split_authorization(request.headers.get("Authorization"))
        query_token = request.query.get("token")
        cookie = request.cookies.get(auth.COOKIE_NAME)
        bearer = parsed[1] if parsed is not None and parsed[0] == "bearer" else None
        if self.secret_ok(bearer, query_token, cookie):
            return True, self.cookie_user(cookie) if self.users else None
        passwords = self.passwords
        if (cookie is not None and passwords is not None and cookie.startswith("u.")
                and await passwords.refresh() and self.cookie_ok(cookie)):
            # made by another worker after it rehashed the user's password
            return True, self.cookie_user(cookie)
        if parsed is not None and parsed[0] == "basic" and passwords is not None:
            pair = auth.parse_basic(parsed[1])
            if pair is not None:
                verdict = await passwords.password_ok(*pair, request.remote)
                if verdict is not False:
                    return verdict, pair[0] if verdict is True else None
        given = parsed is not None or query_token is not None or cookie is not None
        return (False if given else None), None
