"""Which stream a mediaserve player page URL shows (pure)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mediaserve.core.probe.pages import is_html, stream_of_player_page

VID = "0123456789ab"


@pytest.mark.parametrize(("url", "stream"), [
    (f"http://h:8080/watch/{VID}", f"http://h:8080/api/videos/{VID}/stream"),
    (f"http://h/watch/{VID}/", f"http://h/api/videos/{VID}/stream"),
    (f"https://h/media/watch/{VID}?token=t#x", f"https://h/media/api/videos/{VID}/stream?token=t"),
    (f"http://h/api/videos/{VID}/stream", None),
    ("http://h/watch/not-an-id", None),
    (f"http://h/watch/{VID}/extra", None),
    ("http://h/watch?v=dQw4w9WgXcQ", None),
    ("http://[::1", None),
])
def test_player_page_urls(url: str, stream: str | None) -> None:
    assert stream_of_player_page(url) == stream


@pytest.mark.parametrize(("value", "html"), [
    ("text/html; charset=utf-8", True), ("TEXT/HTML", True), ("application/xhtml+xml", True),
    ("video/mp4", False), ("", False), (None, False), ("text/htmlx", False)])
def test_is_html(value: str | None, html: bool) -> None:
    assert is_html(value) is html


@given(st.text(max_size=200))
def test_any_url_without_raising(url: str) -> None:
    found = stream_of_player_page(url)
    assert found is None or "/api/videos/" in found
