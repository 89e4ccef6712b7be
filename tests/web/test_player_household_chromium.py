"""The player page as a household uses it, in real Chromium: two browser contexts as two
devices of one profile (a position saved by one, in a report or in the beacon sent when the
page is left, is offered as "Resume from" by the other), the watched mark (at the end, and
by hand), the next episode across a season after the countdown (and cancelled, and switched
off as the profile's preference), the subtitles button and the quality menu as the
profile's preferences, a phone's 360 px, and the pages for an unknown or malformed link.

The library is a few tiny real clips generated here; one server and one Chromium serve the
module. The countdown's ten seconds run on Playwright's fake clock, not the wall's.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
import pytest

from benchmarks.peers import run_mediaserve
from mediaserve.adapters.library.scanner import scan
from mediaserve.adapters.library.store import save_index
from mediaserve.adapters.media.clips import ClipSpec, encode_clip
from tests.web.conftest import CHROMIUM, CHROMIUM_ARGS, PageWatch, playwright_sync
from tests.web.conftest import page_api as api

pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM),
                                reason="Debian chromium not installed (scripts/dev installs it)")

E1, E2 = "TV/Show/Season 1/Show S01E01 - Pilot.mp4", "TV/Show/Season 1/Show S01E02 - Second.mp4"
E3 = "TV/Show/Season 2/Show S02E01 - Return.mp4"  # 12 s, the others 2 s
FILM = "Films/Film (2017).mp4"  # 12 s, subtitles in English and French
EARLIER = "Films/Another (2017).mp4"  # before FILM in their folder, which is no show
TALL = "Films/Tall (2020).mkv"  # HEVC 640x480: converted, renditions 480p and 360p
CUT = "Broken/cut short.mp4"
PLAYER = "document.getElementById('player')"
WAIT_MS = 20000
NUMBERS = itertools.count(1)
SRT = "1\n00:00:00,200 --> 00:00:11,000\nHello\n"
VTT = "WEBVTT\n\n00:00.200 --> 00:11.000\nBonjour\n"


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, str]]]:
    root = tmp_path_factory.mktemp("player-household") / "lib"
    tiny = dict(seconds=2, fps=10, width=160, height=90)
    for name in (E1, E2, EARLIER):
        encode_clip(root, ClipSpec(name, **tiny))
    encode_clip(root, ClipSpec(E3, seconds=12, fps=10, width=160, height=90))  # resumable
    encode_clip(root, ClipSpec(FILM, seconds=12, fps=10, width=160, height=90))
    encode_clip(root, ClipSpec(CUT, seconds=4, fps=10, width=160, height=90))
    cut = root / CUT
    cut.write_bytes(cut.read_bytes()[: cut.stat().st_size // 2])
    if "libx265" in av.codecs_available:
        encode_clip(root, ClipSpec(TALL, video_codec="libx265", seconds=2, fps=10, width=640,
                                   height=480))
    (root / "Films/Film (2017).en.srt").write_text(SRT, encoding="utf-8")
    (root / "Films/Film (2017).fr.vtt").write_text(VTT, encoding="utf-8")
    index, _summary = scan(root, None, workers=1)
    save_index(root / ".mediaserve-index.toml", index)
    yield root, {entry.path: entry.id for entry in index.videos.values()}
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def server(library: tuple[Path, dict[str, str]],
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    env = {"MEDIASERVE_DATA_DIR": str(tmp_path_factory.mktemp("player-household-data"))}
    with run_mediaserve(library[0], "--transcode-workers", "1", env=env) as base:
        yield base


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    with playwright_sync.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def device(chromium: Any, server: str) -> Iterator[Any]:
    """``device(pid=None, width=1100)`` -> a PageWatch in a new browser context (its own
    cookies, as another phone or laptop has), on the server, with profile ``pid`` chosen."""
    contexts: list[Any] = []

    def make(pid: str | None = None, width: int = 1100) -> PageWatch:
        context = chromium.new_context(viewport={"width": width, "height": 800})
        contexts.append(context)
        watch = PageWatch(context.new_page())
        watch.page.goto(server + "/favicon.ico")  # an origin to call the API from
        if pid is not None:
            assert api(watch.page, "POST", f"/api/profiles/{pid}/select")[0] == 200
        return watch

    yield make
    for context in contexts:
        context.close()



def new_profile(watch: PageWatch, **prefs: Any) -> str:
    """A new profile (with ``prefs``), chosen in ``watch``'s context."""
    page = watch.page
    status, created = api(page, "POST", "/api/profiles", {"name": f"Viewer {next(NUMBERS)}"})
    assert status == 201, created
    pid = created["profile"]["id"]
    assert api(page, "POST", f"/api/profiles/{pid}/select")[0] == 200
    if prefs:
        assert api(page, "PUT", "/api/me/preferences", prefs)[0] == 200
    return pid


def watch_video(watch: PageWatch, server: str, vid: str) -> Any:
    page = watch.page
    page.goto(f"{server}/watch/{vid}")
    page.wait_for_function(f"() => {PLAYER}.readyState >= 1", timeout=WAIT_MS)
    return page


def play_from(page: Any, at: float, until: float | None = None) -> None:
    """Seek to ``at`` and play (muted) until ``until`` seconds, or the end."""
    page.evaluate(f"""(t) => {{ const v = {PLAYER}; v.muted = true; v.currentTime = t;
        v.play().catch(() => {{}}); }}""", at)
    if until is None:
        page.wait_for_function(f"() => {PLAYER}.ended", timeout=WAIT_MS)
    else:
        page.wait_for_function(f"() => {PLAYER}.currentTime >= {until}", timeout=WAIT_MS)


def progress(page: Any, vid: str) -> dict[str, Any] | None:
    status, body = api(page, "GET", f"/api/me/progress?ids={vid}")
    assert status == 200, body
    return body["progress"].get(vid)


def prefs(page: Any) -> dict[str, Any]:
    status, body = api(page, "GET", "/api/me")
    assert status == 200, body
    return dict(body["preferences"])


def wait_until(page: Any, check: Any, what: str) -> None:
    """Poll ``check()`` from the test (the server's state), 100 ms apart, up to WAIT_MS."""
    for _ in range(WAIT_MS // 100):
        if check():
            return
        page.wait_for_timeout(100)
    raise AssertionError(f"never: {what}")


def test_resume_crosses_devices_and_the_watched_mark(
        server: str, library: tuple[Path, dict[str, str]], device: Any) -> None:
    vid = library[1][FILM]
    laptop = device()
    pid = new_profile(laptop)
    phone = device(pid)
    page = watch_video(laptop, server, vid)
    assert page.is_hidden("#resume")  # nothing to resume yet
    play_from(page, 6, until=6.3)
    page.evaluate(f"{PLAYER}.pause()")  # a pause reports the position
    wait_until(page, lambda: (progress(page, vid) or {}).get("position", 0) >= 6,
               "the pause's report")
    other = watch_video(phone, server, vid)
    other.wait_for_selector("#resume:not([hidden])", timeout=WAIT_MS)
    assert other.inner_text("#resume-yes") == "Resume from 0:06"
    # the laptop moves on and leaves the page: only the beacon can carry 0:09
    page.evaluate(f"""() => new Promise((done) => {{ const v = {PLAYER};
        v.addEventListener('seeked', done, {{once: true}}); v.currentTime = 9.2; }})""")
    page.goto(server + "/favicon.ico")
    wait_until(other, lambda: (progress(other, vid) or {}).get("position", 0) >= 9,
               "the beacon's report")
    other.reload()
    other.wait_for_selector("#resume:not([hidden])", timeout=WAIT_MS)
    assert other.inner_text("#resume-yes") == "Resume from 0:09"
    other.wait_for_function(f"() => {PLAYER}.readyState >= 1")
    other.click("#resume-yes")
    other.wait_for_function(f"() => Math.abs({PLAYER}.currentTime - 9.2) < 1", timeout=WAIT_MS)
    # played to the end: watched, and nothing to resume on the laptop
    play_from(other, 11.4)
    wait_until(other, lambda: (progress(other, vid) or {}).get("watched"), "watched at the end")
    assert other.get_attribute("#watched", "data-watched") == "true"
    page = watch_video(laptop, server, vid)
    page.wait_for_selector("#watched[data-watched=true]", timeout=WAIT_MS)
    assert page.is_hidden("#resume")
    # and by hand, from the player
    page.click("#watched")
    page.wait_for_selector("#watched[data-watched=false]", timeout=WAIT_MS)
    assert progress(page, vid)["watched"] is False
    assert page.inner_text("#watched") == "Mark as watched"
    laptop.assert_clean()
    phone.assert_clean()


def test_the_next_episode_crosses_a_season_after_the_countdown(
        server: str, library: tuple[Path, dict[str, str]], device: Any) -> None:
    ids = library[1]
    viewer = device()
    new_profile(viewer)
    page = viewer.page
    page.clock.install()
    page = watch_video(viewer, server, ids[E2])
    page.wait_for_selector("#next:not([hidden])", timeout=WAIT_MS)
    assert page.get_attribute("#next", "href") == f"/watch/{ids[E3]}"
    assert page.get_attribute("#prev", "href") == f"/watch/{ids[E1]}"
    assert page.inner_text("#position") == "Season 1, 2 of 2 · Show"
    assert page.is_checked("#autoplay")
    # cancelled: the countdown goes, and the page stays
    play_from(page, 1.2)
    page.wait_for_selector("#upnext:not([hidden])")
    assert "Show S02E01 - Return" in page.inner_text("#upnext") or "Return" in page.inner_text(
        "#upnext-title")
    page.click("#upnext-cancel")
    page.clock.run_for(15000)
    assert page.is_hidden("#upnext") and page.url.endswith(ids[E2])
    # not cancelled: season 2's first episode after ten seconds
    play_from(page, 1.2)
    page.wait_for_selector("#upnext:not([hidden])")
    assert page.inner_text("#upnext-count") == "10"
    page.clock.run_for(5000)
    assert page.inner_text("#upnext-count") == "5" and page.url.endswith(ids[E2])
    page.clock.run_for(5500)
    page.wait_for_url(f"**/watch/{ids[E3]}", timeout=WAIT_MS)
    page.wait_for_function(f"() => {PLAYER}.currentTime > 0.2", timeout=WAIT_MS)  # playing
    page.wait_for_selector("#prev:not([hidden])")
    assert page.get_attribute("#prev", "href") == f"/watch/{ids[E2]}"
    # switched off from the player: the profile's preference, so no countdown anywhere
    page.goto(f"{server}/watch/{ids[E2]}")
    page.wait_for_selector("label.autoplay:not([hidden])", timeout=WAIT_MS)
    page.uncheck("#autoplay")
    wait_until(page, lambda: prefs(page)["autoplay_next"] is False, "autoplay_next saved")
    other = device(api(page, "GET", "/api/me")[1]["profile"]["id"])
    second = watch_video(other, server, ids[E2])
    second.wait_for_selector("label.autoplay:not([hidden])", timeout=WAIT_MS)
    assert not second.is_checked("#autoplay")
    play_from(second, 1.2)
    second.wait_for_timeout(300)
    assert second.is_hidden("#upnext")
    viewer.assert_clean()
    other.assert_clean()


def test_the_countdown_resumes_a_next_episode_already_started(
        server: str, library: tuple[Path, dict[str, str]], device: Any) -> None:
    """The next episode, once half-watched, plays on from where this profile stopped, as
    its "Resume from" would, not from the start."""
    ids = library[1]
    viewer = device()
    new_profile(viewer)
    page = viewer.page
    status, _row = api(page, "POST", f"/api/me/progress/{ids[E3]}",
                       {"position": 6.5, "duration": 12})
    assert status == 200 and progress(page, ids[E3])["in_progress"]
    page.clock.install()
    page = watch_video(viewer, server, ids[E2])
    page.wait_for_selector("label.autoplay:not([hidden])", timeout=WAIT_MS)
    play_from(page, 1.2)
    page.wait_for_selector("#upnext:not([hidden])")
    page.clock.run_for(10500)
    page.wait_for_url(f"**/watch/{ids[E3]}", timeout=WAIT_MS)
    page.wait_for_function(f"() => !{PLAYER}.paused && {PLAYER}.currentTime > 0.2",
                           timeout=WAIT_MS)
    assert 6 <= page.evaluate(f"{PLAYER}.currentTime") < 11
    assert page.is_hidden("#resume")  # nothing to ask: it plays on
    page.wait_for_selector("#watched:not([hidden])")
    viewer.assert_clean()


def test_a_folder_of_films_has_links_but_no_countdown(
        server: str, library: tuple[Path, dict[str, str]], device: Any) -> None:
    """The next file of a plain folder is another film, not the story's continuation: a
    link to it, and nothing starts by itself, whatever the profile's autoplay_next."""
    ids = library[1]
    viewer = device()
    new_profile(viewer, autoplay_next=True)
    page = viewer.page
    page.clock.install()
    page = watch_video(viewer, server, ids[EARLIER])
    page.wait_for_selector("#next:not([hidden])", timeout=WAIT_MS)
    assert page.get_attribute("#next", "href") == f"/watch/{ids[FILM]}"
    assert page.is_hidden("label.autoplay")
    play_from(page, 1.2)
    page.wait_for_timeout(300)  # the ended event's handlers have run
    assert page.is_hidden("#upnext")
    page.clock.run_for(15000)
    page.wait_for_timeout(300)  # a navigation would have begun
    assert page.url.endswith(ids[EARLIER]) and page.is_hidden("#upnext")
    page = watch_video(viewer, server, ids[FILM])  # its previous link is still there
    page.wait_for_selector("#prev:not([hidden])", timeout=WAIT_MS)
    assert page.get_attribute("#prev", "href") == f"/watch/{ids[EARLIER]}"
    viewer.assert_clean()


def track_modes(page: Any) -> list[list[str]]:
    return list(page.evaluate(f"() => [...{PLAYER}.textTracks].map((t) => [t.language, t.mode])"))


def test_the_subtitles_button_follows_and_sets_the_preference(
        server: str, library: tuple[Path, dict[str, str]], device: Any) -> None:
    vid = library[1][FILM]
    laptop = device()
    pid = new_profile(laptop, subtitles=True, subtitle_language="fr")
    page = watch_video(laptop, server, vid)
    page.wait_for_selector("#subs:not([hidden])")
    assert page.get_attribute("#subs", "aria-pressed") == "true"
    assert page.inner_text("#subs") == "Subtitles: Français"
    assert track_modes(page) == [["en", "disabled"], ["fr", "showing"]]
    page.click("#subs")  # off, for this profile everywhere
    wait_until(page, lambda: prefs(page)["subtitles"] is False, "subtitles off saved")
    assert track_modes(page) == [["en", "disabled"], ["fr", "disabled"]]
    assert page.inner_text("#subs") == "Subtitles: off"
    page.select_option("#subs-lang", label="English")  # a language turns them on
    wait_until(page, lambda: prefs(page)["subtitle_language"] == "en", "English saved")
    assert prefs(page)["subtitles"] is True
    phone = device(pid)
    other = watch_video(phone, server, vid)
    other.wait_for_selector("#subs[aria-pressed=true]")
    assert track_modes(other) == [["en", "showing"], ["fr", "disabled"]]
    # the browser's own menu changes the preference too
    other.evaluate(f"() => {{ for (const t of {PLAYER}.textTracks) t.mode = 'disabled'; }}")
    other.wait_for_selector("#subs[aria-pressed=false]")
    wait_until(other, lambda: prefs(other)["subtitles"] is False, "the menu's choice saved")
    laptop.assert_clean()
    phone.assert_clean()


def test_the_quality_preference_picks_the_rendition(
        server: str, library: tuple[Path, dict[str, str]], device: Any) -> None:
    if TALL not in library[1]:
        pytest.skip("this PyAV cannot encode HEVC")
    vid = library[1][TALL]
    viewer = device()
    new_profile(viewer, quality="360p")
    page = watch_video(viewer, server, vid)
    page.wait_for_function(f"() => {PLAYER}.dataset.quality === '360p'", timeout=WAIT_MS)
    assert page.input_value("#quality") == "360p"
    page.select_option("#quality", "480p")  # the menu's choice becomes the preference
    wait_until(page, lambda: prefs(page)["quality"] == "480p", "480p saved")
    # a preferred height the video lacks: the tallest rendition not above it
    assert api(page, "PUT", "/api/me/preferences", {"quality": "1080p"})[0] == 200
    page = watch_video(viewer, server, vid)
    page.wait_for_function(f"() => {PLAYER}.dataset.quality === '480p'", timeout=WAIT_MS)
    assert prefs(page)["quality"] == "1080p"  # opening a video does not rewrite it
    viewer.assert_clean()


INSIDE = """(sel) => [...document.querySelectorAll(sel)].filter((e) => e.offsetParent !== null)
    .map((e) => { const r = e.getBoundingClientRect(), s = getComputedStyle(e);
        const clipped = e.scrollHeight > e.clientHeight + 1 && s.overflowY !== 'visible';
        return [e.id || e.textContent.trim().slice(0, 30), r.left >= 0 && r.right <=
            document.documentElement.clientWidth + 0.5 && r.width > 0, !clipped]; })"""


def boxes(page: Any, selector: str) -> list[list[Any]]:
    return list(page.evaluate(INSIDE, selector))


def test_a_phone_sees_whole_messages_and_buttons(
        server: str, library: tuple[Path, dict[str, str]], device: Any) -> None:
    phone = device(width=360)
    new_profile(phone)
    page = phone.page
    page.goto(f"{server}/watch/{library[1][CUT]}")
    page.wait_for_selector("#message:not([hidden])", timeout=WAIT_MS)
    assert page.get_attribute("body", "data-blocked") == "error"
    found = boxes(page, "#message, #message p, #message button, #message a, #download")
    assert len(found) == 5 and all(inside and whole for _, inside, whole in found), found
    page.screenshot(path=str(artifacts() / "player-360-blocked.png"), full_page=True)
    page = watch_video(phone, server, library[1][FILM])
    page.wait_for_selector("#subs:not([hidden])")
    page.wait_for_selector("#watched:not([hidden])")
    found = boxes(page, "#download, #subs, #subs-lang, #watched, .quality, #next, #prev, "
                        "#position, #title, #player")
    assert found and all(inside and whole for _, inside, whole in found), found
    assert not page.evaluate("document.documentElement.scrollWidth > "
                             "document.documentElement.clientWidth")
    page.screenshot(path=str(artifacts() / "player-360-profile.png"), full_page=True)
    phone.assert_clean()


def artifacts() -> Path:
    folder = Path(os.environ.get("MEDIASERVE_WEB_ARTIFACTS")
                  or Path(__file__).resolve().parents[2] / "bench-out" / "web-screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


LINKS = (("/watch/0123456789ab", "Not in the library"),  # an id the library lacks
         ("/watch/not-a-video", "Not a video's link"), ("/watch/0123456789ab/extra", "Not a "
         "video's link"), ("/watch/", "Not a video's link"), ("/watch", "Not a video's link"))


def test_a_link_to_nothing_is_a_page_back_to_the_library(server: str, device: Any) -> None:
    viewer = device(width=360)
    page = viewer.page
    for path, title in LINKS:
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(server + path)
        assert refused.value.code == 404, path
        assert refused.value.headers["Content-Type"].startswith("text/html"), path
        page.goto(server + path)
        page.wait_for_selector("#message:not([hidden])", timeout=WAIT_MS)
        assert page.inner_text("#title") == title and page.title().startswith(title), path
        assert page.get_attribute("#message a", "href") == "/"
        assert page.inner_text("#message a") == "Back to the library"
        assert page.is_hidden("#download") and page.is_hidden("#player"), path
        found = boxes(page, "#message, #message p, #message a")
        assert len(found) == 3 and all(inside and whole for _, inside, whole in found), found
    page.click("#message a")
    page.wait_for_url(server + "/")
    viewer.assert_clean(allow=("404",))  # the pages themselves, and the unknown id's JSON


def test_the_page_json_for_a_video_the_server_lacks_is_a_plain_404(server: str) -> None:
    """What the player page asks for an unknown id: a JSON error, never a 5xx."""
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(server + "/api/videos/0123456789ab")
    assert refused.value.code == 404
    assert json.load(refused.value)["error"]
