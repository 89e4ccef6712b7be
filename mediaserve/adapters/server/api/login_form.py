"""The login form as a response: its HTML, its CSRF cookie and field, its headers.

The page gets the same headers as every other page (``PAGE_HEADERS``: the strict CSP with
``frame-ancestors 'none'``, ``X-Frame-Options: DENY``, nosniff), from the one place they are
declared, so a password box can never be framed by another site (clickjacking). It is
never stored (``no-store``: it carries a CSRF token).

A refused login (429) is answered after a second, whatever the ``Retry-After``: 400
connections that ignore it and ask again at once would otherwise keep the event loop busy
answering 429s (about 2,500 a second, measured), and everyone else would wait for it.

The CSRF pair: a random value in the ``mediaserve_csrf`` cookie (``HttpOnly``,
``SameSite=Strict``, only sent to ``/login``) and, in a hidden field, its HMAC under the
server's secret (``core.http.login``). A value the browser already holds is reused, so two
tabs with the form both work.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from html import escape

from aiohttp import web

from mediaserve.adapters.web.http import PAGE_HEADERS
from mediaserve.core.http import login
from mediaserve.core.http.guesses import Refused

#: a refused try is answered after this long: a guesser that ignores Retry-After gets one
#: answer a second per connection, not thousands that would each cost the event loop
REFUSAL_DELAY = 1.0
_FORM = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>mediaserve: log in</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body>
<h1>mediaserve</h1>
{message}<form method="post" action="/login">
<input type="hidden" name="next" value="{next}">
<input type="hidden" name="{csrf_name}" value="{csrf}">
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


def _target(request: web.Request, target: str | None) -> str:
    """Where the form sends the browser after a login: ``target``, else the page asked for
    (the 401 form), checked like any ``next``."""
    wanted = target if target is not None else request.rel_url.raw_path_qs
    try:
        return login.login_target(wanted)
    except login.BadTarget:
        return "/"


def form_response(request: web.Request, secret: bytes, *, token_field: bool,
                  user_fields: bool, status: int = 200, message: str = "",
                  target: str | None = None) -> web.Response:
    """The form, with ``message`` above it, answered with ``status``."""
    nonce = request.cookies.get(login.CSRF_COOKIE)
    fresh = not login.csrf_nonce_ok(nonce)
    if fresh or nonce is None:
        nonce = secrets.token_urlsafe(16)
    fields = (_TOKEN_FIELD if token_field else "") + (_USER_FIELDS if user_fields else "")
    shown = f"<p><strong>{escape(message)}</strong></p>\n" if message else ""
    body = _FORM.format(message=shown, next=escape(_target(request, target)),
                        csrf_name=login.CSRF_FIELD, csrf=login.csrf_token(secret, nonce),
                        fields=fields)
    headers = {**PAGE_HEADERS, "Cache-Control": "no-store"}
    response = web.Response(status=status, text=body, content_type="text/html",
                            charset="utf-8", headers=headers)
    if fresh:
        response.set_cookie(login.CSRF_COOKIE, nonce, path=login.LOGIN_PATH, httponly=True,
                            samesite="Strict", secure=request.secure)
    return response


async def refused_response(page: web.Response | None, refused: Refused) -> web.Response:
    """429 with ``Retry-After``: ``page`` (the form, for a browser) or a JSON error, given
    after :data:`REFUSAL_DELAY`."""
    await asyncio.sleep(REFUSAL_DELAY)
    wait = refused.retry_after
    message = (f"the server is busy checking other logins: try again in {wait} s"
               if refused.busy else
               f"too many failed logins from this address: try again in {wait} s")
    if page is None:
        page = web.Response(status=429, text=json.dumps({"error": message}),
                            content_type="application/json", charset="utf-8")
    page.headers["Retry-After"] = str(wait)
    return page


def too_many_message(refused: Refused) -> str:
    """What the form says above itself when a login is refused with 429."""
    if refused.busy:
        return (f"The server is busy checking other logins: try again in "
                f"{refused.retry_after} seconds.")
    return (f"Too many failed logins from your address: try again in "
            f"{refused.retry_after} seconds.")
