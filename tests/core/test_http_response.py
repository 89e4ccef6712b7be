"""The header fields both stream writers take from a plan, and their serialisation."""

from __future__ import annotations

import pytest

from mediaserve.core.http import ranges
from mediaserve.core.http.response import response_head, stream_fields, stream_head

V = ranges.make_validators(1000, 1_700_000_000_000_000_000, 7, 1_700_000_000_000_000_000)
CORS = [("Vary", "Origin"), ("Access-Control-Allow-Origin", "https://a.example")]


def _plan(method: str = "GET", **headers: str) -> ranges.Plan:
    return ranges.evaluate(method, _conditionals(headers), V, "video/mp4")


def _conditionals(headers: dict[str, str]) -> ranges.Conditionals:
    return ranges.Conditionals(headers.get("range"), None, None, headers.get("if_none_match"),
                               None, None)


def _names(fields: list[tuple[str, str]]) -> list[str]:
    return [name for name, _ in fields]


def test_a_partial_answer_gets_type_disposition_and_caching_after_the_plans_fields() -> None:
    fields = stream_fields(_plan(range="bytes=0-1"), "video/mp4", "inline", "no-cache", CORS)
    assert _names(fields) == ["Accept-Ranges", "ETag", "Last-Modified", "Content-Range",
                              "Content-Length", "Content-Type", "Content-Disposition",
                              "Cache-Control", "Vary", "Access-Control-Allow-Origin"]
    assert ("Content-Length", "2") in fields and ("Content-Type", "video/mp4") in fields


def test_a_multipart_answer_keeps_its_own_content_type() -> None:
    fields = stream_fields(_plan(range="bytes=0-1,5-6"), "video/mp4", "inline", "no-cache")
    types = [value for name, value in fields if name == "Content-Type"]
    assert len(types) == 1 and types[0].startswith("multipart/byteranges; boundary=")
    assert "Content-Disposition" in _names(fields)


def test_not_modified_is_cached_but_has_no_body_fields() -> None:
    fields = stream_fields(_plan(if_none_match=V.etag), "video/mp4", "inline", "no-cache")
    assert _names(fields) == ["ETag", "Last-Modified", "Cache-Control"]


def test_unsatisfiable_carries_only_the_plans_fields() -> None:
    plan = _plan(range="bytes=5000-")
    assert plan.status == 416
    assert stream_fields(plan, "video/mp4", "inline", "no-cache") == list(plan.headers)


def test_response_head() -> None:
    assert response_head(416, [("Content-Length", "0")]) == (
        b"HTTP/1.1 416 Requested Range Not Satisfiable\r\nContent-Length: 0\r\n\r\n")
    assert response_head(206, [], "Date: x\r\n") == (
        b"HTTP/1.1 206 Partial Content\r\nDate: x\r\n\r\n")


@pytest.mark.parametrize("method", ["GET", "HEAD"])
@pytest.mark.parametrize("request_headers", [
    {}, {"range": "bytes=0-1"}, {"range": "bytes=10-"}, {"range": "bytes=-5"},
    {"range": "bytes=0-1,5-6"}, {"range": "bytes=5000-"}, {"if_none_match": V.etag},
    {"range": "bytes=990-2000"}])
def test_stream_head_is_response_head_of_stream_fields(method: str,
                                                       request_headers: dict[str, str]) -> None:
    """The formatted-once lines never change a byte, on a first answer or a later one."""
    plan = _plan(method, **request_headers)
    accented = "attachment; filename*=UTF-8''\u00e9.mkv"
    for content_type, disposition in (("video/mp4", "inline"), ("video/x-matroska", accented)):
        for _ in range(2):
            assert stream_head(plan, content_type, disposition, "no-cache", "Date: x\r\n") == (
                response_head(plan.status, stream_fields(plan, content_type, disposition,
                                                         "no-cache"), "Date: x\r\n"))
    other = ranges.make_validators(1000, 1_700_000_000_000_000_001, 7, 1)
    changed = ranges.evaluate(method, _conditionals(request_headers), other, "video/mp4")
    assert stream_head(changed, "video/mp4", "inline", "no-cache") == response_head(
        changed.status, stream_fields(changed, "video/mp4", "inline", "no-cache"))

