"""The web UI's endpoints on a real loopback server: posters, seek-preview sprites,
subtitles, the compact listing, and the pages' headers. Pictures are made by the real PyAV
worker processes and read back with PyAV."""

from __future__ import annotations

import gzip
import io
import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import av
import pytest

from benchmarks import peers
from mediaserve.adapters.library.scanner import scan
from mediaserve.adapters.media.clips import ClipSpec, encode_clip
from mediaserve.adapters.server import create_app
from mediaserve.core.web.sprites import plan_sprite

CLIP = ClipSpec("Holiday.2019.720p.mp4", seconds=8, fps=25, width=320, height=180)
OTHER = ClipSpec("Folder/Other clip.webm", video_codec="libvpx-vp9", audio_codec="libopus",
                 seconds=2, fps=10)
SRT = "1\n00:00:01,000 --> 00:00:02,000\nHi\n"


def jpeg_size(data: bytes) -> tuple[int, int]:
    assert data[:2] == b"\xff\xd8", data[:16]
    with av.open(io.BytesIO(data)) as container:
        frame = next(container.decode(video=0))
        return frame.width, frame.height


@pytest.fixture
def library(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    root, data = tmp_path / "lib", tmp_path / "data"
    encode_clip(root, CLIP)
    encode_clip(root, OTHER)
    (root / "broken.mp4").write_bytes(os.urandom(50_000))
    (root / "gone.mp4").write_bytes(b"x")
    (root / "Holiday.2019.720p.en.srt").write_text(SRT)
    (root / "Holiday.2019.720p.vtt").write_text("00:00.000 --> 00:01.000\nno header\n")
    monkeypatch.setenv("MEDIASERVE_DATA_DIR", str(data))
    index, _ = scan(root, None, workers=1)
    (root / "gone.mp4").unlink()
    return {"root": root, "data": data, "index": index}


@pytest.fixture
async def client(library: dict[str, Any], aiohttp_client: Any) -> Any:
    return await aiohttp_client(create_app(library["index"], library["root"]))


def ident(library: dict[str, Any], name: str) -> str:
    """The id the scan gave ``name`` (keyed with the library's secret)."""
    return str(library["index"].by_path()[name].id)


def files_under(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}


async def test_poster_is_a_cached_versioned_jpeg(client: Any, library: dict[str, Any]) -> None:
    before = files_under(library["root"])
    vid = ident(library, CLIP.name)
    doc = await (await client.get(f"/api/videos/{vid}")).json()
    url = doc["poster_url"]
    assert url.startswith(f"/api/videos/{vid}/poster.jpg?v=")
    first = await client.get(url)
    assert first.status == 200 and first.headers["Content-Type"] == "image/jpeg"
    body = await first.read()
    assert jpeg_size(body) == (320, 180)
    assert "immutable" in first.headers["Cache-Control"]
    etag = first.headers["ETag"]
    cached = [p for p in library["data"].rglob("*.jpg")]
    assert len(cached) == 1 and cached[0].read_bytes() == body
    assert files_under(library["root"]) == before  # nothing written into the library
    again = await client.get(url, headers={"If-None-Match": etag})
    assert again.status == 304
    unversioned = await client.get(f"/api/videos/{vid}/poster.jpg")
    assert unversioned.headers["Cache-Control"] == "no-cache"
    assert unversioned.headers["ETag"] == etag and await unversioned.read() == body

    encode_clip(library["root"], ClipSpec(CLIP.name, seconds=4, fps=25, width=160, height=90))
    changed = await client.get(f"/api/videos/{vid}/poster.jpg", headers={"If-None-Match": etag})
    assert changed.status == 200 and changed.headers["ETag"] != etag
    assert jpeg_size(await changed.read()) == (160, 90)
    assert len(list(library["data"].rglob("*.jpg"))) == 1  # the old version was removed


async def test_placeholder_for_undecodable_and_missing_files(client: Any,
                                                             library: dict[str, Any]) -> None:
    for name in ("broken.mp4", "gone.mp4"):
        response = await client.get(f"/api/videos/{ident(library, name)}/poster.jpg")
        assert response.status == 200, name
        assert response.headers["Content-Type"] == "image/jpeg"
        assert response.headers["X-Mediaserve-Placeholder"] == "1"
        assert jpeg_size(await response.read()) == (32, 18)
    unknown = await client.get("/api/videos/0123456789ab/poster.jpg")
    assert unknown.status == 404 and "error" in await unknown.json()


async def test_seek_preview_track_and_sprite(client: Any, library: dict[str, Any]) -> None:
    vid = ident(library, CLIP.name)
    vtt = await client.get(f"/api/videos/{vid}/thumbnails.vtt")
    assert vtt.status == 200 and vtt.headers["Content-Type"].startswith("text/vtt")
    text = await vtt.text()
    layout = plan_sprite(CLIP.seconds, CLIP.width, CLIP.height)
    assert layout is not None
    assert text.startswith("WEBVTT") and text.count("-->") == layout.count
    sprite_url = text.split("\n")[3].split("#")[0]
    sprite = await client.get(sprite_url)
    assert sprite.status == 200 and "immutable" in sprite.headers["Cache-Control"]
    assert jpeg_size(await sprite.read()) == (layout.width, layout.height)
    broken = await client.get(f"/api/videos/{ident(library, 'broken.mp4')}/thumbnails.vtt")
    assert broken.status == 404  # no duration: no previews, and a JSON reason
    assert "error" in await broken.json()


async def test_subtitles_found_by_the_scan_and_served_as_vtt(client: Any,
                                                             library: dict[str, Any]) -> None:
    entry = library["index"].by_path()[CLIP.name]
    assert entry.subtitles == ("Holiday.2019.720p.en.srt", "Holiday.2019.720p.vtt")
    doc = await (await client.get(f"/api/videos/{entry.id}")).json()
    assert doc["title"] == "Holiday (2019)"
    assert [(s["label"], s["srclang"]) for s in doc["subtitles"]] == [("English", "en"),
                                                                     ("Subtitles", "")]
    srt = await client.get(doc["subtitles"][0]["url"])
    assert srt.status == 200 and srt.headers["Content-Type"] == "text/vtt; charset=utf-8"
    assert await srt.text() == "WEBVTT\n\n1\n00:00:01.000 --> 00:00:02.000\nHi\n"
    vtt = await client.get(doc["subtitles"][1]["url"])
    assert (await vtt.text()).startswith("WEBVTT\n\n00:00.000 --> 00:00:01.000".replace(
        "00:00:01", "00:01"))
    assert (await client.get(f"/api/videos/{entry.id}/subtitles/2.vtt")).status == 404
    (library["root"] / "Holiday.2019.720p.en.srt").unlink()
    gone = await client.get(doc["subtitles"][0]["url"])
    assert gone.status == 404 and (await gone.json())["missing"] is True


async def test_compact_listing_paging_and_revalidation(client: Any) -> None:
    full = await (await client.get("/api/videos")).json()
    response = await client.get("/api/videos?view=cards", headers={"Accept-Encoding": "gzip"})
    assert response.status == 200
    cards = await response.json()  # aiohttp's client inflates gzip
    assert cards["count"] == full["count"] == 4
    rows = [dict(zip(cards["fields"], row, strict=True)) for row in cards["rows"]]
    assert [r["id"] for r in rows] == [v["id"] for v in full["videos"]]
    by_name = {r["name"]: r for r in rows}
    assert by_name["gone.mp4"]["problem"][:2] == ["error", "missing"]
    assert by_name["Other clip.webm"]["folder"] == "Folder"
    etag = response.headers["ETag"]
    assert (await client.get("/api/videos?view=cards",
                             headers={"If-None-Match": etag})).status == 304
    page = await (await client.get("/api/videos?offset=1&limit=2")).json()
    assert page["count"] == 2 and page["total"] == 4
    assert page["videos"] == full["videos"][1:3]
    for bad in ("?limit=-1", "?offset=x", "?view=all"):
        reply = await client.get("/api/videos" + bad)
        assert reply.status == 400 and "error" in await reply.json()


async def test_listing_is_gzipped_when_asked(client: Any) -> None:
    response = await client.get("/api/videos", headers={"Accept-Encoding": "gzip"},
                                auto_decompress=False)
    assert response.headers["Content-Encoding"] == "gzip"
    raw = await response.read()
    assert gzip.decompress(raw).startswith(b'{"count": 4')


async def test_pages_carry_a_strict_csp(client: Any, library: dict[str, Any]) -> None:
    vid = ident(library, CLIP.name)
    for path, status in (("/", 200), (f"/watch/{vid}", 200), ("/watch/0123456789ab", 404)):
        page = await client.get(path)
        assert page.status == status, path
        assert page.headers["Content-Type"].startswith("text/html")
        csp = page.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert "default-src 'self'" in csp
    html = await (await client.get("/")).text()
    assert "<script>" not in html and "style=" not in html
    icon = await client.get("/favicon.ico")
    assert icon.status == 200 and icon.headers["Content-Type"] == "image/svg+xml"
    script = await client.get("/static/player.js")
    assert (await client.get("/static/player.js",
                             headers={"If-None-Match": script.headers["ETag"]})).status == 304
    # hls.js attaches Media Source Extensions through a blob: URL; its worker stays off, so
    # no blob: worker is allowed
    assert "media-src 'self' blob:" in csp and "worker-src" not in csp
    hls = await client.get("/static/vendor/hls.js/hls.min.mjs")
    assert hls.status == 200 and hls.headers["Content-Type"].startswith("text/javascript")
    assert hls.headers["ETag"]
    for name in ("caps.js", "playback.js", "quality.js", "messages.js", "resume.js", "keys.js"):
        assert (await client.get(f"/static/{name}")).status == 200, name
    for path in ("/static/vendor/hls.js/README.md", "/static/vendor/player.js",
                 "/static/vendor/hls.js/LICENSE", "/static/%2e%2e/__init__.py"):
        assert (await client.get(path)).status == 404, path


def test_web_routes_do_not_load_pyav_in_the_serving_process() -> None:
    code = ("import sys, mediaserve.adapters.server, mediaserve.adapters.web.routes;"
            "print('av' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"


async def test_a_poster_job_over_its_time_is_killed_and_gets_the_placeholder(
        client: Any, library: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    from mediaserve.adapters.web import framegen, frames
    from tests.web.slow_jobs import slow_poster

    # the time limit counts the job's own run in its worker, not the worker's start-up: a fast
    # machine decodes the tiny clip's poster within any small limit, so the job is made slow
    monkeypatch.setattr(framegen, "make_poster", slow_poster)
    monkeypatch.setattr(frames, "POSTER_TIMEOUT_S", 0.5)
    response = await client.get(f"/api/videos/{ident(library, CLIP.name)}/poster.jpg")
    assert response.status == 200
    assert response.headers["X-Mediaserve-Placeholder"] == "1"
    # (that the job's worker is killed, and only it, is tests/web/test_frame_limits.py's)
    monkeypatch.setattr(frames, "POSTER_TIMEOUT_S", 30.0)
    again = await client.get(f"/api/videos/{ident(library, CLIP.name)}/poster.jpg")
    assert "X-Mediaserve-Placeholder" in again.headers  # remembered until the file changes


def _maps_libavcodec(pid: int) -> bool:
    try:
        return "libavcodec" in Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return False


def _children(pid: int) -> list[int]:
    found = []
    for stat_file in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat_file.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat_file.parent.name))
    return found


def test_posters_are_decoded_in_a_child_not_in_the_serving_process(
        library: dict[str, Any]) -> None:
    """The real ``mediaserve serve``: after a poster is made, FFmpeg's libraries are mapped
    in a worker process and not in the server (skipped while ``serve`` itself still loads
    PyAV at start-up: that is the lean-server work, not the poster's)."""
    port = peers.free_port()
    env = {**os.environ, "MEDIASERVE_DATA_DIR": str(library["data"])}
    proc = subprocess.Popen(
        [sys.executable, "-m", "mediaserve", "serve", str(library["root"]), "--port",
         str(port), "--access-log", "off", "--no-watch"], env=env, stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        peers.wait_for_port(port, proc)
        if _maps_libavcodec(proc.pid):
            pytest.skip("this `serve` loads PyAV at start-up; nothing to check for posters")
        base = f"http://127.0.0.1:{port}"
        with urllib.request.urlopen(base + "/api/videos", timeout=30) as reply:
            videos = json.load(reply)["videos"]  # this serve scanned: its own ids
        url = base + next(v["poster_url"] for v in videos if v["path"] == CLIP.name)
        with urllib.request.urlopen(url, timeout=60) as reply:
            assert reply.headers.get("X-Mediaserve-Placeholder") is None
            assert jpeg_size(reply.read()) == (320, 180)
        assert not _maps_libavcodec(proc.pid)
        assert any(_maps_libavcodec(child) for child in _children(proc.pid))
    finally:
        peers.stop_process(proc)
