"""The player page in real Chromium: resume, shortcuts, subtitles, seek previews, the heat
map and the `d` overlay, prev/next, the messages for missing, broken and undecodable
files, and the 360 px layout."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest

from tests.web.conftest import (
    EPISODES,
    FASTSTART,
    GONE,
    HEVC,
    SOURCE_OF_TRUNCATED,
    SUBBED,
    WebLibrary,
    has_horizontal_scroll,
)

TIME = "() => document.getElementById('player').currentTime"


def stats_endpoint(lib: WebLibrary, vid: str) -> dict[str, Any] | None:
    try:
        with urllib.request.urlopen(lib.url(f"/api/videos/{vid}/streaming-stats")) as reply:
            return dict(json.load(reply))
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return None
        raise


def player(lib: WebLibrary, open_page: Any, name: str, width: int | None = None) -> Any:
    watch = open_page(lib.url(f"/watch/{lib.id(name)}"), width=width)
    watch.page.wait_for_function("() => document.getElementById('player').readyState >= 1",
                                 timeout=20000)
    return watch


def seek(page: Any, target: float) -> float:
    return float(page.evaluate("""(t) => new Promise((resolve) => {
        const v = document.getElementById('player');
        v.addEventListener('seeked', () => resolve(v.currentTime), {once: true});
        v.currentTime = t; })""", target))


def test_resume_is_offered_after_a_reload(web_library: WebLibrary, open_page: Any) -> None:
    watch = player(web_library, open_page, FASTSTART.name)
    page = watch.page
    seek(page, 12)
    page.evaluate("document.getElementById('player').dispatchEvent(new Event('pause'))")
    page.reload()
    page.wait_for_selector("#resume:not([hidden])")
    assert "0:12" in page.inner_text("#resume")
    page.wait_for_function("() => document.getElementById('player').readyState >= 1")
    page.click("#resume-yes")
    page.wait_for_function(f"() => Math.abs(({TIME})() - 12) < 1")
    assert page.is_hidden("#resume")
    watch.assert_clean()


def test_keyboard_shortcuts(web_library: WebLibrary, open_page: Any) -> None:
    watch = player(web_library, open_page, FASTSTART.name)
    page = watch.page
    seek(page, 4)
    page.locator("body").click(position={"x": 5, "y": 5})  # focus the page, not a control
    steps = (("ArrowRight", 9), ("ArrowLeft", 4), ("l", 14), ("j", 4))
    for key, expected in steps:
        page.keyboard.press(key)
        page.wait_for_function(f"() => Math.abs(({TIME})() - {expected}) < 0.3")
    page.keyboard.press("m")
    assert page.evaluate("document.getElementById('player').muted") is True
    page.keyboard.press(">")
    assert page.evaluate("document.getElementById('player').playbackRate") == 1.25
    page.keyboard.press("<")
    page.keyboard.press("<")
    assert page.evaluate("document.getElementById('player').playbackRate") == 0.75
    page.keyboard.press(" ")
    page.wait_for_function("() => !document.getElementById('player').paused")
    page.keyboard.press(" ")
    page.wait_for_function("() => document.getElementById('player').paused")
    # the buffering indicator follows the media events (after 150 ms, so a quick seek
    # does not flash it). 'waiting' is sent again each second: a late 'pause' or 'seeked'
    # from the keys above may hide the indicator, as it should
    page.wait_for_function("""() => {
        const v = document.getElementById('player'), now = Date.now();
        if (!(now - (window.sentWaiting || 0) < 1000)) {
            window.sentWaiting = now;
            v.dispatchEvent(new Event('waiting'));
        }
        return !document.getElementById('buffering').hidden; }""")
    page.evaluate("document.getElementById('player').dispatchEvent(new Event('playing'))")
    page.wait_for_selector("#buffering", state="hidden")
    watch.assert_clean()


def test_subtitle_tracks_load(web_library: WebLibrary, open_page: Any) -> None:
    watch = player(web_library, open_page, SUBBED.name)
    page = watch.page
    labels = page.evaluate("""() => [...document.querySelectorAll('#player track')]
        .map((t) => [t.label, t.srclang])""")
    assert labels == [["English", "en"], ["Français", "fr"]]
    page.evaluate("""() => { for (const t of document.getElementById('player').textTracks)
        t.mode = 'hidden'; }""")
    page.wait_for_function("""() => [...document.getElementById('player').textTracks]
        .every((t) => t.cues && t.cues.length > 0)""", timeout=15000)
    first = page.evaluate("document.getElementById('player').textTracks[0].cues[0].text")
    assert first == "Hello from <i>SubRip</i>"
    watch.assert_clean()


def test_hovering_the_seek_bar_shows_a_preview_frame(web_library: WebLibrary,
                                                     open_page: Any) -> None:
    watch = player(web_library, open_page, FASTSTART.name)
    page = watch.page
    page.wait_for_selector("#seekbar[data-previews=ready]", state="attached", timeout=60000)
    bar = page.locator("#seek-slider")
    box = bar.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] * 0.75, box["y"] + box["height"] / 2)
    page.wait_for_selector("#preview:not([hidden])")
    frame = page.evaluate("""() => { const f = document.getElementById('preview-frame');
        return [f.hidden, f.dataset.tile, getComputedStyle(f).backgroundImage,
                f.getBoundingClientRect().width]; }""")
    hidden, tile, image, width = frame
    assert not hidden and "thumbnails.jpg" in image and width == 160
    assert tile == "320,120"  # 16 s, 1 s per tile, 10 per row: 12 s is row 1, column 2
    assert page.inner_text("#preview-time") == "0:12"
    page.screenshot(path=str(web_library.artifacts / "player-preview.png"))
    watch.assert_clean()


def test_seek_heat_map_and_dev_overlay(web_library: WebLibrary, open_page: Any) -> None:
    vid = web_library.id(EPISODES[0].name)
    watch = player(web_library, open_page, EPISODES[0].name)
    page = watch.page
    page.keyboard.press("d")
    page.wait_for_selector("#devstats:not([hidden])")
    page.wait_for_function("() => document.getElementById('devstats-list').children.length > 0")
    assert "Buffered" in page.inner_text("#devstats")
    for share in (0.5, 0.9, 0.5):
        seek(page, EPISODES[0].seconds * share)
    # the player sends its batch within 3 s, then redraws the heat map from the server
    # (50 bins of the duration; the probed duration is a little over 6 s, hence "near")
    page.wait_for_function("""() => { const b = JSON.parse(
        document.getElementById('heatmap').dataset.bins || '[]');
        const near = (i) => b.slice(i - 2, i + 2).reduce((s, n) => s + n, 0);
        return near(25) >= 2 && near(45) >= 1; }""", timeout=15000)
    stats = stats_endpoint(web_library, vid)
    assert stats is not None and stats["player_seeks"] >= 3 and stats["requests"] >= 1
    page.wait_for_function("""() => /Requests\\s*[1-9]/.test(
        document.getElementById('devstats').innerText)""")
    page.screenshot(path=str(web_library.artifacts / "player-devstats.png"))
    page.keyboard.press("d")
    assert page.is_hidden("#devstats")
    watch.assert_clean()


def test_previous_and_next_of_an_episode(web_library: WebLibrary, open_page: Any) -> None:
    watch = player(web_library, open_page, EPISODES[1].name)
    page = watch.page
    page.wait_for_selector("#next:not([hidden])")
    assert page.get_attribute("#prev", "href") == f"/watch/{web_library.id(EPISODES[0].name)}"
    assert page.get_attribute("#next", "href") == f"/watch/{web_library.id(EPISODES[2].name)}"
    assert page.inner_text("#position") == "Season 1, 2 of 3 · Show"  # the shows model's
    assert page.get_attribute("#position a", "href").endswith("#season-1")
    assert page.get_attribute("#download", "href").endswith("/stream")
    watch.assert_clean()


def test_a_clear_message_instead_of_a_dead_player(web_library: WebLibrary,
                                                  open_page: Any) -> None:
    watch = open_page(web_library.url(f"/watch/{web_library.id(SOURCE_OF_TRUNCATED.name)}"))
    page = watch.page
    page.wait_for_selector("#message:not([hidden])")
    assert "ends before" in page.inner_text("#message")
    assert page.get_attribute("body", "data-blocked") == "error"
    assert page.evaluate("document.getElementById('player').currentSrc") == ""
    page.screenshot(path=str(web_library.artifacts / "player-error.png"))
    watch.assert_clean()


def test_a_missing_file_is_a_page_back_to_the_library(web_library: WebLibrary,
                                                      open_page: Any) -> None:
    """A video the index has and the disk lacks: what happened and the way back, as for a
    link to nothing, and neither a player nor a Download button that cannot work."""
    vid = web_library.id(GONE)
    with urllib.request.urlopen(web_library.url(f"/api/videos/{vid}")) as reply:
        doc = json.load(reply)
    assert doc["status"] == "missing"
    watch = open_page("about:blank")
    page = watch.page
    streams: list[str] = []
    page.on("request", lambda r: streams.append(r.url) if "/stream" in r.url else None)
    page.goto(web_library.url(f"/watch/{vid}"))
    page.wait_for_selector("#message:not([hidden])")
    text = page.inner_text("#message")
    assert "missing from disk" in text and GONE in text
    assert page.get_attribute("body", "data-dead") == "missing"
    assert page.inner_text("#title") == doc["title"] and page.title().startswith(doc["title"])
    assert page.is_hidden("#download") and page.is_hidden("#player")
    assert page.evaluate("document.getElementById('player').currentSrc") == ""
    assert page.get_attribute("#message a", "href") == "/"
    assert page.inner_text("#message a") == "Back to the library"
    page.screenshot(path=str(web_library.artifacts / "player-missing.png"))
    page.click("#message a")
    page.wait_for_url(web_library.url("/"))
    assert streams == []
    watch.assert_clean()


def test_unknown_video_and_phone_width(web_library: WebLibrary, open_page: Any) -> None:
    watch = open_page(web_library.url("/watch/0123456789ab"))
    watch.page.wait_for_selector("#message:not([hidden])")
    assert "not in the library" in watch.page.inner_text("#message")
    watch.assert_clean(allow=("404",))  # the page itself answers 404
    phone = player(web_library, open_page, SUBBED.name, width=360)
    phone.page.wait_for_selector("#next:not([hidden]), #prev:not([hidden])")
    assert not has_horizontal_scroll(phone.page)
    phone.page.screenshot(path=str(web_library.artifacts / "player-360.png"), full_page=True)
    phone.assert_clean()


def test_a_browser_that_claims_hevc_but_shows_no_picture_gets_a_converted_copy(
        web_library: WebLibrary, open_page: Any) -> None:
    """A browser whose canPlayType says "probably" to HEVC it cannot show (Chromium plays
    the sound over an empty picture, videoWidth 0, no error): the server plans direct play
    from what the page said, and the player, seeing no picture, switches to the converted
    renditions instead of a black box or a message asking to transcode by hand."""
    if HEVC.name not in web_library.names:
        pytest.skip("this PyAV cannot encode HEVC")
    watch = open_page("about:blank")
    page = watch.page
    page.add_init_script("""{
        const real = HTMLMediaElement.prototype.canPlayType;
        HTMLMediaElement.prototype.canPlayType = function (type) {
            return /hvc1|hev1/.test(type) ? "probably" : real.call(this, type); }; }""")
    page.goto(web_library.url(f"/watch/{web_library.id(HEVC.name)}"))
    page.wait_for_function("() => document.getElementById('player').dataset.fallback === "
                           "'picture'", timeout=20000)
    page.wait_for_function("""() => { const v = document.getElementById('player');
        return v.dataset.engine === 'hls.js' && v.videoWidth > 0; }""", timeout=30000)
    assert page.evaluate("document.getElementById('player').dataset.mode") == "direct"
    assert page.is_hidden("#message")
    watch.assert_clean()
