"""Nothing outside the library root is ever served, whatever the URL or the disk holds.

Ids are hex digests, so a path in a URL can never name a file; the filesystem is the other
way in (a symlink swapped in after the scan, a hand-edited index), which openat2
RESOLVE_BENEATH, or the realpath fallback, must refuse.
"""

from __future__ import annotations

import dataclasses
import http.client
import json
import os
import threading
from pathlib import Path

import pytest

from mediaserve.adapters.library.store import INDEX_NAME, save_index
from mediaserve.adapters.server.api.keys import STATE
from mediaserve.core.config.settings import Settings
from tests.server.conftest import Lib, Served

SECRET = b"TOP-SECRET-" * 100


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A folder next to the library holding a file nobody may download."""
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "secret.mp4").write_bytes(SECRET)
    (folder / "nested.webm").write_bytes(SECRET)
    return folder


@pytest.fixture(params=["openat2", "realpath"])
async def guarded(request: pytest.FixtureRequest, serve, byte_lib: Lib) -> Served:
    """The server, once with openat2 RESOLVE_BENEATH and once with the realpath fallback
    (the code path for kernels older than 5.6)."""
    served = await serve(byte_lib)
    opener = served.app[STATE].opener
    if request.param == "openat2":
        if not opener.uses_openat2:
            pytest.skip("this kernel has no openat2")
    else:
        opener.uses_openat2 = False
    return served


TRAVERSALS = [
    "/api/videos/../../../outside/secret.mp4",
    "/api/videos/..%2f..%2f..%2foutside%2fsecret.mp4/stream",
    "/api/videos/%2e%2e/stream",
    "/api/videos/%2e%2e%2f%2e%2e%2foutside%2fsecret.mp4/stream",
    "/api/videos/%2E%2E%2F%2E%2E%2Foutside%2Fsecret.mp4",
    "/api/videos/..%5c..%5coutside%5csecret.mp4/stream",
    "/api/videos/0123456789ab%2f..%2f..%2f..%2foutside%2fsecret.mp4/stream",
    "/api/videos/%252e%252e%252f/stream",
    "/api/videos/..;/stream",
    "/static/..%2f..%2f..%2foutside%2fsecret.mp4",
    "/static/%2e%2e/%2e%2e/outside/secret.mp4",
    "/../outside/secret.mp4",
]


@pytest.mark.parametrize("target", TRAVERSALS)
async def test_traversal_in_the_url_is_404(serve, byte_lib: Lib, outside: Path,
                                           target: str) -> None:
    served = await serve(byte_lib)
    for method in ("GET", "HEAD"):
        response = await served.fetch(method, target, {"Range": "bytes=0-"})
        assert response.status == 404, (method, target, response.status)
        assert b"SECRET" not in response.body


async def test_symlink_out_of_the_root_swapped_in_after_the_scan(guarded: Served,
                                                                 outside: Path) -> None:
    lib = guarded.lib
    target = lib.path("small.mp4")
    target.unlink()
    target.symlink_to(outside / "secret.mp4")
    for headers in ({}, {"Range": "bytes=0-"}, {"Range": "bytes=-10"}):
        response = await guarded.fetch("GET", lib.stream("small.mp4"), headers)
        assert response.status == 404, headers
        assert b"SECRET" not in response.body
        assert response.headers["Content-Type"].startswith("application/json")
    relative = lib.path("blob.mp4")  # a relative link climbing out works no better
    relative.unlink()
    relative.symlink_to(os.path.relpath(outside / "secret.mp4", relative.parent))
    response = await guarded.fetch("GET", lib.stream("blob.mp4"))
    assert response.status == 404
    assert b"SECRET" not in response.body


async def test_directory_symlink_out_of_the_root(guarded: Served, outside: Path) -> None:
    lib = guarded.lib
    folder = lib.path("sub dir")
    (folder / "nested.webm").unlink()
    folder.rmdir()
    folder.symlink_to(outside, target_is_directory=True)
    response = await guarded.fetch("GET", lib.stream("sub dir/nested.webm"))
    assert response.status == 404
    assert b"SECRET" not in response.body


async def test_symlink_inside_the_root_is_still_served(guarded: Served) -> None:
    lib = guarded.lib
    link = lib.path("small.mp4")
    link.unlink()
    link.symlink_to("sub dir/nested.webm")
    response = await guarded.fetch("GET", lib.stream("small.mp4"), {"Range": "bytes=0-99"})
    assert response.status == 206
    assert response.body == lib.data["sub dir/nested.webm"][:100]


async def test_absolute_symlink_inside_the_root_is_still_served(guarded: Served) -> None:
    """``ln -s "$PWD/a.mp4" best/a.mp4`` makes an absolute link; the scan indexes it (it
    resolves inside the root), so the server must serve it too. RESOLVE_BENEATH refuses
    every absolute link, inside or not; a link that resolves outside stays refused."""
    lib = guarded.lib
    link = lib.path("small.mp4")
    link.unlink()
    link.symlink_to(lib.path("sub dir/nested.webm").resolve())
    assert os.path.isabs(os.readlink(link))
    response = await guarded.fetch("GET", lib.stream("small.mp4"), {"Range": "bytes=0-99"})
    assert response.status == 206, response.body
    assert response.body == lib.data["sub dir/nested.webm"][:100]
    folder_link = lib.root / "linked dir"  # an absolute link to a folder inside, as a parent
    folder_link.symlink_to(lib.path("sub dir").resolve(), target_is_directory=True)
    opener = guarded.app[STATE].opener
    fd = opener.open("linked dir/nested.webm")
    try:
        assert os.pread(fd, 100, 0) == lib.data["sub dir/nested.webm"][:100]
    finally:
        os.close(fd)


def test_a_rename_anywhere_does_not_fail_a_dotdot_symlink(tmp_path: Path) -> None:
    """openat2(RESOLVE_BENEATH) answers EAGAIN when a rename anywhere on the system races a
    lookup through ``..`` (a relative link such as ``sub/link.mp4 -> ../a.mp4``); the
    kernel documents a retry. Without one, such a video sporadically gets a 503."""
    from mediaserve.adapters.server.site.safe_open import RootOpener

    root = tmp_path / "lib"
    (root / "sub").mkdir(parents=True)
    (root / "a.mp4").write_bytes(b"video")
    (root / "sub" / "link.mp4").symlink_to("../a.mp4")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    opener = RootOpener(root)
    if not opener.uses_openat2:
        pytest.skip("this kernel has no openat2")
    stop = threading.Event()

    def rename_forever() -> None:
        name = elsewhere / "0"
        name.touch()
        number = 0
        while not stop.is_set():
            number += 1
            name = name.rename(elsewhere / str(number))

    renamer = threading.Thread(target=rename_forever)
    renamer.start()
    failures: dict[str, int] = {}
    try:
        for _ in range(5_000):
            try:
                os.close(opener.open("sub/link.mp4"))
            except OSError as exc:
                failures[os.strerror(exc.errno or 0)] = failures.get(
                    os.strerror(exc.errno or 0), 0) + 1
    finally:
        stop.set()
        renamer.join()
        opener.close()
    assert failures == {}


@pytest.mark.parametrize("evil_path", ["../outside/secret.mp4", "/tmp/../etc/passwd",
                                       "sub dir/../../outside/secret.mp4"])
async def test_a_hand_edited_index_cannot_point_outside(
        serve, byte_lib: Lib, outside: Path, evil_path: str) -> None:
    """The index is a TOML file people edit: a path in it is not trusted either."""
    vid = byte_lib.ids["small.mp4"]
    index = byte_lib.index
    index.videos[vid] = dataclasses.replace(index.videos[vid], path=evil_path)
    served = await serve(byte_lib)
    for uses_openat2 in (True, False):
        served.app[STATE].opener.uses_openat2 = (uses_openat2
                                                 and served.app[STATE].opener.uses_openat2)
        response = await served.fetch("GET", f"/api/videos/{vid}/stream")
        assert response.status == 404
        assert b"SECRET" not in response.body
        assert b"root:" not in response.body


async def _unblock_after(fifo: Path, seconds: float) -> threading.Timer:
    """If the server blocks opening the FIFO, open its write end later so the test (which
    shares the server's event loop) fails instead of hanging forever."""

    def rescue() -> None:
        try:
            fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        except OSError:
            return  # no reader blocked on it: nothing to rescue
        rescued.append(True)
        os.close(fd)

    rescued: list[bool] = []
    timer = threading.Timer(seconds, rescue)
    timer.rescued = rescued  # type: ignore[attr-defined]
    timer.start()
    return timer


async def test_a_fifo_swapped_in_does_not_block_the_server(serve, byte_lib: Lib) -> None:
    served = await serve(byte_lib)
    fifo = byte_lib.path("small.mp4")
    fifo.unlink()
    os.mkfifo(fifo)
    timer = await _unblock_after(fifo, 3.0)
    try:
        response = await served.fetch("GET", byte_lib.stream("small.mp4"))
    finally:
        timer.cancel()
    blocked = timer.rescued  # type: ignore[attr-defined]
    assert not blocked, "the server blocked its event loop opening a FIFO"
    assert response.status == 404
    assert response.headers["Content-Type"].startswith("application/json")
    other = await served.fetch("GET", byte_lib.stream("blob.mp4"), {"Range": "bytes=0-0"})
    assert other.status == 206


async def test_a_directory_swapped_in_is_missing_not_500(serve, byte_lib: Lib) -> None:
    served = await serve(byte_lib)
    name = "small.mp4"
    byte_lib.path(name).unlink()
    byte_lib.path(name).mkdir()
    status, body = await served.get_json(byte_lib.stream(name))
    assert status == 404
    assert body["missing"] is True
    _, listing = await served.get_json("/api/videos")
    assert {v["path"]: v["status"] for v in listing["videos"]}[name] == "missing"


def test_unreadable_file_is_403_not_500(spawn, sendfile: bool, byte_lib: Lib,
                                       tmp_path: Path) -> None:
    """``mediaserve serve`` runs as a child where permissions apply even to root (in this
    process root would read the chmod 000 file)."""
    save_index(byte_lib.root / INDEX_NAME, byte_lib.index)
    child = spawn(str(byte_lib.root), "--port", "0", "--access-log", "off",
                  *([] if sendfile else ["--no-sendfile"]),
                  env={"MEDIASERVE_DATA_DIR": str(tmp_path / "data")},
                  unprivileged=True).wait_started()
    byte_lib.path("small.mp4").chmod(0)
    try:
        conn = http.client.HTTPConnection("127.0.0.1", child.port, timeout=10)
        conn.request("GET", byte_lib.stream("small.mp4"))
        response = conn.getresponse()
        status, content_type, body = (response.status, response.getheader("Content-Type"),
                                      json.loads(response.read()))
        conn.close()
    finally:
        byte_lib.path("small.mp4").chmod(0o644)
    assert status == 403
    assert content_type is not None and content_type.startswith("application/json")
    assert "error" in body


def test_loopback_is_the_default_bind_address() -> None:
    assert Settings().host == "127.0.0.1"
