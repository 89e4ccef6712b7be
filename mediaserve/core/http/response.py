"""A stream answer's header section, from its plan: one list of fields for both writers.

The aiohttp path (``adapters/server/stream.py``) and the fast path
(``adapters/server/fastpath.py``) must send the same fields in the same order; both take
them from :func:`stream_fields`, so they cannot drift apart. :func:`response_head`
serialises a section the way aiohttp does, for the fast path, which writes its own bytes.
"""

from __future__ import annotations

from collections.abc import Iterable
from http import HTTPStatus

from mediaserve.core.http.ranges import Plan

_BODY_STATUSES = (200, 206)
_CACHED_STATUSES = (200, 206, 304)


def stream_fields(plan: Plan, content_type: str, disposition: str, cache_control: str,
                  cors: Iterable[tuple[str, str]] = ()) -> list[tuple[str, str]]:
    """The plan's own fields (validators, Content-Range, and Content-Length, which every
    plan but 304's carries), then Content-Type (a multipart plan has its own, with the
    boundary), Content-Disposition and Cache-Control for an answer with a body, Cache-Control
    for a 304 too, then the CORS fields. None of these is in a plan, so each is appended;
    Date, Server and Connection are the writer's."""
    fields = list(plan.headers)
    status = plan.status
    if status in _BODY_STATUSES:
        if not plan.multipart:
            fields.append(("Content-Type", content_type))
        fields.append(("Content-Disposition", disposition))
    if status in _CACHED_STATUSES:
        fields.append(("Cache-Control", cache_control))
    fields.extend(cors)
    return fields


_STATUS_LINES = {status.value: f"HTTP/1.1 {status.value} {status.phrase}\r\n"
                 for status in HTTPStatus}


def response_head(status: int, fields: Iterable[tuple[str, str]], more: str = "") -> bytes:
    """``HTTP/1.1 status reason``, the fields, then ``more`` (lines already ending in CRLF:
    Date, Server, Connection), as aiohttp serialises a header section."""
    line = _STATUS_LINES.get(status) or f"HTTP/1.1 {status} \r\n"
    return "".join([line, *[f"{name}: {value}\r\n" for name, value in fields], more,
                    "\r\n"]).encode("utf-8")
