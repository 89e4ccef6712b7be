"""The nginx front never serves a cached byte to a request mediaserve would refuse.

``docs/deploy/nginx-mediaserve.conf`` caches 1 MiB slices under the URL alone, so that every
viewer of a scene shares them. With ``--auth-token`` or ``--auth-users`` that cache must not
become a way around the credentials: nginx asks mediaserve's ``GET /api/auth/check``
(``auth_request``) before it answers from the cache. Driven for real: nginx running the
shipped file in front of a real protected mediaserve, every form of credentials the server
accepts, right and wrong, before and after a slice is in the cache.
"""

from __future__ import annotations

import base64
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from benchmarks.peers import start_mediaserve
from mediaserve.adapters.library.store import save_index
from mediaserve.core.http.auth import COOKIE_NAME
from tests.deploy.front import get, start_front
from tests.server.conftest import MIB, Lib, blob, make_library
from tests.server.logins import csrf_field

pytestmark = pytest.mark.nginx

TOKEN = "guard-token-0123456789abcdef"
USER, PASSWORD = "alice", "correct horse battery staple"


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@dataclass
class Front:
    port: int
    work: Path
    cookie: str = ""


@pytest.fixture(scope="module")
def lib(tmp_path_factory: pytest.TempPathFactory) -> Lib:
    library = make_library(tmp_path_factory.mktemp("guard") / "lib",
                           {"film.mp4": blob(3 * MIB + 999, seed=43)})
    save_index(library.root / ".mediaserve-index.toml", library.index)
    return library


@pytest.fixture(scope="module")
def front(lib: Lib, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Front]:
    work = tmp_path_factory.mktemp("nginx-guard")
    users = work / "users"
    done = subprocess.run([sys.executable, "-m", "mediaserve", "passwd", str(users), USER,
                           "--password-stdin"], input=PASSWORD + "\n", capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    with start_mediaserve(lib.root, "--auth-token", TOKEN, "--auth-users", str(users),
                          "--access-log", str(work / "node-access.log")) as node, \
            start_front(work, [node.base.removeprefix("http://")]) as port:
        yield Front(port, work)


def login_cookie(front: Front) -> str:
    """The cookie a browser gets from the login form, through nginx."""
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", front.port, timeout=10)
    try:
        conn.request("GET", "/login")  # the form: its CSRF field and the cookie it goes with
        page = conn.getresponse()
        field = csrf_field(page.read())
        csrf = next(value.split(";", 1)[0] for name, value in page.getheaders()
                    if name.lower() == "set-cookie" and value.startswith("mediaserve_csrf="))
        conn.request("POST", "/login", body=f"token={TOKEN}&next=/&csrf={field}",
                     headers={"Content-Type": "application/x-www-form-urlencoded",
                              "Cookie": csrf})
        response = conn.getresponse()
        response.read()
        assert response.status == 303, response.status
        cookie = response.getheader("Set-Cookie") or ""
    finally:
        conn.close()
    match = re.search(rf"{COOKIE_NAME}=([^;]+)", cookie)
    assert match, cookie
    return f"{COOKIE_NAME}={match.group(1)}"


def forms(front: Front, good: bool) -> dict[str, tuple[str, dict[str, str]]]:
    """name -> (query string, headers) for each form of credentials, right or wrong."""
    if good:
        return {"bearer": ("", {"Authorization": f"Bearer {TOKEN}"}),
                "query": (f"?token={TOKEN}", {}),
                "cookie": ("", {"Cookie": login_cookie(front)}),
                "basic": ("", {"Authorization": basic(USER, PASSWORD)})}
    return {"none": ("", {}),
            "wrong bearer": ("", {"Authorization": f"Bearer {TOKEN}x"}),
            "wrong query": (f"?token={TOKEN[:-1]}", {}),
            "wrong cookie": ("", {"Cookie": f"{COOKIE_NAME}=t.{'0' * 64}"}),
            "wrong basic": ("", {"Authorization": basic(USER, PASSWORD + "x")}),
            "unknown user": ("", {"Authorization": basic("mallory", PASSWORD)}),
            "token as password": ("", {"Authorization": basic(USER, TOKEN)})}


def refused_everywhere(front: Front, url: str, span: str, data: bytes) -> None:
    for name, (query, headers) in forms(front, good=False).items():
        for method in ("GET", "HEAD"):
            status, _headers, body = get(front.port, url + query,
                                         {**headers, "Range": f"bytes={span}"}, method)
            assert status == 401, (name, method, status)
            assert data not in body, name


def test_a_cached_slice_is_served_only_with_valid_credentials(front: Front, lib: Lib) -> None:
    whole = lib.data["film.mp4"]
    url = lib.stream("film.mp4")
    first, last = 2 * MIB + 100, 2 * MIB + 4195
    span, data = f"{first}-{last}", whole[first:last + 1]
    refused_everywhere(front, url, span, data)  # nothing cached yet
    bearer = {"Authorization": f"Bearer {TOKEN}", "Range": f"bytes={span}"}
    status, headers, body = get(front.port, url, bearer)
    assert (status, headers["x-cache-status"], body) == (206, "MISS", data)
    status, headers, body = get(front.port, url, bearer)
    assert (status, headers["x-cache-status"], body) == (206, "HIT", data)
    # the slice is in nginx's cache now: still no byte of it without the right credentials
    refused_everywhere(front, url, span, data)
    # and every viewer with valid credentials, in any form, shares the cached slice
    for name, (query, headers) in forms(front, good=True).items():
        status, answer, body = get(front.port, url + query, {**headers, "Range": f"bytes={span}"})
        assert (status, answer.get("x-cache-status"), body) == (206, "HIT", data), name
    refused_everywhere(front, url, span, data)


def test_the_refusal_challenges_like_mediaserve(front: Front, lib: Lib) -> None:
    status, headers, _body = get(front.port, lib.stream("film.mp4"), {"Range": "bytes=0-9"})
    assert status == 401
    assert 'Bearer realm="mediaserve"' in headers["www-authenticate"]
    assert "Basic" in headers["www-authenticate"]


def checks_logged(log: Path, at_least: int) -> int:
    """How many credential checks the node's access log holds, once it holds ``at_least``
    (a line is written just after its answer leaves)."""
    deadline = time.monotonic() + 10
    while True:
        count = log.read_text().count("/api/auth/check") if log.exists() else 0
        if count >= at_least or time.monotonic() > deadline:
            return count
        time.sleep(0.05)


def test_the_check_is_cached_per_credential_and_logs_no_secret(front: Front, lib: Lib) -> None:
    url = lib.stream("film.mp4")
    log = front.work / "node-access.log"
    before = checks_logged(log, 0)
    # one viewer seeking (a credential nginx has not seen: an extra cookie makes it new)
    viewer = {"Authorization": basic(USER, PASSWORD), "Cookie": f"viewer={time.time_ns()}"}
    for offset in range(6):
        span = f"bytes={offset * 100_000}-{offset * 100_000 + 99}"
        status, _h, body = get(front.port, url, {**viewer, "Range": span})
        assert (status, body) == (206, lib.data["film.mp4"][offset * 100_000:][:100])
    # the check was asked once and its answer remembered (10 s), not asked per request
    assert 1 <= checks_logged(log, before + 1) - before < 6
    logged = (front.work / "access.log").read_text()
    assert url in logged
    for secret in (TOKEN, base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()):
        assert secret not in logged
