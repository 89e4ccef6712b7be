"""The JSON API and per-file headers: listing, lookups, errors, missing files, Content-Type
from the container, and a Content-Disposition that survives hostile file names."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path
from urllib.parse import unquote

import av
import pytest

from mediaserve.adapters.media.clips import ClipSpec, encode_clip
from tests.server.conftest import Lib

HOSTILE_NAME = 'Tom\'s "cut"\r\nX-Injected: 1\\; é日本 100%\u202egpj.mp4'


async def test_listing_and_lookup(serve, byte_lib: Lib) -> None:
    served = await serve(byte_lib)
    status, listing = await served.get_json("/api/videos")
    assert status == 200
    assert listing["count"] == len(listing["videos"]) == len(byte_lib.data)
    by_path = {video["path"]: video for video in listing["videos"]}
    assert set(by_path) == set(byte_lib.data)
    assert [v["path"] for v in listing["videos"]] == sorted(by_path)
    nested = by_path["sub dir/nested.webm"]
    assert nested["name"] == "nested.webm"
    assert nested["size"] == len(byte_lib.data["sub dir/nested.webm"])
    assert nested["stream_url"] == byte_lib.stream("sub dir/nested.webm")
    assert nested["status"] == "error"  # random bytes: indexed with a probe error
    status, one = await served.get_json(f"/api/videos/{nested['id']}")
    assert status == 200
    # one video's JSON adds its playback plan (adapters/playback) to what the listing says
    assert one.pop("playback")["mode"] == "unplayable"
    assert one == nested


@pytest.mark.parametrize("path", [
    "/api/videos/0123456789ab",
    "/api/videos/0123456789ab/stream",
    "/api/videos/" + "f" * 64 + "/stream",
])
async def test_unknown_id_is_a_json_404(serve, byte_lib: Lib, path: str) -> None:
    served = await serve(byte_lib)
    status, body = await served.get_json(path)
    assert status == 404
    assert isinstance(body["error"], str)
    assert body["error"]


@pytest.mark.parametrize("path", [
    "/api/videos/not-an-id",
    "/api/videos/ABCDEF012345/stream",  # upper case is not an id
    "/api/videos/0123/stream",  # too short
    "/api/videos/0123456789ab/stream/extra",
    "/api/nothing",
])
async def test_malformed_api_paths_are_json_404s(serve, byte_lib: Lib, path: str) -> None:
    served = await serve(byte_lib)
    for method in ("GET", "HEAD"):
        response = await served.fetch(method, path)
        assert response.status == 404, (method, path, response.status)
        assert response.headers["Content-Type"].startswith("application/json")
    status, body = await served.get_json(path)
    assert status == 404
    assert "error" in body


async def test_wrong_method_is_a_json_405_with_allow(serve, byte_lib: Lib) -> None:
    served = await serve(byte_lib)
    for method in ("POST", "PUT", "DELETE"):
        response = await served.fetch(method, byte_lib.stream("small.mp4"),
                                      {"Content-Length": "0"})
        assert response.status == 405
        assert "GET" in response.headers["Allow"]
        assert response.headers["Content-Type"].startswith("application/json")


async def test_indexed_file_gone_is_a_json_404_and_marked_missing(serve,
                                                                  byte_lib: Lib) -> None:
    served = await serve(byte_lib)
    name = "small.mp4"
    vid = byte_lib.ids[name]
    saved = byte_lib.path(name).read_bytes()
    byte_lib.path(name).unlink()

    for method, headers in (("GET", {}), ("GET", {"Range": "bytes=0-"}), ("HEAD", {})):
        response = await served.fetch(method, byte_lib.stream(name), headers)
        assert response.status == 404, method
        assert response.headers["Content-Type"].startswith("application/json")
    status, body = await served.get_json(byte_lib.stream(name))
    assert status == 404
    assert "missing" in body["error"]
    assert body["missing"] is True
    _, listing = await served.get_json("/api/videos")
    statuses = {v["id"]: v["status"] for v in listing["videos"]}
    assert statuses[vid] == "missing"
    assert all(s != "missing" for i, s in statuses.items() if i != vid)
    _, one = await served.get_json(f"/api/videos/{vid}")
    assert one["status"] == "missing"

    byte_lib.path(name).write_bytes(saved)  # the drive came back
    response = await served.fetch("GET", byte_lib.stream(name))
    assert response.status == 200
    assert response.body == saved
    _, one = await served.get_json(f"/api/videos/{vid}")
    assert one["status"] != "missing"


async def test_a_file_gone_before_start_up_is_listed_missing_at_once(serve,
                                                                      byte_lib: Lib) -> None:
    byte_lib.path("small.mp4").unlink()
    served = await serve(byte_lib)
    _, listing = await served.get_json("/api/videos")  # no one has tried to play it yet
    statuses = {v["path"]: v["status"] for v in listing["videos"]}
    assert statuses["small.mp4"] == "missing"
    assert statuses["blob.mp4"] != "missing"


async def test_a_whole_missing_folder_is_404_not_500(serve, byte_lib: Lib) -> None:
    served = await serve(byte_lib)
    name = "sub dir/nested.webm"
    byte_lib.path(name).unlink()
    byte_lib.path("sub dir").rmdir()
    byte_lib.path("sub dir").write_bytes(b"now a file where a folder was")  # ENOTDIR
    status, body = await served.get_json(byte_lib.stream(name))
    assert status == 404
    assert body["missing"] is True
    _, listing = await served.get_json("/api/videos")
    assert {v["path"]: v["status"] for v in listing["videos"]}[name] == "missing"


def _clip_files(corpus) -> dict[str, bytes]:
    """Real clips in each container the issue names, plus a WebM misnamed ``.mp4``."""
    files = {}
    for name in ("h264_aac_faststart.mp4", "vp9_opus.webm", "h264_aac.mkv"):
        corpus.require(name)
        files[name] = corpus.path(name).read_bytes()
    files["actually_webm.mp4"] = files["vp9_opus.webm"]
    return files


@pytest.fixture(scope="module")
def mov_bytes(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    if "libx264" not in av.codecs_available or "aac" not in av.codecs_available:
        pytest.skip("this PyAV build cannot encode H.264/AAC")
    folder = tmp_path_factory.mktemp("mov")
    return encode_clip(folder, ClipSpec("clip.mov", seconds=1.0)).read_bytes()


@pytest.mark.parametrize(("name", "content_type"), [
    ("h264_aac_faststart.mp4", "video/mp4"),
    ("vp9_opus.webm", "video/webm"),
    ("h264_aac.mkv", "video/x-matroska"),
    ("clip.mov", "video/quicktime"),
    ("actually_webm.mp4", "video/webm"),  # the container decides, not the extension
])
async def test_content_type_comes_from_the_container(
        serve, corpus, mov_bytes: bytes, tmp_path: Path,
        library_maker: Callable[[Path, dict], Lib], name: str, content_type: str) -> None:
    files = {**_clip_files(corpus), "clip.mov": mov_bytes}
    lib = library_maker(tmp_path / "lib", files)
    served = await serve(lib)
    status, doc = await served.get_json(f"/api/videos/{lib.ids[name]}")
    assert status == 200
    assert doc["status"] == "ok", doc
    assert doc["content_type"] == content_type
    whole = await served.fetch("GET", lib.stream(name))
    assert whole.headers["Content-Type"] == content_type
    assert whole.body == files[name]
    ranged = await served.fetch("GET", lib.stream(name), {"Range": "bytes=0-3,-4"})
    assert ranged.status == 206
    assert f"Content-Type: {content_type}".encode() in ranged.body


async def test_content_disposition_with_a_hostile_file_name(
        serve, tmp_path: Path, library_maker: Callable[[Path, dict], Lib]) -> None:
    data = b"\x00\x01not really a video" * 100
    lib = library_maker(tmp_path / "lib", {HOSTILE_NAME: data, "plain.mp4": data})
    assert os.path.exists(lib.path(HOSTILE_NAME))
    served = await serve(lib)
    response = await served.fetch("GET", lib.stream(HOSTILE_NAME))
    assert response.status == 200
    assert response.body == data
    names = [line.split(b":", 1)[0].lower() for line in response.header_lines]
    assert b"x-injected" not in names
    assert names.count(b"content-disposition") == 1
    for line in response.header_lines:
        assert all(32 <= byte < 127 or byte == 9 for byte in line), line
    disposition = response.headers["Content-Disposition"]
    match = re.fullmatch(r'inline; filename="([^"\\]*)"; filename\*=UTF-8\'\'([^\s;"]+)',
                         disposition)
    assert match, disposition
    # the exact name but its control and bidi characters (U+202E would show "…mp4.jpg")
    assert unquote(match.group(2), errors="strict") == (
        'Tom\'s "cut"X-Injected: 1\\; é日本 100%gpj.mp4')
    assert match.group(1).endswith("gpj.mp4") and "\u202e" not in match.group(1)

    plain = await served.fetch("HEAD", lib.stream("plain.mp4"))
    assert plain.headers["Content-Disposition"] == 'inline; filename="plain.mp4"'

    status, listing = await served.get_json("/api/videos")
    assert status == 200
    assert HOSTILE_NAME in {v["name"] for v in listing["videos"]}


async def test_web_ui_is_served_from_a_fixed_table(serve, byte_lib: Lib) -> None:
    served = await serve(byte_lib)
    page = await served.fetch("GET", "/")
    assert page.status == 200
    assert page.headers["Content-Type"].startswith("text/html")
    script = await served.fetch("GET", "/static/app.js")
    assert script.status == 200
    assert script.headers["Content-Type"].startswith("text/javascript")
    for path in ("/static/nope.js", "/static/index.html.bak", "/static/..%2f__init__.py",
                 "/static/%2e%2e%2fweb%2fapp.js"):
        response = await served.fetch("GET", path)
        assert response.status == 404, path
