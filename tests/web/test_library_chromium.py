"""The library page in real Chromium: cards with posters, search, sort, folders, greyed
broken entries, keyboard navigation, a 360 px phone layout, and no console errors or CSP
violations anywhere."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

from tests.web.conftest import EMPTY, GONE, SOURCE_OF_TRUNCATED, WebLibrary, has_horizontal_scroll

CARD_DATA = """() => [...document.querySelectorAll('#groups a.card-link')].map((a) => ({
    id: a.dataset.id, title: a.querySelector('.title').textContent,
    broken: a.parentElement.classList.contains('broken'),
    reason: (a.querySelector('.reason') || {}).textContent || '',
    badges: [...a.querySelectorAll('.badge')].map((b) => b.textContent)}))"""


def listing(lib: WebLibrary) -> dict[str, dict[str, Any]]:
    with urllib.request.urlopen(lib.url("/api/videos")) as reply:
        return {v["id"]: v for v in json.load(reply)["videos"]}


def ready(lib: WebLibrary, open_page: Any, query: str = "", width: int | None = None) -> Any:
    watch = open_page(lib.url("/" + query), width=width)
    watch.page.wait_for_selector("body[data-ready]")
    return watch


def cards(watch: Any) -> list[dict[str, Any]]:
    return list(watch.page.evaluate(CARD_DATA))


def test_lists_every_video_with_a_poster(web_library: WebLibrary, open_page: Any) -> None:
    watch = ready(web_library, open_page)
    shown = cards(watch)
    assert sorted(c["id"] for c in shown) == sorted(web_library.id(n) for n in web_library.names)
    titles = {c["title"] for c in shown}
    assert {"Show S01E01", "Subbed Movie (2019)", "Noise moov-at-end"} <= titles
    images = watch.page.locator("#groups img")
    for i in range(images.count()):  # scrolling in loads the lazy posters
        images.nth(i).scroll_into_view_if_needed()
    watch.page.wait_for_function(
        "() => [...document.querySelectorAll('#groups img')].every((i) => i.complete)",
        timeout=60000)
    sizes = watch.page.evaluate("""() => Object.fromEntries([...document.querySelectorAll(
        '#groups a.card-link')].map((a) => [a.dataset.id, a.querySelector('img').naturalWidth]))""")
    assert sizes[web_library.id("Series/Show.S01E01.720p.x264.mp4")] == 320  # a real frame
    assert sizes[web_library.id(EMPTY)] == 32  # the neutral placeholder
    headings = watch.page.locator("#groups h2").all_inner_texts()
    assert [h.split(" ")[0] for h in headings][:2] == ["Library", "Broken"]
    watch.page.screenshot(path=str(web_library.artifacts / "library.png"), full_page=True)
    watch.assert_clean()


def test_search_filters_as_you_type(web_library: WebLibrary, open_page: Any) -> None:
    watch = ready(web_library, open_page)
    page = watch.page
    page.locator("body").press("/")
    assert page.evaluate("document.activeElement.id") == "search"
    page.keyboard.type("show")
    assert sorted(c["title"] for c in cards(watch)) == ["Show S01E01", "Show S01E02",
                                                        "Show S01E03"]
    page.keyboard.type(" e02")
    assert [c["title"] for c in cards(watch)] == ["Show S01E02"]
    assert "Showing 1 of" in page.inner_text("#status")
    assert "q=show+e02" in page.url  # the search survives a reload and the back button
    page.keyboard.type("zzz")
    assert cards(watch) == [] and "No videos match" in page.inner_text("#status")
    page.keyboard.press("Escape")
    assert len(cards(watch)) == len(web_library.names)
    page.select_option("#folder", "Series")
    assert len(cards(watch)) == 3
    watch.assert_clean()


def test_sort_orders(web_library: WebLibrary, open_page: Any) -> None:
    facts = listing(web_library)
    watch = ready(web_library, open_page, "?group=0")
    page = watch.page
    by_name = [c["title"] for c in cards(watch)]
    page.select_option("#sort", "-name")
    assert [c["title"] for c in cards(watch)] == by_name[::-1]
    for option, key, descending in (("-size", "size", True), ("size", "size", False),
                                    ("-added", "mtime_ns", True),
                                    ("duration", "duration", False)):
        page.select_option("#sort", option)
        values = [facts[c["id"]][key] or 0 for c in cards(watch)]
        assert values == sorted(values, reverse=descending), option
        assert len(set(values)) > 2  # the order was really decided by this key
    watch.assert_clean()


def test_broken_entries_are_greyed_with_their_reason(web_library: WebLibrary,
                                                     open_page: Any) -> None:
    shown = {c["id"]: c for c in cards(ready(web_library, open_page))}
    expected = {EMPTY: "empty", GONE: "not found", SOURCE_OF_TRUNCATED.name: "ends before"}
    for name, words in expected.items():
        card = shown[web_library.id(name)]
        assert card["broken"], name
        assert words in card["reason"], (name, card["reason"])
    healthy = shown[web_library.id("Noise Test.mp4")]
    assert not healthy["broken"] and healthy["reason"] == ""
    assert shown[web_library.id("Noise moov-at-end.mp4")]["badges"] == ["slow start"]
    assert sum(c["broken"] for c in shown.values()) == 3


def test_keyboard_moves_between_cards_and_opens_one(web_library: WebLibrary,
                                                    open_page: Any) -> None:
    watch = ready(web_library, open_page, "?group=0")
    page = watch.page
    links = page.locator("#groups a.card-link")
    links.first.focus()
    rect = ("() => { const r = document.activeElement.getBoundingClientRect();"
            " return [r.left, r.top]; }")
    start = page.evaluate(rect)
    page.keyboard.press("ArrowRight")
    assert page.evaluate("document.activeElement.dataset.id") == links.nth(1).get_attribute(
        "data-id")
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("ArrowDown")
    below = page.evaluate(rect)
    assert below[1] > start[1] and abs(below[0] - start[0]) < 2  # same column, next row
    page.keyboard.press("ArrowUp")
    focused = "() => [document.activeElement.className, document.activeElement.dataset.id]"
    first, second = links.first.get_attribute("data-id"), links.nth(1).get_attribute("data-id")
    assert page.evaluate(focused) == ["card-link", first]
    page.keyboard.press("Tab")  # Tab walks the cards too, each card's menu button after it
    assert page.evaluate(focused) == ["more", first]
    page.keyboard.press("ArrowRight")  # arrows from the menu button move as from its card
    assert page.evaluate(focused) == ["card-link", second]
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Tab")
    assert page.evaluate(focused) == ["card-link", second]
    target = page.evaluate("document.activeElement.dataset.id")
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/watch/{target}")
    watch.assert_clean()


def test_phone_width_has_no_sideways_scroll(web_library: WebLibrary, open_page: Any) -> None:
    watch = ready(web_library, open_page, width=360)
    assert not has_horizontal_scroll(watch.page)
    watch.page.screenshot(path=str(web_library.artifacts / "library-360.png"))
    watch.assert_clean()


UNLABELLED = """() => [...document.querySelectorAll('input, select, button, [role=slider]')]
    .filter((c) => !c.hidden && !(c.labels && c.labels.length) && !c.getAttribute('aria-label')
                   && !c.textContent.trim())
    .map((c) => c.outerHTML.slice(0, 80))"""


def test_labels_focus_ring_and_dark_scheme(web_library: WebLibrary, open_page: Any) -> None:
    watch = ready(web_library, open_page)
    page = watch.page
    assert page.evaluate(UNLABELLED) == []
    page.keyboard.press("Tab")  # the skip link comes first, then the search
    assert page.evaluate("document.activeElement.className") == "skip"
    page.locator("#groups a.card-link").first.focus()
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline not in ("none", "")
    page.emulate_media(color_scheme="dark")
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(15, 17, 21)"
    page.screenshot(path=str(web_library.artifacts / "library-dark.png"))
    player = open_page(web_library.url(f"/watch/{web_library.id('Noise Test.mp4')}"))
    player.page.wait_for_function("() => document.getElementById('player').readyState >= 1")
    assert player.page.evaluate(UNLABELLED) == []
    watch.assert_clean()
    player.assert_clean()
