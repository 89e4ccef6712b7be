"""A stream answer's header section, from its plan: one list of fields for both writers.

The aiohttp path (``adapters/server/stream.py``) and the fast path
(``adapters/server/fastpath.py``) must send the same fields in the same order; both take
them from :func:`stream_fields`, so they cannot drift apart. :func:`response_head`
serialises a section the way aiohttp does, for the fast path, which writes its own bytes;
:func:`stream_head` is the two composed, with what never changes between two answers of one
file version kept formatted.
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


#: formatted lines per (status, the plan's first three fields, content type, disposition,
#: cache control): a file version's validators and media fields; bounded by clearing
_FIXED: dict[tuple[object, ...], tuple[str, str]] = {}
_FIXED_MAX = 512


def stream_head(plan: Plan, content_type: str, disposition: str, cache_control: str,
                more: str = "") -> bytes:
    """``response_head(plan.status, stream_fields(plan, ...), more)``, byte for byte (no CORS
    fields: pass those through the two). Why: a player's seeks ask for one file version over
    and over, and formatting its eight lines is a fifth of the fast path's header work; so
    a 200 or single-range 206 formats only the fields after the plan's first three (its
    Content-Range and Content-Length) and reuses the rest, keyed on their values (a changed
    file has another ETag, so another key)."""
    status = plan.status
    headers = plan.headers
    if plan.multipart or len(headers) != (5 if status == 206 else 4 if status == 200 else 0):
        return response_head(status, stream_fields(plan, content_type, disposition,
                                                   cache_control), more)
    first = headers[:3]
    key = (status, first, content_type, disposition, cache_control)
    fixed = _FIXED.get(key)
    if fixed is None:
        if len(_FIXED) >= _FIXED_MAX:
            _FIXED.clear()
        fixed = _FIXED[key] = (
            _STATUS_LINES[status] + "".join(f"{name}: {value}\r\n" for name, value in first),
            f"Content-Type: {content_type}\r\nContent-Disposition: {disposition}\r\n"
            f"Cache-Control: {cache_control}\r\n")
    if status == 206:
        (name, value), (name2, value2) = headers[3:]
        return (f"{fixed[0]}{name}: {value}\r\n{name2}: {value2}\r\n{fixed[1]}{more}\r\n"
                .encode())
    ((name, value),) = headers[3:]
    return f"{fixed[0]}{name}: {value}\r\n{fixed[1]}{more}\r\n".encode()
