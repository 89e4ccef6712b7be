"""Access control over every route the app registers: token (Bearer, ?token=, the login
cookie), HTTP Basic against a hashed users file, and the Host check against DNS rebinding.

The routes are read from ``app.router.routes()``, so an endpoint added later (stats,
posters, pages) is covered by these tests without touching them.
"""

from __future__ import annotations

import base64
import logging
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from mediaserve.adapters.server import create_app
from mediaserve.adapters.server.api.access import LOGIN_PATH
from mediaserve.adapters.server.net.errorlog import RedactTokens
from mediaserve.core.config.settings import Settings
from mediaserve.core.http.auth import COOKIE_NAME
from tests.server.conftest import MIB, Lib, blob
from tests.server.logins import client_login
from tests.server.rawhttp import read_head

TOKEN = "test-token-0123456789abcdef"
USER, PASSWORD = "alice", "correct horse battery staple"
#: a value for each path parameter a route may have; a new parameter needs a line here
PARAMS = {"name": "app.js", "n": "0",  # n: a subtitle track or segment number
          "show_id": "0123456789ab", "variant": "remux",
          "pid": "0123456789abcdef",  # a profile id (adapters/profiles)
          "link": "not-an-id"}  # a malformed /watch link


@pytest.fixture(autouse=True)
def _private_data_dir(data_dir: Path) -> Path:
    """The profile routes open the state store in the data folder: a temporary one."""
    return data_dir


@pytest.fixture(scope="module")
def users_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Made by the real ``mediaserve passwd`` command."""
    path = tmp_path_factory.mktemp("users") / "users"
    done = subprocess.run([sys.executable, "-m", "mediaserve", "passwd", str(path), USER,
                           "--password-stdin"], input=PASSWORD + "\n", capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return path


@pytest.fixture
def lib(tmp_path: Path, library_maker: Callable[[Path, dict], Lib]) -> Lib:
    return library_maker(tmp_path / "lib", {"clip.mp4": blob(MIB, seed=21)})


def routes(app: web.Application, vid: str) -> list[tuple[str, str]]:
    """(method, URL) for every route but the ones that are open by design."""
    found = []
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        template = info.get("path") or info.get("formatter")
        if template is None or route.method in ("OPTIONS", "*") or template == LOGIN_PATH:
            continue
        url = re.sub(r"\{(\w+)(:[^}]*)?\}",
                     lambda m: vid if m.group(1) == "id" else PARAMS[m.group(1)], template)
        found.append((route.method, url))
    assert {("GET", "/"), ("GET", "/api/videos"), ("GET", f"/api/videos/{vid}/stream"),
            ("GET", "/api/auth/check")} <= set(found), found
    return found


async def client_for(aiohttp_client: Any, lib: Lib, **settings: Any) -> tuple[Any, list]:
    app = create_app(lib.index, lib.root, Settings(**settings))
    client = await aiohttp_client(app)
    return client, routes(app, lib.ids["clip.mp4"])


async def statuses(client: Any, targets: list[tuple[str, str]],
                   **kwargs: Any) -> dict[tuple[str, str], int]:
    result = {}
    for method, url in targets:
        async with client.request(method, url, allow_redirects=False, **kwargs) as response:
            await response.read()
            result[(method, url)] = response.status
    return result


async def test_without_credentials_every_route_is_401_with_a_json_error(
        aiohttp_client: Any, lib: Lib, users_file: Path) -> None:
    client, targets = await client_for(aiohttp_client, lib, auth_token=TOKEN,
                                       auth_users=str(users_file))
    for method, url in targets:
        response = await client.request(method, url)
        assert response.status == 401, (method, url)
        assert 'Bearer realm="mediaserve"' in response.headers["WWW-Authenticate"]
        assert "Basic" in response.headers["WWW-Authenticate"]
        if method != "HEAD":
            body = await response.json()
            assert "authentication required" in body["error"], (method, url)


@pytest.mark.parametrize("how", ["wrong bearer", "wrong query", "wrong cookie", "wrong basic",
                                 "unknown user", "token as basic password"])
async def test_wrong_credentials_are_401_everywhere(aiohttp_client: Any, lib: Lib,
                                                    users_file: Path, how: str) -> None:
    client, targets = await client_for(aiohttp_client, lib, auth_token=TOKEN,
                                       auth_users=str(users_file))
    basic = {"wrong basic": f"{USER}:{PASSWORD}x", "unknown user": f"bob:{PASSWORD}",
             "token as basic password": f"{USER}:{TOKEN}"}
    kwargs: dict[str, Any] = {
        "wrong bearer": {"headers": {"Authorization": f"Bearer {TOKEN}x"}},
        "wrong query": {"params": {"token": TOKEN[:-1]}},
        "wrong cookie": {"cookies": {COOKIE_NAME: "t." + "0" * 64}},
    }.get(how) or {"headers": {"Authorization": "Basic " + base64.b64encode(
        basic[how].encode()).decode()}}
    if "basic" in how or "user" in how:  # scrypt per try: two routes are enough
        targets = [t for t in targets if t[0] == "GET" and t[1].startswith("/api/")][:2]
    found = await statuses(client, targets, **kwargs)
    assert set(found.values()) == {401}, found
    response = await client.get("/api/videos", **kwargs)
    assert (await response.json())["error"] == "invalid credentials"


@pytest.mark.parametrize("how", ["bearer", "query", "cookie", "basic"])
async def test_each_form_of_credentials_opens_every_route(aiohttp_client: Any, lib: Lib,
                                                          users_file: Path, how: str) -> None:
    client, targets = await client_for(aiohttp_client, lib, auth_token=TOKEN,
                                       auth_users=str(users_file))
    kwargs: dict[str, Any] = {}
    if how == "bearer":
        kwargs = {"headers": {"Authorization": f"Bearer {TOKEN}"}}
    elif how == "query":
        kwargs = {"params": {"token": TOKEN}}
    elif how == "basic":
        pair = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        kwargs = {"headers": {"Authorization": f"Basic {pair}"}}
    else:  # the login form sets the cookie; the client's cookie jar sends it afterwards
        login = await client_login(client, {"token": TOKEN, "next": "/api/videos"})
        assert login.status == 303 and login.headers["Location"] == "/api/videos"
        cookie = login.cookies[COOKIE_NAME]
        assert cookie["httponly"] and cookie["samesite"] == "Lax"
        assert TOKEN not in cookie.value
    found = await statuses(client, targets, **kwargs)
    assert not {status for status in found.values() if status in (401, 421)}, found
    ranged = {**kwargs, "headers": {**kwargs.get("headers", {}), "Range": "bytes=0-9"}}
    stream = await client.get(f"/api/videos/{lib.ids['clip.mp4']}/stream", **ranged)
    assert stream.status == 206 and await stream.read() == lib.data["clip.mp4"][:10]


async def test_the_login_form_for_users_and_the_page_for_a_browser(
        aiohttp_client: Any, lib: Lib, users_file: Path) -> None:
    client, _ = await client_for(aiohttp_client, lib, auth_users=str(users_file))
    page = await client.get("/", headers={"Accept": "text/html"})  # a person at a browser
    assert page.status == 401
    html = await page.text()
    assert 'action="/login"' in html and 'name="password"' in html and 'name="token"' not in html
    assert "<script" not in html and "<style" not in html and " style=" not in html
    wrong = await client_login(client, {"user": USER, "password": "nope"})
    assert wrong.status == 401 and "Wrong token or password" in await wrong.text()
    assert COOKIE_NAME not in wrong.cookies
    evil = await client_login(client, {"user": USER, "password": PASSWORD,
                                       "next": "//evil.example/"})
    assert evil.status == 303 and evil.headers["Location"] == "/"  # no open redirect
    assert (await client.get("/api/videos")).status == 200  # the cookie from that login


async def test_open_by_design_login_form_and_cors_preflight(aiohttp_client: Any,
                                                            lib: Lib) -> None:
    client, _ = await client_for(aiohttp_client, lib, auth_token=TOKEN,
                                 cors_origins=("https://app.example",))
    assert (await client.get(LOGIN_PATH)).status == 200
    preflight = await client.options("/api/videos", headers={
        "Origin": "https://app.example", "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "authorization"})
    assert preflight.status == 204 and await preflight.read() == b""
    assert "Authorization" in preflight.headers["Access-Control-Allow-Headers"]
    refused = await client.get("/api/videos", headers={"Origin": "https://app.example"})
    assert refused.status == 401  # readable by the page: CORS headers on the 401
    assert refused.headers["Access-Control-Allow-Origin"] == "https://app.example"


async def test_no_auth_configured_means_open(aiohttp_client: Any, lib: Lib) -> None:
    client, targets = await client_for(aiohttp_client, lib)
    found = await statuses(client, targets)
    assert 401 not in found.values(), found
    assert (await client.get(LOGIN_PATH)).status == 404  # no form when there is nothing to log in


async def test_dns_rebinding_gets_421_on_every_route(aiohttp_client: Any, lib: Lib) -> None:
    client, targets = await client_for(aiohttp_client, lib, allowed_hosts=("media.lan",))
    evil = await statuses(client, targets, headers={"Host": "evil.example"})
    # a caching proxy's credential check answers what nginx's auth_request passes on
    assert {target[1] for target, status in evil.items() if status == 403} == {
        "/api/auth/check"}, evil
    assert {status for target, status in evil.items()
            if target[1] != "/api/auth/check"} == {421}, evil
    response = await client.get("/api/videos", headers={"Host": "evil.example:8080"})
    assert response.status == 421
    assert "--allowed-host" in (await response.json())["error"]
    for host in ("media.lan", "MEDIA.lan:8080", "localhost:1234", "127.0.0.1", "[::1]:80",
                 "192.168.1.20:8080"):
        response = await client.get("/api/videos", headers={"Host": host})
        assert response.status == 200, host


async def test_token_never_reaches_the_access_log(serve: Any, lib: Lib) -> None:
    server = await serve(lib, auth_token=TOKEN)
    vid = lib.ids["clip.mp4"]
    ok = await server.fetch("GET", f"/api/videos/{vid}/stream?token={TOKEN}",
                            {"Range": "bytes=0-3", "Referer": f"http://x/?a=1&token={TOKEN}"})
    assert ok.status == 206
    bad = await server.fetch("GET", f"/api/videos?x=1&token={TOKEN}x")
    assert bad.status == 401
    bearer = await server.fetch("GET", "/api/videos", {"Authorization": f"Bearer {TOKEN}"})
    assert bearer.status == 200
    log = "\n".join(server.access_lines)
    assert len(server.access_lines) == 3
    assert TOKEN not in log and TOKEN[:12] not in log
    assert log.count("token=REDACTED") == 3, log  # two paths and one Referer



async def test_the_credential_check_a_caching_proxy_asks(aiohttp_client: Any, lib: Lib,
                                                         users_file: Path) -> None:
    """``/api/auth/check`` (nginx's auth_request): 204 exactly when the credentials pass,
    answered by the same middleware as every route; never stored by a generic cache."""
    open_client, _ = await client_for(aiohttp_client, lib)
    answer = await open_client.get("/api/auth/check")
    assert (answer.status, await answer.read()) == (204, b"")
    assert answer.headers["Cache-Control"] == "no-store"
    client, _ = await client_for(aiohttp_client, lib, auth_token=TOKEN,
                                 auth_users=str(users_file))
    pair = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    for method in ("GET", "HEAD"):
        refused = await client.request(method, "/api/auth/check?token=nope")
        assert refused.status == 401 and "Basic" in refused.headers["WWW-Authenticate"]
        for kwargs in ({"headers": {"Authorization": f"Bearer {TOKEN}"}},
                       {"params": {"token": TOKEN}},
                       {"headers": {"Authorization": f"Basic {pair}"}}):
            assert (await client.request(method, "/api/auth/check", **kwargs)).status == 204


async def test_the_credential_check_answers_only_what_a_proxy_passes_on(
        aiohttp_client: Any, lib: Lib, users_file: Path) -> None:
    """nginx's auth_request passes 401 and 403 on and turns anything else into a 500 (whose
    error log quotes the request line): the check gives 403 where other routes give 421
    (a Host not ours) or 429 (an address over its guessing budget)."""
    client, _ = await client_for(aiohttp_client, lib, auth_users=str(users_file),
                                 login_attempts=1)
    stranger = {"Host": "evil.example"}
    assert (await client.get("/api/videos", headers=stranger)).status == 421
    assert (await client.get("/api/auth/check", headers=stranger)).status == 403
    wrong = base64.b64encode(f"{USER}:wrong".encode()).decode()
    basic = {"Authorization": f"Basic {wrong}"}
    assert (await client.get("/api/videos", headers=basic)).status == 401  # its one try
    # the next try comes at once, inside the first backoff (1 s after the failure)
    assert (await client.get("/api/auth/check", headers=basic)).status == 403


async def test_no_spelling_of_the_token_reaches_the_access_log(serve: Any, serve_mode: str,
                                                               lib: Lib) -> None:
    """``%74oken`` is ``token`` to aiohttp and to the fast path: it is a credential, and so
    is any spelling of it in a Referer."""
    server = await serve(lib, auth_token=TOKEN)
    vid = lib.ids["clip.mp4"]
    escaped = TOKEN.replace("-", "%2D")
    for spelling in ("%74oken", "t%6Fk%65n", "%74%6f%6b%65%6e"):
        ok = await server.fetch("GET", f"/api/videos/{vid}/stream?{spelling}={escaped}",
                                {"Range": "bytes=0-3",
                                 "Referer": f"http://x/watch?a=1&T%4FKEN={TOKEN}&b=2"})
        assert ok.status == 206
        listing = await server.fetch("GET", f"/api/videos?x=1&{spelling}={TOKEN}")
        assert listing.status == 200
    wrong = await server.fetch("GET", f"/api/videos?%74oken={TOKEN}x")
    assert wrong.status == 401
    if serve_mode == "fast":
        assert server.fast_served == 3  # the streams: the fast path's log line too
    log = "\n".join(server.access_lines)
    assert len(server.access_lines) == 7
    assert TOKEN not in log and TOKEN[:12] not in log and escaped[:12] not in log, log
    assert log.count("=REDACTED") == 10, log  # 7 targets and 3 Referers


async def test_error_lines_carry_no_spelling_of_the_token(serve: Any, lib: Lib) -> None:
    """A refused request line is logged (INFO) with its target: the server's log handler
    (``RedactTokens``, as ``configure_logging`` installs it) redacts every spelling."""
    lines: list[str] = []

    class Lines(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(record.getMessage())

    handler = Lines()
    handler.addFilter(RedactTokens())
    logger = logging.getLogger("mediaserve")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        server = await serve(lib, auth_token=TOKEN)
        for spelling in ("token", "%74oken", "TO%4BEN"):
            conn = await server.connect()
            conn.writer.write(f"GET /api/videos?{spelling}={TOKEN} HTTP/2.0\r\n\r\n".encode())
            assert (await read_head(conn.reader)).status == 505
            await conn.close()
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    shown = "\n".join(lines)
    assert shown.count("=REDACTED") == 3 and TOKEN not in shown, shown

