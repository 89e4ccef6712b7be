"""Seeking in real Chromium against a real `mediaserve serve`, from the player page.

This is the end-to-end check of the mission: a browser seeks in a <video> by sending
`Range: bytes=N-`, and must get 206 answers whose Content-Range starts at N (Chromium sends
`If-Range` on same-origin pages; that must still give 206). Three layouts, three request
patterns: a faststart MP4; an MP4 with `moov` at the end (Chromium reads the end first, then
comes back); a VP9 WebM (the first seek fetches the Cues index at the end, then the target).
"""

from __future__ import annotations

from typing import Any

import pytest

from mediaserve.adapters.media.clips import ClipSpec
from tests.web.conftest import BIG_CLIPS, WebLibrary

SEEK = """(target) => new Promise((resolve) => {
    const v = document.getElementById('player');
    v.addEventListener('seeked', () => resolve(v.currentTime), {once: true});
    v.currentTime = target;
})"""


@pytest.mark.parametrize("clip", BIG_CLIPS, ids=["faststart-mp4", "moov-at-end-mp4",
                                                 "vp9-webm"])
def test_seeks_land_and_play_on_206_ranges(web_library: WebLibrary, open_page: Any,
                                           clip: ClipSpec) -> None:
    vid = web_library.id(clip.name)
    stream_path = f"/api/videos/{vid}/stream"
    exchanges: list[tuple[str | None, str | None, int, str | None]] = []
    page = open_page("about:blank")

    def on_response(response: Any) -> None:
        if response.url.endswith(stream_path):
            headers = response.request.headers
            exchanges.append((headers.get("range"), headers.get("if-range"), response.status,
                              response.headers.get("content-range")))

    page.page.on("response", on_response)
    page.page.goto(web_library.url(f"/watch/{vid}"))
    page.page.wait_for_function("() => document.getElementById('player').readyState >= 1",
                                timeout=15000)
    duration = page.page.evaluate("document.getElementById('player').duration")
    assert abs(duration - clip.seconds) < 0.5
    seekable_end = page.page.evaluate(
        "(() => { const s = document.getElementById('player').seekable;"
        " return s.length ? s.end(s.length - 1) : 0; })()")
    assert seekable_end > clip.seconds - 1, "Chromium thinks the video is not seekable"

    page.page.evaluate("document.getElementById('player').muted = true")
    for share in (0.5, 0.9):
        target = clip.seconds * share
        landed = page.page.evaluate(SEEK, target)
        assert abs(landed - target) < 1.0, (share, landed)
        page.page.evaluate("document.getElementById('player').play()")
        page.page.wait_for_function(
            f"() => document.getElementById('player').currentTime > {landed + 0.4}",
            timeout=15000)
        page.page.evaluate("document.getElementById('player').pause()")
    if clip is BIG_CLIPS[0]:
        page.page.screenshot(path=str(web_library.artifacts / "player-seeked.png"))
    page.assert_clean()

    assert len(exchanges) >= 2, "the player made too few stream requests"
    for range_header, _if_range, status, content_range in exchanges:
        assert range_header is not None and range_header.startswith("bytes=")
        assert status == 206, (range_header, status)
        first = int(range_header[len("bytes="):].split("-")[0])
        assert content_range is not None and content_range.startswith(f"bytes {first}-")
    seek_starts = [int(r[len("bytes="):].split("-")[0]) for r, _, _, _ in exchanges if r]
    assert max(seek_starts) > 0, f"no request started past byte 0: {exchanges}"
