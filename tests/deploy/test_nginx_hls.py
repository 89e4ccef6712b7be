"""HLS through the nginx front: segments and init segments are cached (their URLs carry the
file's version, so they never change), behind the same credential check as the stream's
slices; playlists are never cached. Real nginx running ``docs/deploy/nginx-mediaserve.conf``
in front of a real protected mediaserve converting a real clip (H.264 + AC-3: the sound is
converted to AAC, the cheapest conversion)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import m3u8
import pytest

from benchmarks.peers import start_mediaserve
from mediaserve.adapters.media.clips import ClipSpec, encode_clip
from tests.deploy.front import get, start_front

pytestmark = pytest.mark.nginx

TOKEN = "hls-guard-token-0123456789abcdef"
GOOD = {"Authorization": f"Bearer {TOKEN}"}
WRONG = {"none": ("", {}), "wrong bearer": ("", {"Authorization": f"Bearer {TOKEN}x"}),
         "wrong query": (f"&token={TOKEN[:-1]}", {})}


@dataclass
class Front:
    port: int
    base: str  # /api/videos/{id}/hls/audio/


@pytest.fixture(scope="module")
def front(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Front]:
    if "ac3" not in av.codecs_available:
        pytest.skip("this PyAV cannot encode AC-3")
    work = tmp_path_factory.mktemp("nginx-hls")
    library = work / "library"
    (work / "nginx").mkdir()
    encode_clip(library, ClipSpec("film.mkv", audio_codec="ac3", seconds=6, fps=10))
    with start_mediaserve(library, "--auth-token", TOKEN, "--transcode-workers", "1",
                          env={"MEDIASERVE_DATA_DIR": str(work / "data")}) as node, \
            start_front(work / "nginx", [node.base.removeprefix("http://")]) as port:
        status, _, body = get(port, "/api/videos", GOOD)
        assert status == 200, status
        (video,) = json.loads(body)["videos"]
        yield Front(port, f"/api/videos/{video['id']}/hls/audio/")


def refused(front: Front, url: str, data: bytes) -> None:
    for name, (query, headers) in WRONG.items():
        status, _headers, body = get(front.port, url + query, headers)
        assert status == 401, (name, status)
        assert not data or data not in body, name


def test_segments_are_cached_and_guarded(front: Front) -> None:
    status, headers, body = get(front.port, front.base + "index.m3u8", GOOD)
    assert status == 200 and "x-cache-status" not in headers
    playlist = m3u8.loads(body.decode())
    urls = [front.base + playlist.segment_map[0].uri, front.base + playlist.segments[0].uri]
    assert all("?v=" in url for url in urls)
    for url in urls:
        refused(front, url, b"")  # nothing cached yet
        status, headers, first = get(front.port, url, GOOD)
        assert (status, headers["x-cache-status"]) == (200, "MISS"), url
        status, headers, again = get(front.port, url, GOOD)
        assert (status, headers["x-cache-status"], again) == (200, "HIT", first), url
        refused(front, url, first)  # cached now: still not a byte without credentials
        # the cache key is the path and the version, not ?token=: shared by every viewer
        status, headers, body = get(front.port, f"{url}&token={TOKEN}", {})
        assert (status, headers["x-cache-status"], body) == (200, "HIT", first), url
    assert first[4:8] == b"moof"


def test_playlists_are_not_cached(front: Front) -> None:
    for _ in range(2):
        status, headers, _body = get(front.port, front.base + "index.m3u8", GOOD)
        assert status == 200 and headers.get("x-cache-status") is None
    status, _headers, _body = get(front.port, front.base + "index.m3u8", {})
    assert status == 401


def test_a_stale_version_is_not_cached(front: Front) -> None:
    url = front.base + "seg-0.m4s?v=0000000000000000"
    for _ in range(2):
        status, headers, _body = get(front.port, url, GOOD)
        assert (status, headers.get("x-cache-status")) == (404, "MISS")


def test_the_conf_names_both_cached_locations() -> None:
    conf = (Path(__file__).resolve().parents[2] / "docs" / "deploy" /
            "nginx-mediaserve.conf").read_text()
    assert conf.count("auth_request /.mediaserve-auth-check;") == 2
