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

from collections.abc import Awaitable, Callable

from aiohttp import web

from mediaserve.adapters.identity import AUTH_USER
from mediaserve.adapters.server.api.authcheck import AUTH_CHECK_PATH
from mediaserve.adapters.server.api.keys import json_error
from mediaserve.adapters.server.api.login_form import (
    form_response,
    refused_response,
    too_many_message,
)
from mediaserve.adapters.server.site.access import Access, AccessError
from mediaserve.core.http.guesses import Refused
from mediaserve.core.http.login import LOGIN_PATH

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
    verdict, user = await access.authenticated(request)
    if verdict is True:
        if user is not None:  # a user is a profile (adapters/profiles)
            request[AUTH_USER] = user
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


__all__ = ["ACCESS", "Access", "AccessError", "auth_middleware",
           "hosts_middleware", "login_page"]
