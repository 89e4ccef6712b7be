"""The compact card listing and its query parameters."""

from __future__ import annotations

import pytest

from mediaserve.core.web.listing import (
    CARD_FIELDS,
    Page,
    QueryError,
    card_row,
    cards,
    page_of,
    parse_page,
    parse_view,
    problem,
)


def doc(**extra: object) -> dict[str, object]:
    base = {"id": "0123456789ab", "title": "Clip", "name": "clip.mp4", "path": "a/b/clip.mp4",
            "duration": 2.0, "width": 160, "height": 120, "size": 10, "mtime_ns": 5,
            "status": "ok", "video_codec": "h264", "poster_url": "/p", "findings": []}
    return {**base, **extra}


def test_card_row_follows_the_field_list() -> None:
    row = dict(zip(CARD_FIELDS, card_row(doc()), strict=True))
    assert row["folder"] == "a/b" and row["problem"] is None and row["badges"] == []
    assert row["title"] == "Clip" and row["size"] == 10
    assert dict(zip(CARD_FIELDS, card_row(doc(path="top.mp4")), strict=True))["folder"] == ""


def test_problem_prefers_errors_then_warnings_then_status() -> None:
    warn = {"code": "not-faststart", "severity": "warning", "message": "slow"}
    err = {"code": "truncated", "severity": "error", "message": "cut"}
    assert problem(doc(findings=[warn, err])) == ["error", "truncated", "cut"]
    assert problem(doc(findings=[warn])) == ["warning", "not-faststart", "slow"]
    assert problem(doc(status="missing")) == ["error", "missing", "the video is missing"]
    assert problem(doc(status="error", error="boom")) == ["error", "error", "boom"]


def test_cards_document() -> None:
    out = cards([doc(), doc(id="ffffffffffff")])
    assert out["count"] == 2 and out["fields"] == list(CARD_FIELDS)
    assert [r[0] for r in out["rows"]] == ["0123456789ab", "ffffffffffff"]


@pytest.mark.parametrize(("query", "page"), [
    ({}, Page(0, None)), ({"offset": "10"}, Page(10, None)),
    ({"limit": "5", "offset": ""}, Page(0, 5)), ({"limit": "0"}, Page(0, 0)),
])
def test_parse_page(query: dict[str, str], page: Page) -> None:
    assert parse_page(query) == page


@pytest.mark.parametrize("query", [{"offset": "-1"}, {"limit": "x"}, {"limit": "1e3"},
                                   {"offset": "99999999999999999999"}, {"limit": "100001"}])
def test_bad_page_parameters(query: dict[str, str]) -> None:
    with pytest.raises(QueryError):
        parse_page(query)


def test_views_and_slices() -> None:
    assert parse_view({}) == "full" and parse_view({"view": "cards"}) == "cards"
    with pytest.raises(QueryError):
        parse_view({"view": "everything"})
    assert page_of([1, 2, 3, 4], Page(1, 2)) == [2, 3]
    assert page_of([1, 2, 3], Page(5, None)) == []
