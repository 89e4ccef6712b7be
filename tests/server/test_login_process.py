"""The rehash of old password hashes in real ``mediaserve serve`` processes: with a users
file the server may not write (one warning, logins keep working), and with workers that
each hold their own copy of the users (a cookie made from the new hash works on all)."""

from __future__ import annotations

import base64
import http.client
import re
import secrets
import urllib.parse
from collections.abc import Callable
from pathlib import Path

import pytest

from mediaserve.adapters.library.store import INDEX_NAME, save_index
from mediaserve.core.http.auth import hash_password
from tests.server.conftest import Lib, blob

PASSWORD = "correct horse battery staple"


@pytest.fixture
def folder(tmp_path: Path, library_maker: Callable[[Path, dict], Lib]) -> Lib:
    lib = library_maker(tmp_path / "lib", {"a.mp4": blob(100_000, seed=32)})
    save_index(lib.root / INDEX_NAME, lib.index)
    return lib


def users_file(folder: Path, *names: str) -> Path:
    folder.mkdir(exist_ok=True)
    path = folder / "users"
    path.write_text("".join(
        f"{name}:{hash_password(PASSWORD, secrets.token_bytes(16), n=1 << 14)}\n"
        for name in names))
    return path


def request(port: int, method: str, target: str, headers: dict[str, str] | None = None,
            body: str | None = None) -> tuple[int, dict[str, str], str]:
    """One request on a fresh connection (so the kernel picks a worker each time)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(method, target, body=body, headers=headers or {})
        response = conn.getresponse()
        return (response.status, {k.lower(): v for k, v in response.getheaders()},
                response.read().decode(errors="replace"))
    finally:
        conn.close()


def form_login(port: int, user: str) -> str:
    """Log in through the form; the ``mediaserve_auth=...`` cookie pair."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", "/login")
        page = conn.getresponse()
        csrf_cookie = page.getheader("Set-Cookie", "").split(";", 1)[0]
        found = re.search(r'name="csrf" value="([0-9a-f]+)"', page.read().decode())
        assert found, "no CSRF field"
        body = urllib.parse.urlencode({"user": user, "password": PASSWORD,
                                       "csrf": found.group(1)})
        conn.request("POST", "/login", body=body, headers={
            "Content-Type": "application/x-www-form-urlencoded", "Cookie": csrf_cookie})
        answer = conn.getresponse()
        answer.read()
        assert answer.status == 303, answer.status
        return answer.getheader("Set-Cookie", "").split(";", 1)[0]
    finally:
        conn.close()


def basic(user: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{PASSWORD}".encode()).decode()}


def test_an_unwritable_users_file_is_warned_about_once_and_logins_go_on(
        spawn, tmp_path: Path, folder: Lib) -> None:
    users = users_file(tmp_path / "etc", "alice", "bob")
    before = users.read_text()
    (tmp_path / "etc").chmod(0o555)  # the folder: no temporary file, no rename
    try:
        child = spawn(str(folder.root), "--port", "0", "--auth-users", str(users),
                      "--access-log", "off", env={"MEDIASERVE_DATA_DIR": str(tmp_path / "d")},
                      unprivileged=True).wait_started()
        for user in ("alice", "bob", "alice"):
            assert request(child.port, "GET", "/api/videos", basic(user))[0] == 200
        assert form_login(child.port, "bob")
    finally:
        (tmp_path / "etc").chmod(0o755)
    warnings = [line for line in child.lines if "cannot rewrite the users file" in line]
    assert len(warnings) == 1, child.stderr
    assert str(users) in warnings[0] and "Permission denied" in warnings[0]
    assert users.read_text() == before


def test_a_rehash_in_one_worker_is_picked_up_by_the_others(spawn, tmp_path: Path,
                                                           folder: Lib) -> None:
    users = users_file(tmp_path / "etc", "alice")
    child = spawn(str(folder.root), "--port", "0", "--workers", "2", "--auth-users",
                  str(users), "--access-log", "off",
                  env={"MEDIASERVE_DATA_DIR": str(tmp_path / "d")}).wait_started()
    cookie = form_login(child.port, "alice")  # the worker that answers rehashes alice
    assert "alice:scrypt$131072$" in users.read_text()
    statuses = [request(child.port, "GET", "/api/videos", {"Cookie": cookie})[0]
                for _ in range(24)]  # fresh connections: both workers (all on one: 2**-23)
    assert set(statuses) == {200}, statuses
    assert all(request(child.port, "GET", "/api/videos", basic("alice"))[0] == 200
               for _ in range(6))
