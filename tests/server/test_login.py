"""The login form against a real server on loopback (issue 17, findings 3 and 9): where a
login may redirect, forged posts, and the page's frame protection."""

from __future__ import annotations

import logging
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mediaserve.adapters.server import create_app
from mediaserve.core.config.settings import Settings
from tests.server.conftest import MIB, Lib, blob
from tests.server.logins import client_login, csrf_cookie, csrf_field, raw_login, raw_post
from tests.server.rawhttp import Connection

TOKEN = "login-token-0123456789abcdef"


@pytest.fixture
def lib(tmp_path: Path, library_maker: Callable[[Path, dict], Lib]) -> Lib:
    return library_maker(tmp_path / "lib", {"clip.mp4": blob(MIB, seed=22)})


async def token_client(aiohttp_client: Any, lib: Lib) -> Any:
    return await aiohttp_client(create_app(lib.index, lib.root, Settings(auth_token=TOKEN)))


async def conn_to(client: Any) -> Connection:
    return await Connection.open(client.server.port)


def off_site(location: str) -> bool:
    """Whether a browser at http://h/ would leave h for ``location`` (WHATWG clean-up)."""
    cleaned = location.strip("".join(map(chr, range(0x21))))
    cleaned = "".join(c for c in cleaned if c not in "\t\r\n").replace("\\", "/")
    return urllib.parse.urlsplit(urllib.parse.urljoin("http://h/", cleaned)).netloc != "h"


@pytest.mark.parametrize("target", ["/\t/evil.example", "/\\evil.example", "//evil.example",
                                    "\\/evil.example", "https://evil.example/",
                                    " //evil.example", "/%09/x"])
async def test_a_login_never_redirects_off_site(aiohttp_client: Any, lib: Lib,
                                                target: str) -> None:
    client = await token_client(aiohttp_client, lib)
    answer = await raw_login(await conn_to(client), {"token": TOKEN, "next": target})
    if answer.status == 400:  # control characters: refused outright
        assert "control characters" in answer.body.decode()
        return
    assert answer.status == 303
    location = answer.headers["Location"]
    assert not off_site(location), location
    assert location in ("/", target)


async def test_cr_lf_in_next_is_a_clear_400_not_a_dropped_connection(
        aiohttp_client: Any, lib: Lib, caplog: pytest.LogCaptureFixture) -> None:
    client = await token_client(aiohttp_client, lib)
    caplog.set_level(logging.INFO)
    conn = await conn_to(client)
    answer = await raw_login(conn, {"token": TOKEN, "next": "/x\r\nSet-Cookie: evil=1"})
    assert answer.status == 400, answer
    assert "control characters" in answer.body.decode()
    assert "evil" not in " ".join(answer.headers.getall("Set-Cookie", []))
    form = await conn.request("GET", "/login?next=/a%0D%0ALocation:%20//evil")
    assert form.status == 400
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text


async def test_get_login_honours_next(aiohttp_client: Any, lib: Lib) -> None:
    client = await token_client(aiohttp_client, lib)
    vid = lib.ids["clip.mp4"]
    conn = await conn_to(client)
    page = await conn.request("GET", f"/login?next=/watch/{vid}%3Ft%3D1")
    assert page.status == 200
    assert f'name="next" value="/watch/{vid}?t=1"' in page.body.decode()  # decoded once
    evil = await conn.request("GET", "/login?next=//evil.example/")
    assert 'name="next" value="/"' in evil.body.decode()
    fields = {"token": TOKEN, "next": f"/watch/{vid}?t=1", "csrf": csrf_field(page.body)}
    answer = await raw_post(conn, fields, {"Cookie": csrf_cookie(page)})
    assert answer.status == 303 and answer.headers["Location"] == f"/watch/{vid}?t=1"


async def test_the_401_form_sends_you_back_to_the_page_you_asked_for(
        aiohttp_client: Any, lib: Lib) -> None:
    client = await token_client(aiohttp_client, lib)
    conn = await conn_to(client)
    page = await conn.request("GET", "/?q=caf%C3%A9", {"Accept": "text/html"})
    assert page.status == 401
    assert 'name="next" value="/?q=caf%C3%A9"' in page.body.decode()


async def test_forged_login_posts_get_403_and_a_fresh_form(aiohttp_client: Any,
                                                           lib: Lib) -> None:
    client = await token_client(aiohttp_client, lib)
    conn = await conn_to(client)
    page = await conn.request("GET", "/login")
    cookie, field = csrf_cookie(page), csrf_field(page.body)
    other = await (await conn_to(client)).request("GET", "/login")  # someone else's form
    ours = f"http://127.0.0.1:{client.server.port}"
    forged = [
        ({"token": TOKEN}, {}),  # a hostile page's form: no token, no cookie
        ({"token": TOKEN, "csrf": field}, {}),  # the field without its cookie
        ({"token": TOKEN, "csrf": csrf_field(other.body)}, {"Cookie": cookie}),
        ({"token": TOKEN, "csrf": field}, {"Cookie": cookie, "Origin": "http://evil.example"}),
        ({"token": TOKEN, "csrf": field}, {"Cookie": cookie, "Origin": "null"}),
        ({"token": TOKEN, "csrf": field}, {"Cookie": cookie, "Sec-Fetch-Site": "cross-site"}),
        ({"token": TOKEN, "csrf": field},  # another port of this host: another origin
         {"Cookie": cookie, "Origin": f"http://127.0.0.1:{client.server.port + 1}"}),
    ]
    host = f"127.0.0.1:{client.server.port}"  # as a browser sends it
    for fields, headers in forged:
        answer = await raw_post(conn, fields, headers, host=host)
        assert answer.status == 403, (fields, headers)
        body = answer.body.decode()
        assert "Refused:" in body and ("another site" in body or "CSRF" in body)
        assert 'name="csrf"' in body  # a real user can log in from here
        assert "mediaserve_auth" not in " ".join(answer.headers.getall("Set-Cookie", []))
    browser = await raw_post(conn, {"token": TOKEN, "csrf": field}, {
        "Cookie": cookie, "Origin": ours, "Sec-Fetch-Site": "same-origin"}, host=host)
    assert browser.status == 303
    curl = await raw_post(conn, {"token": TOKEN, "csrf": field}, {"Cookie": cookie})
    assert curl.status == 303  # no Origin (curl, scripts): the token from the form will do


async def test_the_csrf_cookie_is_strict_and_reused(aiohttp_client: Any, lib: Lib) -> None:
    client = await token_client(aiohttp_client, lib)
    first = await client.get("/login")
    cookie = first.cookies["mediaserve_csrf"]
    assert cookie["samesite"] == "Strict" and cookie["httponly"] and cookie["path"] == "/login"
    second = await client.get("/login")  # the jar sends it back: same pair, two tabs work
    assert "mediaserve_csrf" not in second.cookies
    assert csrf_field(await first.text()) == csrf_field(await second.text())
    assert (await client_login(client, {"token": TOKEN})).status == 303


async def test_the_login_pages_cannot_be_framed(aiohttp_client: Any, lib: Lib) -> None:
    """Finding 9: the same CSP, frame-ancestors and X-Frame-Options as every other page."""
    client = await token_client(aiohttp_client, lib)
    login = await client.get("/login")
    form = await client.get("/", headers={"Accept": "text/html"})
    wrong = await client_login(client, {"token": "x" * 20})
    forged = await client.post("/login", data={"token": TOKEN}, allow_redirects=False)
    library = await client.get("/", headers={"Authorization": f"Bearer {TOKEN}"})
    assert (login.status, form.status, wrong.status, library.status) == (200, 401, 401, 200)
    for page in (login, form, wrong, forged, library):
        headers = page.headers
        assert "frame-ancestors 'none'" in headers["Content-Security-Policy"], page.url
        assert headers["X-Frame-Options"] == "DENY", page.url
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Content-Security-Policy"] == library.headers["Content-Security-Policy"]
    for page in (login, form, wrong, forged):
        assert page.headers["Cache-Control"] == "no-store"
