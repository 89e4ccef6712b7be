"""One HTTP/1.1 request head, read strictly, for the stream fast path.

The fast path (``adapters/server/fastpath.py``) serves the request that dominates a media
server's traffic, ``GET``/``HEAD`` of a stream URL, without aiohttp's per-request machinery.
It must never accept what aiohttp's parser would refuse or read differently, so this reader is
narrow on purpose: anything unusual (obs-fold, a body, a repeated header the server reads,
bytes outside visible ASCII, HTTP/1.0, a percent-escaped or dotted path, an oversized head)
gives ``None``, and the caller hands that request to aiohttp unchanged. Declining costs a
few microseconds; reading a request differently from the reference path would be a bug.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qsl

#: aiohttp's own limit for one line is 8,190 bytes; a head this long is never a player's
MAX_HEAD = 8190
#: aiohttp refuses more than 128 fields (400); a player sends a dozen
MAX_FIELDS = 100

_REQUEST_LINE = re.compile(rb"(GET|HEAD) (/[!-~]*) HTTP/1\.1")
# every field line at once: token ":" OWS visible-ASCII-or-blank, each ended by CRLF
_FIELDS = re.compile(rb"(?:[!#$%&'*+\-.^_`|~0-9A-Za-z]+:[ \t!-~]*\r\n)*")
#: fields that make a request something other than a bodiless GET: aiohttp's business
_REFUSED = frozenset(("content-length", "transfer-encoding", "expect", "upgrade",
                      "http2-settings"))
#: fields the server reads: a second copy of one is ambiguous, so aiohttp decides
READ = frozenset(("host", "range", "if-range", "if-match", "if-none-match",
                  "if-modified-since", "if-unmodified-since", "authorization", "cookie",
                  "connection", "origin", "referer", "user-agent"))
_STREAM = re.compile(r"/api/videos/([0-9a-f]{12,64})/stream(?:\?([!-~]*))?")


@dataclass(slots=True)  # not frozen: a frozen __init__ costs a microsecond per request
class RequestHead:
    """What the fast path needs of a request: field names are lower-case, values stripped."""

    method: str  # "GET" or "HEAD"
    target: str  # as sent: path and query
    fields: dict[str, str]
    keep_alive: bool  # False when the client sent ``Connection: close``


def parse_head(data: bytes) -> RequestHead | None:
    """``data`` must be exactly one request head, CRLF CRLF included; None to decline."""
    size = len(data)
    if size > MAX_HEAD or data.find(b"\r\n\r\n") != size - 4:
        return None
    end = data.find(b"\r\n")
    line = _REQUEST_LINE.fullmatch(data, 0, end)
    if line is None:
        return None
    if _FIELDS.fullmatch(data, end + 2, size - 2) is None:
        return None
    fields: dict[str, str] = {}
    block = data[end + 2:size - 4].decode("ascii")  # checked above: visible ASCII, blanks
    lines = block.split("\r\n") if block else ()
    if len(lines) > MAX_FIELDS:
        return None
    for raw in lines:
        name, _, value = raw.partition(":")
        name = name.lower()
        if name in fields and name in READ:
            return None
        fields[name] = value.strip(" \t")
    if "host" not in fields or not _REFUSED.isdisjoint(fields):
        return None  # HTTP/1.1 without Host is a 400, aiohttp's to give
    keep_alive = True
    connection = fields.get("connection")
    if connection is not None:
        options = _options(connection)
        if not options or not options <= _PLAIN_OPTIONS:
            return None  # "Upgrade", "TE", an empty value: aiohttp's reading applies
        keep_alive = "close" not in options  # "keep-alive, close" closes, as for aiohttp
    return RequestHead(line[1].decode("ascii"), line[2].decode("ascii"), fields, keep_alive)


_PLAIN_OPTIONS = frozenset(("close", "keep-alive"))


def _options(value: str) -> set[str]:
    """The connection options of a ``Connection`` value (a comma list, any case, OWS)."""
    return {option.strip(" \t") for option in value.lower().split(",")} - {""}


def close_cut(data: bytes) -> int | None:
    """Where a chunk of pipelined request heads should end: just after the first head that
    asks to close the connection (``Connection: close``, or ``keep-alive, close``).

    aiohttp's parser answers 400, and drops every request of the chunk, when bytes follow a
    head asking to close in the same chunk ("Data after Connection: close"); nginx answers
    that request and closes. Cutting the chunk there gives nginx's answer on both paths.
    ``data`` must start at a head; None when no cut is needed or it cannot be framed (a
    head before the closing one announces a body). Linear: each head is looked at once."""
    start, size = 0, len(data)
    while True:
        end = data.find(b"\r\n\r\n", start)
        if end < 0 or end + 4 >= size:
            return None  # the last head ends the chunk (or is cut): nothing follows it
        asks_close = False
        for line in data[start:end].split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name in (b"content-length", b"transfer-encoding"):
                return None
            if name == b"connection" and "close" in _options(value.decode("latin-1")):
                asks_close = True
        if asks_close:
            return end + 4
        start = end + 4


def stream_target(target: str) -> tuple[str, str] | None:
    """``(video id, query)`` when ``target`` is a stream URL written plainly, else None.
    A fragment, an escape or a dot segment does not match: aiohttp normalises those."""
    match = _STREAM.fullmatch(target)
    if match is None or "#" in target:
        return None
    return match[1], match[2] or ""


def query_value(query: str, name: str) -> str | None:
    """The first value of ``name`` in a query string, percent-decoded (as aiohttp reads
    ``request.query``); None when absent."""
    if name not in query:
        return None
    for key, value in parse_qsl(query, keep_blank_values=True):
        if key == name:
            return value
    return None


def cookie_value(header: str, name: str) -> str | None:
    """The value of cookie ``name`` in a ``Cookie`` field (quotes removed); None when absent
    or sent twice (aiohttp keeps the last, a reading the fast path leaves to it)."""
    found = None
    for pair in header.split(";"):
        key, sep, value = pair.strip().partition("=")
        if sep and key == name:
            if found is not None:
                return None
            value = value.strip()
            if len(value) >= 2 and value[0] == value[-1] == '"':
                value = value[1:-1]
            found = value
    return found
