"""``GET /login`` and ``POST /login``: the form, and the cookie it sets.

A post is checked in this order, each refusal saying why: ``next`` with control characters
is a 400 (it cannot be a link, and must never reach a ``Location`` header); a post from
another site (``Sec-Fetch-Site: cross-site``, or an ``Origin`` that is not this server) or
without the form's CSRF token is a 403 with a fresh form; an address over its budget of
failed logins is a 429 with ``Retry-After``; then the token or password. The decisions are
``core.http.login``'s and ``core.http.guesses``'s.
"""

from __future__ import annotations

from aiohttp import web

from mediaserve.adapters.server.api.access import ACCESS, Access, login_page
from mediaserve.adapters.server.api.keys import json_error
from mediaserve.adapters.server.api.login_form import refused_response, too_many_message
from mediaserve.adapters.server.site.passwords import token_ok
from mediaserve.core.http import auth, login
from mediaserve.core.http.guesses import Refused

_COOKIE_MAX_AGE = 30 * 24 * 3600


def _bad_target(exc: login.BadTarget) -> web.Response:
    return json_error(400, str(exc))


async def login_form(request: web.Request) -> web.Response:
    """The form; ``?next=`` is where a successful login goes."""
    target = request.query.get("next")
    try:
        login.login_target(target)
    except login.BadTarget as exc:
        return _bad_target(exc)
    return login_page(request, request.app[ACCESS], target=target or "/")


async def _credentials(access: Access, form: dict[str, str],
                       client: str | None) -> str | Refused | None:
    """The login cookie for the form's token or user and password; None if wrong."""
    token, user, password = (form.get(key, "") for key in ("token", "user", "password"))
    passwords = access.passwords
    if token and access.token:
        verdict = token_ok(access.budget, token, access.token, client)
        if verdict is True:
            return auth.token_cookie(access.token)
        if isinstance(verdict, Refused):
            return verdict
    if user and passwords is not None:
        verdict = await passwords.password_ok(user, password, client)
        if isinstance(verdict, Refused):
            return verdict
        stored = passwords.users.get(user)  # after a rehash: the new hash
        if verdict and stored is not None:
            return auth.user_cookie(user, stored)
    return None


async def login_submit(request: web.Request) -> web.Response:
    """Check the form; on success set the cookie and go back where the user was going."""
    access = request.app[ACCESS]
    posted = await request.post()
    form = {key: value for key, value in posted.items() if isinstance(value, str)}
    try:
        target = login.login_target(form.get("next", "/"))
    except login.BadTarget as exc:
        return _bad_target(exc)
    forged = login.forged_post(request.headers.get("Origin"),
                               request.headers.get("Sec-Fetch-Site"),
                               request.headers.get("Host"))
    if forged is None and not login.csrf_ok(access.form_secret,
                                            request.cookies.get(login.CSRF_COOKIE),
                                            form.get(login.CSRF_FIELD)):
        forged = "the CSRF token is missing or wrong"
    if forged is not None:  # the form again, with a good token: a real user just logs in
        return login_page(request, access, 403, f"Refused: {forged}. Log in here.", target)
    cookie = await _credentials(access, form, request.remote)
    if isinstance(cookie, Refused):
        return await refused_response(login_page(request, access, 429, too_many_message(cookie),
                                           target), cookie)
    if cookie is None:
        return login_page(request, access, 401, "Wrong token or password.", target)
    response = web.Response(status=303, headers={"Location": target,
                                                 "Cache-Control": "no-store"})
    response.set_cookie(auth.COOKIE_NAME, cookie, max_age=_COOKIE_MAX_AGE, path="/",
                        httponly=True, samesite="Lax", secure=request.secure)
    return response


def install_access(app: web.Application, access: Access) -> None:
    """The access policy, and the login routes (only when auth is on)."""
    app[ACCESS] = access
    if access.required:
        app.router.add_get(login.LOGIN_PATH, login_form)
        app.router.add_post(login.LOGIN_PATH, login_submit)


__all__ = ["install_access", "login_form", "login_submit"]
