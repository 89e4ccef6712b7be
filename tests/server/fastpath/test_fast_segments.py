"""Cached HLS segments on the fast path against aiohttp's route: the same bytes.

Two servers on one library and one segment cache (the same data folder), one with the fast
path and one without. The segment and init segment are made once (through aiohttp: the
fast path never waits for a producer), then every request below goes to both and the
answers must be equal byte for byte apart from the Date line; the fast server must have
answered the plain ones itself. A changed source file makes the old versioned URLs a 404 on
both ways in; everything the fast path does not serve completely (no version, a wrong one,
a variant the video cannot have, a file not made yet, a refusal) is aiohttp's.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mediaserve.adapters.media.clips import ClipSpec, encode_clip
from mediaserve.adapters.playback.routes import PLAYBACK
from tests.server.conftest import Lib, Served
from tests.server.fastpath.test_fast_path import ORIGIN, TOKEN, _both, _pair, _raw

NAME = "clip.mkv"


@pytest.fixture
def serve_mode() -> str:
    return "fast"


@pytest.fixture(scope="session")
def clip_bytes(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """H.264/AAC in Matroska: Chromium takes the codecs, not the container (remux)."""
    folder = tmp_path_factory.mktemp("segment-clip")
    return encode_clip(folder, ClipSpec(NAME, seconds=6.0, fps=10)).read_bytes()


@pytest.fixture
def lib(tmp_path: Path, data_dir: Path, clip_bytes: bytes,
        library_maker: Callable[[Path, dict], Lib]) -> Lib:
    return library_maker(tmp_path / "lib", {NAME: clip_bytes})


async def _made(server: Served, lib: Lib, variant: str = "remux",
                query: str = "") -> tuple[str, str]:
    """The init segment's and segment 0's URLs from the media playlist, both made (the
    requests go through aiohttp's route, which waits for the producer)."""
    base = f"/api/videos/{lib.ids[NAME]}/hls/{variant}/"
    playlist = await server.fetch("GET", base + "index.m3u8" + query)
    assert playlist.status == 200, playlist.body
    text = playlist.body.decode()
    init = re.search(r'URI="([^"]+)"', text)
    assert init is not None
    segment = next(line for line in text.splitlines() if line.startswith("seg-"))
    urls = base + init[1], base + segment
    for url in urls:
        answer = await server.fetch("GET", url + query.replace("?", "&"))
        assert answer.status == 200, answer.body
    return urls


async def test_cached_segments_are_answered_as_aiohttps_route_answers(
        serve: Any, lib: Lib) -> None:
    fast, slow = await _pair(serve, lib)
    init, segment = await _made(slow, lib)
    head = await fast.fetch("HEAD", segment)
    etag, modified = head.headers["ETag"], head.headers["Last-Modified"]
    size = int(head.headers["Content-Length"])
    served_before = fast.fast_served
    plain: list[tuple[str, str, dict[str, str]]] = [
        ("GET", segment, {}),
        ("HEAD", segment, {}),
        ("GET", init, {}),
        ("HEAD", init, {"Range": "bytes=0-7"}),
        ("GET", segment, {"Range": "bytes=0-1"}),
        ("GET", segment, {"Range": "bytes=0-"}),
        ("GET", segment, {"Range": "bytes=-500"}),
        ("GET", segment, {"Range": f"bytes={size}-"}),  # 416
        ("GET", segment, {"Range": "bytes=0-1,5-6"}),  # multipart (boundary normalised)
        ("GET", segment, {"If-None-Match": etag}),  # 304
        ("GET", segment, {"If-Modified-Since": modified}),
        ("GET", segment, {"If-Match": '"other"'}),  # 412
        ("GET", segment, {"If-Range": etag, "Range": "bytes=5-9"}),
        ("GET", segment, {"If-Range": '"stale"', "Range": "bytes=5-9"}),  # whole file
        ("GET", segment, {"Range": "bytes=0-1", "Origin": ORIGIN}),
        ("GET", segment, {"Range": "bytes=0-1", "Connection": "close"}),
        ("GET", segment + "&x=1", {}),
    ]
    for method, target, headers in plain:
        await _both(fast, slow, method, target, headers)
    assert fast.fast_served - served_before == len(plain)
    assert fast.app[PLAYBACK].cache.hits >= len(plain)  # counted as cache hits there too
    base = segment.split("seg-", 1)[0]
    video = lib.ids[NAME]
    declined: list[tuple[str, str, dict[str, str]]] = [
        ("GET", segment.split("?", 1)[0], {}),  # no version: the route serves the current
        ("GET", segment.split("?", 1)[0] + "?v=0123456789abcdef", {}),  # 404
        ("GET", segment.split("?", 1)[0] + "?v=", {}),  # 404
        ("GET", base + "seg-00.m4s" + segment[len(base) + 9:], {}),  # the route's seg 0
        ("GET", base + "seg-999.m4s" + segment[len(base) + 9:], {}),  # 404: out of range
        ("GET", segment.replace("/remux/", "/999p/"), {}),  # 404: no such variant
        ("GET", segment.replace(video, "0123456789ab"), {}),  # 404: unknown id
        ("POST", segment, {"Content-Length": "0"}),  # 405
    ]
    served = fast.fast_served
    for method, target, headers in declined:
        await _both(fast, slow, method, target, headers)
    raw = (b"GET " + segment.encode() + b" HTTP/1.1\r\nHost: evil.example\r\n\r\n")  # 421
    answers = [await _raw(server, raw) for server in (fast, slow)]
    assert answers[0] == answers[1] and b" 421 " in answers[0].split(b"\r\n", 1)[0]
    assert fast.fast_served == served  # all of them went to aiohttp


async def test_a_changed_source_refuses_old_segment_urls_on_both_ways_in(
        serve: Any, lib: Lib) -> None:
    fast, slow = await _pair(serve, lib)
    _init, segment = await _made(slow, lib)
    before = fast.fast_served
    assert (await _both(fast, slow, "GET", segment)).status == 200
    assert fast.fast_served == before + 1
    # the same bytes written again: a new inode (the version names the file, not only
    # its content), then the same inode with a new mtime
    source = lib.path(NAME)
    for change in ("replace", "touch"):
        if change == "replace":
            shutil.copy2(source, source.with_suffix(".tmp"))
            os.replace(source.with_suffix(".tmp"), source)
        else:
            os.utime(source, ns=(source.stat().st_atime_ns, source.stat().st_mtime_ns + 10**9))
        served = fast.fast_served
        answer = await _both(fast, slow, "GET", segment)
        assert answer.status == 404 and b"changed" in answer.body, change
        assert fast.fast_served == served
        _init, segment = await _made(slow, lib)  # the new version's URL: fast again
        assert (await _both(fast, slow, "GET", segment)).status == 200
        assert fast.fast_served == served + 1


async def test_a_segment_not_made_yet_is_left_to_the_route(serve: Any, lib: Lib) -> None:
    """The fast path never waits for a producer: a file missing from the cache (not made,
    or evicted) goes to aiohttp's route, which makes it and answers."""
    fast, slow = await _pair(serve, lib)
    _init, segment = await _made(slow, lib)
    version = segment.split("?v=", 1)[1]
    cache = fast.app[PLAYBACK].cache
    made = cache.root / lib.ids[NAME] / version / "remux" / "seg-0.m4s"
    assert made.is_file()
    made.unlink()
    served = fast.fast_served
    answer = await fast.fetch("GET", segment)
    assert answer.status == 200 and answer.body[4:8] == b"moof"
    assert fast.fast_served == served
    assert (await _both(fast, slow, "GET", segment)).status == 200
    assert fast.fast_served == served + 1


async def test_credentials_are_checked_as_for_streams(serve: Any, lib: Lib) -> None:
    fast, slow = await _pair(serve, lib, auth_token=TOKEN)
    _init, segment = await _made(slow, lib, query=f"?token={TOKEN}")
    before = fast.fast_served
    ok = [(segment, {"Authorization": f"Bearer {TOKEN}", "Range": "bytes=0-1"}),
          (segment + f"&token={TOKEN}", {}),
          (segment, {}),  # 401
          (segment, {"Authorization": "Bearer wrong"})]  # 401
    answers = [await _both(fast, slow, "GET", target, headers) for target, headers in ok]
    assert [a.status for a in answers] == [206, 200, 401, 401]
    assert fast.fast_served - before == 2


async def test_with_conversion_off_cached_segments_are_refused_on_both(
        serve: Any, lib: Lib) -> None:
    fast, slow = await _pair(serve, lib)
    _init, segment = await _made(slow, lib)
    off_fast, off_slow = await _pair(serve, lib, transcode=False)
    served = off_fast.fast_served
    assert (await _both(off_fast, off_slow, "GET", segment)).status == 404
    assert off_fast.fast_served == served
    assert fast.fast_served == 0
