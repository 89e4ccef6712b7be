"""The library page as a household uses it, in real Chromium: "Who is watching?" with a PIN
(and the wait after wrong ones), two browser contexts as two devices of one profile (a
position saved by one shows in the other's Continue watching within seconds), Continue
watching and Next up filling and emptying across a season, watched marks set from a card's
menu, the unwatched filter in the URL, the shows view, users as profiles, a store that is
unavailable, and a 360 px phone without sideways scrolling.

The library is six tiny real clips (a show of two seasons, a film, a home video) scanned
once per module; each server has its own state store. Waits poll the page, never sleep.
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import shutil
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from benchmarks.peers import run_mediaserve
from mediaserve.adapters.library.scanner import scan
from mediaserve.adapters.library.store import save_index
from mediaserve.adapters.media.clips import ClipSpec, encode_clip
from mediaserve.core.http.auth import hash_password
from mediaserve.core.profiles.pin import FREE_TRIES
from tests.web.conftest import CHROMIUM, CHROMIUM_ARGS, PageWatch, playwright_sync
from tests.web.conftest import page_api as api
from tests.web.test_library_chromium import UNLABELLED

pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM),
                                reason="Debian chromium not installed (scripts/dev installs it)")

E1, E2 = "TV/Show/Season 1/Show S01E01 - Pilot.mp4", "TV/Show/Season 1/Show S01E02 - Second.mp4"
E3, E4 = "TV/Show/Season 2/Show S02E01 - Return.mp4", "TV/Show/Season 2/Show S02E02 - Finale.mp4"
FILM, HOME = "Films/Film (2017).mp4", "Home/Holiday 2023.mp4"
PHONE = "Home/VID_20240501_101500.mp4"  # portrait: 96 wide, 160 high
NAMES = (E1, E2, E3, E4, FILM, HOME, PHONE)
NUMBERS = itertools.count(1)
WAIT_MS = 15000  # the page asks the server every 5 s; a loaded machine gets slack

CARD_IDS = "(sel) => [...document.querySelectorAll(sel + ' li.card')].map((li) => li.dataset.id)"


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, str]]]:
    root = tmp_path_factory.mktemp("household") / "lib"
    for name in NAMES:
        width, height = (96, 160) if name == PHONE else (160, 90)
        encode_clip(root, ClipSpec(name, seconds=2, fps=10, width=width, height=height))
    index, _summary = scan(root, None, workers=1)
    save_index(root / ".mediaserve-index.toml", index)
    ids = {entry.path: entry.id for entry in index.videos.values()}
    yield root, ids
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def server(library: tuple[Path, dict[str, str]],
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    env = {"MEDIASERVE_DATA_DIR": str(tmp_path_factory.mktemp("household-data"))}
    with run_mediaserve(library[0], env=env) as base:
        yield base


@pytest.fixture
def fresh_server(library: tuple[Path, dict[str, str]], tmp_path: Path) -> Iterator[str]:
    """A server whose store has no profile yet."""
    with run_mediaserve(library[0], env={"MEDIASERVE_DATA_DIR": str(tmp_path / "data")}) as base:
        yield base


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    with playwright_sync.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def device(chromium: Any, request: pytest.FixtureRequest) -> Any:
    """``device(base, width=1100, **context_options)`` -> a PageWatch in a new browser
    context: its own cookies, as another phone or laptop has."""
    contexts: list[Any] = []

    def make(base: str, width: int = 1100, **options: Any) -> PageWatch:
        context = chromium.new_context(viewport={"width": width, "height": 800}, **options)
        contexts.append(context)
        watch = PageWatch(context.new_page())
        watch.page.goto(base + "/")
        watch.page.wait_for_selector("body[data-ready]")
        return watch

    yield make
    for context in contexts:
        context.close()



def new_profile(page: Any, pin: str | None = None) -> str:
    """A new profile chosen in ``page``'s context (by the API); the page is reloaded."""
    body = {"name": f"Viewer {next(NUMBERS)}", **({"pin": pin} if pin else {})}
    status, created = api(page, "POST", "/api/profiles", body)
    assert status == 201, created
    pid = created["profile"]["id"]
    assert api(page, "POST", f"/api/profiles/{pid}/select", {"pin": pin} if pin else None)[0] == 200
    page.reload()
    page.wait_for_selector("body[data-ready]")
    page.wait_for_function("() => document.querySelector('#whoami #switch') !== null")
    return pid


def texts(page: Any, selector: str) -> list[str]:
    return list(page.eval_on_selector_all(selector, "(n) => n.map((e) => e.textContent)"))


def classes(page: Any, selector: str) -> list[str]:
    return list(page.eval_on_selector(selector, "(e) => [...e.classList]"))


def wait_marks(page: Any, watched: int) -> None:
    """Until the library's cards show the profile's marks (they come after the cards)."""
    page.wait_for_function("(n) => document.querySelectorAll('#groups li.watched').length === n",
                           arg=watched, timeout=WAIT_MS)


def row_ids(page: Any, row: str) -> list[str]:
    return list(page.evaluate(CARD_IDS, f"section[data-row={row}]"))


def wait_row(page: Any, row: str, ids: list[str]) -> None:
    """Until the home row ``row`` holds exactly ``ids`` (no row at all: ``[]``)."""
    page.wait_for_function(f"""(want) => JSON.stringify(({CARD_IDS})(
        'section[data-row={row}]')) === JSON.stringify(want)""", arg=ids, timeout=WAIT_MS)


def choose_in_dialog(page: Any, pin: str) -> None:
    page.fill("dialog input[name=pin]", pin)
    page.click("dialog button[type=submit]")


def test_who_is_watching_with_a_pin_and_resume_across_two_devices(
        fresh_server: str, library: tuple[Path, dict[str, str]], device: Any) -> None:
    ids, server = library[1], fresh_server
    laptop = device(server)
    page = laptop.page
    # no profile yet: the library, and a way to make one
    assert page.is_visible("#library-view") and page.is_hidden("#chooser")
    page.click("#whoami #choose")
    page.click("button.profile.add")
    assert page.evaluate(UNLABELLED) == []  # the dialog's fields and swatches have names
    page.fill("dialog input[name=name]", "Parent")
    page.fill("dialog input[name=pin]", "2468")
    page.click("dialog button[type=submit]")
    page.wait_for_selector("button.profile[data-pid]")
    page.click("button.profile.add")
    page.fill("dialog input[name=name]", "Kid")
    page.click("dialog input[type=radio][value='#46a758']")
    page.click("dialog button[type=submit]")
    page.wait_for_function("() => document.querySelectorAll('button.profile[data-pid]').length"
                           " == 2", timeout=WAIT_MS)
    page.click("button.profile:has-text('Parent')")
    choose_in_dialog(page, "1111")
    page.wait_for_function("() => document.querySelector('.form-error').textContent !== ''")
    assert page.inner_text(".form-error") == "Wrong PIN."
    choose_in_dialog(page, "2468")
    page.wait_for_selector("#chooser", state="hidden")
    assert page.inner_text("#whoami .name") == "Parent" and page.is_visible("#library-view")
    # the second device is asked, and chooses the same profile with its PIN
    phone = device(server)
    other = phone.page
    other.wait_for_selector("#chooser:not([hidden])")
    assert other.is_hidden("#library-view")
    assert texts(other, "button.profile .name") == ["Kid", "Parent", "Add a profile"]
    other.click("button.profile:has-text('Parent')")
    choose_in_dialog(other, "2468")
    other.wait_for_selector("#library-view", state="visible")
    assert other.query_selector("section[data-row=continue_watching]") is None
    # the laptop's player saves a position; the phone shows it within seconds
    report = {"position": 600, "duration": 1200}
    assert api(page, "POST", f"/api/me/progress/{ids[E2]}", report)[0] == 200
    wait_row(other, "continue_watching", [ids[E2]])
    bar = other.eval_on_selector(f"section[data-row=continue_watching] li[data-id='{ids[E2]}']"
                                 " .fill", "(f) => f.style.width")
    assert bar == "50%"
    text = other.eval_on_selector(f"#groups li[data-id='{ids[E2]}'] a", "(a) => a.textContent")
    assert "In progress: 10:00 of 20:00" in text  # the library's card has the mark too
    # the laptop switches to the other profile: asked again, no rows of the parent's
    page.click("#switch")
    page.wait_for_selector("#chooser:not([hidden])")
    assert page.is_hidden("#library-view")
    page.click("button.profile:has-text('Kid')")
    page.wait_for_selector("#library-view", state="visible")
    assert page.inner_text("#whoami .name") == "Kid"
    wait_row(page, "continue_watching", [])
    laptop.assert_clean(allow=("403",))  # the wrong PIN's answer
    phone.assert_clean()


def test_continue_watching_and_next_up_fill_and_empty_across_a_season(
        server: str, library: tuple[Path, dict[str, str]], device: Any) -> None:
    ids = library[1]
    watch = device(server)
    page = watch.page
    new_profile(page)
    wait_row(page, "continue_watching", [])
    api(page, "POST", f"/api/me/progress/{ids[E2]}", {"position": 600, "duration": 1200})
    api(page, "POST", f"/api/me/progress/{ids[FILM]}", {"position": 60, "duration": 6000})
    page.reload()
    wait_row(page, "continue_watching", [ids[FILM], ids[E2]])  # the most recent first
    wait_row(page, "next_up", [])
    # the end of the last episode of season 1: it leaves Continue watching, season 2 is next
    api(page, "POST", f"/api/me/progress/{ids[E2]}", {"position": 1200, "ended": True})
    page.reload()  # (another device's report arrives within a poll: the first test's part)
    wait_row(page, "continue_watching", [ids[FILM]])
    wait_row(page, "next_up", [ids[E3]])
    kicker = page.eval_on_selector("section[data-row=next_up] .kicker", "(k) => k.textContent")
    assert kicker == "After S01E02"  # the show's name is on the card
    assert "watched" in classes(page, f"#groups li[data-id='{ids[E2]}']")
    assert "Watched." in texts(page, f"#groups li[data-id='{ids[E2]}'] .mark-text")[0]
    # marked watched by hand from its card's menu: the next episode takes its place
    page.click(f"section[data-row=next_up] li[data-id='{ids[E3]}'] button.more")
    page.wait_for_selector("#card-menu:popover-open")
    assert page.evaluate("document.activeElement.textContent") == "Mark as watched"
    page.keyboard.press("Enter")
    wait_row(page, "next_up", [ids[E4]])
    assert "watched" in classes(page, f"#groups li[data-id='{ids[E3]}']")
    # and unwatched again, from the library's card
    page.locator(f"#groups li[data-id='{ids[E3]}']").scroll_into_view_if_needed()
    page.click(f"#groups li[data-id='{ids[E3]}'] button.more")
    page.click("#card-menu button:has-text('Mark as unwatched')")
    wait_row(page, "next_up", [ids[E3]])
    # the film finished: Continue watching empties
    api(page, "POST", f"/api/me/watched/{ids[FILM]}", {"watched": True})
    page.reload()
    wait_row(page, "continue_watching", [])
    watch.assert_clean()


def test_the_unwatched_filter_lives_in_the_url(server: str, library: tuple[Path, dict[str, str]],
                                               device: Any) -> None:
    ids = library[1]
    watch = device(server)
    page = watch.page
    new_profile(page)
    for name in (E1, FILM):
        api(page, "POST", f"/api/me/watched/{ids[name]}", {"watched": True})
    api(page, "POST", f"/api/me/progress/{ids[E2]}", {"position": 30, "duration": 1200})
    page.reload()
    wait_marks(page, 2)
    page.select_option("#seen", "unwatched")
    assert "seen=unwatched" in page.url
    unwatched = sorted(ids[n] for n in (E2, E3, E4, HOME, PHONE))
    assert sorted(page.evaluate(CARD_IDS, "#groups")) == unwatched
    assert "Showing 5 of 7 videos" in page.inner_text("#status")
    page.reload()  # the first render waits for the marks when the URL filters by them
    page.wait_for_selector("body[data-ready]")
    assert sorted(page.evaluate(CARD_IDS, "#groups")) == unwatched
    page.select_option("#seen", "progress")
    assert page.evaluate(CARD_IDS, "#groups") == [ids[E2]]
    page.select_option("#seen", "watched")
    page.fill("#search", "holiday")
    assert page.evaluate(CARD_IDS, "#groups") == []
    assert page.inner_text("#status") == "No watched videos match “holiday”."
    watch.assert_clean()


def test_the_shows_view_seasons_marks_and_next(server: str, library: tuple[Path, dict[str, str]],
                                               device: Any) -> None:
    ids = library[1]
    watch = device(server)
    page = watch.page
    new_profile(page)
    api(page, "POST", f"/api/me/watched/{ids[E1]}", {"watched": True})
    page.reload()
    wait_marks(page, 1)
    titles = texts(page, f"#groups li[data-id='{ids[E2]}'] :is(.title, .subtitle)")
    assert titles == ["Show S01E02", "Second"]  # the show and SxxEyy, then the episode's title
    page.click("#tab-shows")
    page.wait_for_selector(".shows li.card")
    assert "view=shows" in page.url
    shown = texts(page, ".shows li.card :is(.title, .facts)")
    assert shown == ["Show", "2 seasons · 4 episodes", "1 of 4 watched"]
    page.click(".shows li.card a")
    page.wait_for_selector(".season")
    assert page.evaluate("document.activeElement.id") == "shows-title"
    seasons = page.eval_on_selector_all(".season", """(s) => s.map((season) => [
        season.querySelector('h3').textContent,
        [...season.querySelectorAll('li.card')].map((li) => [li.querySelector('.title').textContent,
            li.classList.contains('watched'), li.classList.contains('next')])])""")
    assert seasons == [
        ["Season 1 1 of 2 watched", [["S01E01", True, False], ["S01E02", False, True]]],
        ["Season 2 0 of 2 watched", [["S02E01", False, False], ["S02E02", False, False]]]]
    assert page.inner_text(".play-next") == "Play S01E02 · Second"
    # marked from an episode's menu: the page is drawn again, the focus stays on that card
    page.click(f".season li[data-id='{ids[E4]}'] button.more")
    page.click("#card-menu button:has-text('Mark as watched')")
    page.wait_for_function("() => document.querySelector('#season-2 h3').textContent"
                           " === 'Season 2 1 of 2 watched'", timeout=WAIT_MS)
    focused = ("() => [document.activeElement.className,"
               " document.activeElement.closest('li')?.dataset.id]")
    assert page.evaluate(focused) == ["more", ids[E4]]
    # S01E02 finished: the next to watch crosses into season 2
    api(page, "POST", f"/api/me/progress/{ids[E2]}", {"position": 1200, "duration": 1200})
    page.evaluate("document.dispatchEvent(new Event('visibilitychange'))")  # the tab shown again
    page.wait_for_function("() => document.querySelector('.play-next')?.textContent"
                           " === 'Play S02E01 · Return'", timeout=WAIT_MS)
    page.go_back()
    page.wait_for_selector(".shows li.card")
    page.go_back()
    page.wait_for_selector("#library-view", state="visible")
    # an episode's card leads to its show; an unknown show is not a dead end
    page.locator(f"#groups li[data-id='{ids[E4]}']").scroll_into_view_if_needed()
    page.click(f"#groups li[data-id='{ids[E4]}'] button.more")
    page.click("#card-menu a:has-text('Go to Show')")
    page.wait_for_selector(".season")
    assert "?show=" in page.url
    page.goto(server + "/?show=000000000000")
    page.wait_for_selector("#shows-view [role=alert]")
    assert "not in the library" in page.inner_text("#shows-view")
    page.click("#shows-view a:has-text('All shows')")
    page.wait_for_selector(".shows li.card")
    watch.assert_clean(allow=("404",))


def test_a_wrong_pin_too_often_shows_the_wait(server: str, device: Any) -> None:
    watch = device(server)
    page = watch.page
    name, gone = f"Locked {next(NUMBERS)}", f"Gone {next(NUMBERS)}"
    assert api(page, "POST", "/api/profiles", {"name": name, "pin": "1357"})[0] == 201
    status, created = api(page, "POST", "/api/profiles", {"name": gone})
    assert status == 201
    api(page, "POST", "/api/me/leave")  # a household of one was chosen without asking
    page.reload()
    page.wait_for_selector("#chooser:not([hidden])")
    page.click(f"button.profile:has-text('{name}')")
    for _ in range(FREE_TRIES):  # the last of the free tries brings the first wait
        page.wait_for_selector("dialog button[type=submit]:not([disabled])")
        choose_in_dialog(page, "0000")
        page.wait_for_function("() => document.querySelector('.form-error').textContent !== ''")
    message = page.inner_text(".form-error")
    assert message.startswith("Wrong PIN. Try again in"), message
    assert page.is_disabled("dialog button[type=submit]")
    # asked again meanwhile (another dialog, a reload): the server's 429 and its wait
    page.click("dialog button:has-text('Cancel')")
    page.click(f"button.profile:has-text('{name}')")
    choose_in_dialog(page, "1357")
    page.wait_for_function("() => document.querySelector('.form-error').textContent !== ''")
    message = page.inner_text(".form-error")
    assert message.startswith("Too many wrong PINs. Try again in"), message
    seconds = int(message.split("Try again in ")[1].split(" ")[0])
    assert 20 <= seconds <= 30 and page.is_disabled("dialog button[type=submit]")
    page.click("dialog button:has-text('Cancel')")
    # a profile removed on another device while this one shows it: said, and gone from the list
    assert api(page, "DELETE", f"/api/profiles/{created['profile']['id']}")[0] == 204
    page.click(f"button.profile:has-text('{gone}')")
    page.wait_for_function("() => document.getElementById('chooser-status').textContent !== ''")
    assert page.inner_text("#chooser-status") == \
        "This profile no longer exists (it was removed elsewhere)."
    page.wait_for_function(f"() => ![...document.querySelectorAll('button.profile')]"
                           f".some((b) => b.textContent.includes('{gone}'))")
    page.click("#guest")  # not a dead end: the library without a profile
    page.wait_for_selector("#library-view", state="visible")
    assert page.inner_text("#whoami") == "Choose a profile"
    watch.assert_clean(allow=("403", "404", "429"))


def test_phone_width_has_no_sideways_scroll(server: str, library: tuple[Path, dict[str, str]],
                                            device: Any, tmp_path: Path) -> None:
    ids = library[1]
    watch = device(server, width=360)
    page = watch.page
    artifacts = Path(os.environ.get("MEDIASERVE_WEB_ARTIFACTS")
                     or Path(__file__).resolve().parents[2] / "bench-out" / "web-screenshots")
    artifacts.mkdir(parents=True, exist_ok=True)
    width = "() => document.documentElement.scrollWidth"
    if page.is_visible("#chooser"):
        assert page.evaluate(width) <= 360
        page.screenshot(path=str(artifacts / "chooser-360.png"))
    new_profile(page)
    api(page, "POST", f"/api/me/progress/{ids[FILM]}", {"position": 600, "duration": 6000})
    api(page, "POST", f"/api/me/watched/{ids[E1]}", {"watched": True})
    page.reload()
    wait_row(page, "continue_watching", [ids[FILM]])
    wait_row(page, "next_up", [ids[E2]])
    assert page.evaluate(width) <= 360
    page.screenshot(path=str(artifacts / "library-rows-360.png"), full_page=True)
    # a portrait phone video is shown whole and upright in its card, with its size as shown
    phone = f"#groups li[data-id='{ids[PHONE]}']"
    assert "portrait" in classes(page, phone)
    fit = page.eval_on_selector(f"{phone} img", "(i) => getComputedStyle(i).objectFit")
    assert fit == "contain"
    assert texts(page, f"{phone} .facts")[0].startswith("96×160")
    page.click(f"section[data-row=next_up] li[data-id='{ids[E2]}'] button.more")
    box = page.eval_on_selector("#card-menu", "(m) => m.getBoundingClientRect().right")
    assert box <= 360 and page.evaluate(width) <= 360
    page.keyboard.press("Escape")
    page.click("#tab-shows")
    page.click(".shows li.card a")
    page.wait_for_selector(".season")
    assert page.evaluate(width) <= 360
    page.screenshot(path=str(artifacts / "show-360.png"), full_page=True)
    watch.assert_clean()


def users_file(folder: Path) -> Path:
    path = folder / "users"
    path.write_text(f"alice:{hash_password('pw-alice', b'salt' * 4, n=16, r=1)}\n")
    return path


def test_with_auth_users_the_user_is_the_profile(library: tuple[Path, dict[str, str]],
                                                 device: Any, tmp_path: Path) -> None:
    env = {"MEDIASERVE_DATA_DIR": str(tmp_path / "data"),
           "MEDIASERVE_AUTH_USERS": str(users_file(tmp_path))}
    with run_mediaserve(library[0], env=env) as base:
        basic = base64.b64encode(b"alice:pw-alice").decode()
        watch = device(base, extra_http_headers={"Authorization": f"Basic {basic}"})
        page = watch.page
        page.wait_for_selector("#whoami:not([hidden])")
        assert page.inner_text("#whoami") == "A\nSigned in as alice"  # no chooser, no switch
        assert page.is_hidden("#chooser") and page.query_selector("#switch") is None
        api(page, "POST", f"/api/me/progress/{library[1][FILM]}", {"position": 60, "duration": 600})
        page.reload()
        wait_row(page, "continue_watching", [library[1][FILM]])
        watch.assert_clean()


def test_an_unavailable_store_still_shows_the_library(library: tuple[Path, dict[str, str]],
                                                      device: Any, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    env = {"MEDIASERVE_DATA_DIR": str(tmp_path / "data"),
           "MEDIASERVE_STATE_DB": str(blocker / "state.db")}
    with run_mediaserve(library[0], env=env) as base:
        with urllib.request.urlopen(base + "/api/videos") as reply:
            count = json.load(reply)["count"]
        watch = device(base)
        page = watch.page
        page.wait_for_selector("#notice:not([hidden])")
        assert page.inner_text("#notice").startswith("Profiles are unavailable: cannot open")
        assert "The library works" in page.inner_text("#notice")
        assert len(page.evaluate(CARD_IDS, "#groups")) == count
        assert len(row_ids(page, "recently_added")) == count  # from the listing
        assert page.is_hidden("#chooser") and page.is_hidden("#seen-field")
        watch.assert_clean(allow=("503",))
