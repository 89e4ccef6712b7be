"""Logging in through the form as a browser does: read the form (its CSRF field, and the
cookie that goes with it), then post it back."""

from __future__ import annotations

import re
import urllib.parse
from typing import Any

from tests.server.rawhttp import Connection, RawResponse, build_request, read_body, read_head

#: the form's wire format, spelled out (not imported): a test of what a browser sees
LOGIN_PATH, CSRF_COOKIE, CSRF_FIELD = "/login", "mediaserve_csrf", "csrf"
_FIELD = re.compile(r'name="csrf" value="([0-9a-f]{64})"')


def csrf_field(html: str | bytes) -> str:
    """The CSRF field of a login form page."""
    text = html.decode() if isinstance(html, bytes) else html
    found = _FIELD.search(text)
    assert found, "the page has no CSRF field"
    return found.group(1)


def csrf_cookie(response: RawResponse) -> str:
    """``mediaserve_csrf=VALUE`` from a raw answer's Set-Cookie."""
    for value in response.headers.getall("Set-Cookie", []):
        if value.startswith(CSRF_COOKIE + "="):
            return value.split(";", 1)[0]
    raise AssertionError("no CSRF cookie was set")


async def client_login(client: Any, fields: dict[str, str], **kwargs: Any) -> Any:
    """GET /login then POST it with ``fields`` (aiohttp's test client keeps the cookie)."""
    page = await client.get(LOGIN_PATH)
    token = csrf_field(await page.text())
    return await client.post(LOGIN_PATH, data={**fields, CSRF_FIELD: token},
                             allow_redirects=False, **kwargs)


async def raw_post(conn: Connection, fields: dict[str, str],
                   headers: dict[str, str] | None = None,
                   host: str = "127.0.0.1") -> RawResponse:
    """POST /login with ``fields`` on a raw connection, exactly these headers added."""
    body = urllib.parse.urlencode(fields).encode()
    conn.writer.write(build_request("POST", LOGIN_PATH, {
        "Content-Type": "application/x-www-form-urlencoded",
        "Content-Length": str(len(body)), **(headers or {})}, host=host) + body)
    response = await read_head(conn.reader)
    await read_body(conn.reader, response, "POST")
    return response


async def raw_login(conn: Connection, fields: dict[str, str],
                    headers: dict[str, str] | None = None) -> RawResponse:
    """The form's CSRF pair read on ``conn``, then the post with ``fields``."""
    page = await conn.request("GET", LOGIN_PATH)
    pair = {"Cookie": csrf_cookie(page)}
    return await raw_post(conn, {**fields, CSRF_FIELD: csrf_field(page.body)},
                          {**pair, **(headers or {})})
