"""The library page and its player, in real Chromium against a real `mediaserve serve`.

This is the end-to-end check of the mission: a browser seeks in a <video> by sending
`Range: bytes=N-`, and must get 206 answers whose Content-Range starts at N. The clips are
~25 MB of noise video (keyframe every 2 s) because Chromium fetches a file of ~3 MB or less
whole, and a seek test on such a file tests nothing. Three layouts, three request patterns:
a faststart MP4; an MP4 with `moov` at the end (Chromium reads the end first, then comes
back); a VP9 WebM (the first seek fetches the Cues index at the end, then the target).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import urllib.parse
from collections.abc import Iterator

import pytest

from benchmarks.peers import run_mediaserve, stream_url
from mediaserve.adapters.media.clips import ClipSpec, encode_clip

CHROMIUM = "/usr/bin/chromium"
playwright_sync = pytest.importorskip("playwright.sync_api", reason="playwright not installed")
pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM),
                                reason="Debian chromium not installed (scripts/dev installs it)")

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
CLIP = ClipSpec("Noise Test.mp4", seconds=24, fps=25, width=320, height=240, noise=True)
CLIPS = (
    CLIP,
    ClipSpec("Noise moov-at-end.mp4", seconds=24, fps=25, width=320, height=240, noise=True,
             faststart=False),
    ClipSpec("Noise Test.webm", video_codec="libvpx-vp9", audio_codec="libopus", seconds=24,
             fps=25, width=320, height=240, noise=True),
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    library = tmp_path_factory.mktemp("web-library")
    for clip in CLIPS:
        encode_clip(library, clip)
    (library / "gone.mp4").write_bytes(b"")  # indexed, then removed: shows as missing
    subprocess.run([sys.executable, "-m", "mediaserve", "scan", str(library), "--json"],
                   check=True, capture_output=True)
    (library / "gone.mp4").unlink()
    with run_mediaserve(library) as base:
        yield base


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    profile = tmp_path_factory.mktemp("chromium-profile")
    with playwright_sync.sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(profile), executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield context
        context.close()
    shutil.rmtree(profile, ignore_errors=True)


def test_library_page_lists_videos_and_flags_the_missing_one(server: str, browser) -> None:
    page = browser.new_page()
    page.goto(server + "/")
    page.wait_for_selector("#library tbody tr")
    rows = page.locator("#library tbody tr")
    assert rows.count() == len(CLIPS) + 1
    texts = [rows.nth(i).inner_text() for i in range(rows.count())]
    assert any("Noise Test.mp4" in t and "0:24" in t and "ok" in t for t in texts), texts
    assert any("gone.mp4" in t and "missing" in t for t in texts), texts
    page.close()


@pytest.mark.parametrize("clip", CLIPS, ids=["faststart-mp4", "moov-at-end-mp4", "vp9-webm"])
def test_seek_in_chromium_uses_206_ranges_from_the_seek_point(server: str, browser,
                                                              clip: ClipSpec) -> None:
    stream_path = urllib.parse.urlsplit(stream_url(server, clip.name)).path
    vid = stream_path.split("/")[3]
    exchanges: list[tuple[str | None, int, str | None]] = []
    page = browser.new_page()

    def on_response(response) -> None:
        if response.url.endswith(stream_path):
            exchanges.append((response.request.headers.get("range"), response.status,
                              response.headers.get("content-range")))

    page.on("response", on_response)
    page.goto(f"{server}/#{vid}")
    page.wait_for_function("document.getElementById('player').readyState >= 1",
                           timeout=15000)
    duration = page.evaluate("document.getElementById('player').duration")
    assert abs(duration - clip.seconds) < 0.5
    seekable_end = page.evaluate(
        "(() => { const s = document.getElementById('player').seekable;"
        " return s.length ? s.end(s.length - 1) : 0; })()")
    assert seekable_end > clip.seconds - 1, "Chromium thinks the video is not seekable"

    landed = page.evaluate("""() => new Promise((resolve) => {
        const v = document.getElementById('player');
        v.addEventListener('seeked', () => resolve(v.currentTime), {once: true});
        v.currentTime = 20;
    })""")
    assert abs(landed - 20) < 0.6
    page.wait_for_function("document.getElementById('player').readyState >= 2", timeout=15000)
    page.close()

    assert exchanges, "the player made no stream requests"
    for range_header, status, content_range in exchanges:
        assert range_header is not None and range_header.startswith("bytes=")
        assert status == 206, (range_header, status)
        first = int(range_header[len("bytes="):].split("-")[0])
        assert content_range is not None and content_range.startswith(f"bytes {first}-")
    seek_starts = [int(r[len("bytes="):].split("-")[0]) for r, _, _ in exchanges if r]
    assert max(seek_starts) > 0, f"no request started past byte 0: {exchanges}"
