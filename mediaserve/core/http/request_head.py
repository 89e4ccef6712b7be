"""One HTTP/1.1 request head, read strictly: how the connection frames every request.

The connection (``adapters/server/net/connection.py``) reads each request head with
:func:`read_head` before anything else sees it: the answer says where the request ends (no
body, a ``Content-Length`` body or a chunked one), whether the connection stays open, and
whether the stream fast path may answer it (``plain``). Everything that is not plain is
handed, byte for byte, to aiohttp, which parses it again; so this reader must never frame a
request differently from aiohttp's parser: what it cannot frame without doubt (two lengths, a
length beside a transfer coding, a coding other than ``chunked``, a folded or malformed line,
a bare LF) it refuses with a 4xx and the connection closes, as nginx does.

The reader is narrow where the fast path is concerned: a head is ``plain`` only when it is a
bodiless ``GET``/``HEAD`` over HTTP/1.1 with a ``Host``, no field the server reads sent twice,
and a ``Connection`` of plain ``close``/``keep-alive`` tokens. A head that is well formed but
not plain goes to aiohttp unchanged: declining costs a few microseconds, reading a request
differently from the reference path would be a bug.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qsl

#: aiohttp's own limit for one line (the request line or one field line)
MAX_LINE = 8190
#: a whole head; nginx's default buffers hold 4 x 8 KiB
MAX_HEAD = 32768
#: aiohttp refuses more than 128 fields; a player sends a dozen
MAX_FIELDS = 100
#: the body length of a chunked request (its end is found by :mod:`.chunked`)
CHUNKED = -1

_TOKEN = rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_REQUEST_LINE = re.compile(rb"(" + _TOKEN + rb") ([!-~]+) HTTP/([0-9])\.([0-9])")
_OLD_LINE = re.compile(rb"(" + _TOKEN + rb") ([!-~]+)")  # HTTP/0.9: no version
# every field line at once: token ":" then visible ASCII, blanks or obs-text, each ended by CRLF
_FIELDS = re.compile(rb"(?:" + _TOKEN + rb":[\t\x20-\x7e\x80-\xff]*\r\n)*")
#: fields that make a request something other than a bodiless GET for the fast path
_NOT_PLAIN = frozenset(("content-length", "transfer-encoding", "expect", "upgrade",
                        "http2-settings"))
#: the conditional fields the range evaluator reads beside Range (``ranges.Conditionals``):
#: a request with none of them is a plain seek (``ranges.evaluate_range``)
CONDITIONAL = frozenset(("if-range", "if-match", "if-none-match", "if-modified-since",
                         "if-unmodified-since"))
#: fields the server reads: a second copy of one is ambiguous, so aiohttp decides
READ = CONDITIONAL | frozenset(("host", "range", "authorization", "cookie", "connection",
                                "origin", "referer", "user-agent"))
_STREAM = re.compile(r"/api/videos/([0-9a-f]{12,64})/stream(?:\?([!-~]*))?")
#: an HLS file of the segment cache: id, variant, the file (``seg-N``: N without leading zeros,
#: the one spelling of the number the aiohttp route's folder holds), query
_SEGMENT = re.compile(r"/api/videos/([0-9a-f]{12,64})/hls/([a-z0-9]{1,12})/"
                      r"(init\.mp4|seg-(?:0|[1-9][0-9]{0,5})\.m4s)(?:\?([!-~]*))?")
_DIGITS = re.compile(r"[0-9]{1,18}")
#: an instance without its ``__init__`` (see read_head)
_bare = object.__new__


class HeadError(ValueError):
    """A head the connection answers itself (and then closes): ``status`` and a message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(slots=True)  # not frozen: a frozen __init__ costs a microsecond per request
class RequestHead:
    """A framed request head: field names are lower-case, values stripped of blanks."""

    method: str
    target: str  # as sent: path and query
    fields: dict[str, str]
    keep_alive: bool  # False after ``Connection: close`` (or HTTP/1.0 without keep-alive)
    minor: int = 1  # HTTP/1.minor
    body: int = 0  # bytes of body (Content-Length), or CHUNKED
    plain: bool = True  # the stream fast path may answer it (see the module's docstring)


def read_head(data: bytes) -> RequestHead:
    """``data`` is exactly one head, its blank line included. Raises :class:`HeadError`."""
    size = len(data)
    end = data.find(b"\r\n")
    if end > MAX_LINE:
        raise HeadError(414, "the request line is too long")
    line = _REQUEST_LINE.fullmatch(data, 0, end)
    if line is None:
        raise _line_error(data[:end])
    if size > MAX_HEAD:
        raise HeadError(431, "the request head is too large")
    if _FIELDS.fullmatch(data, end + 2, size - 2) is None:
        raise _field_error(data[end + 2:size - 2])
    raw_method, target, major_d, minor_d = line.groups()  # one call, not six line[i]
    if major_d != b"1" or minor_d not in (b"1", b"0"):
        raise _version_error(int(major_d), int(minor_d))
    minor = 1 if minor_d == b"1" else 0
    if target[:1] != b"/" and not _other_target(raw_method, target):
        raise HeadError(400, "malformed request target")
    block = data[end + 2:size - 4].decode("utf-8", "surrogateescape")  # as aiohttp reads it
    fields: dict[str, str] = {}
    plain = minor == 1
    if block:
        lines = block.split("\r\n")
        if len(lines) > MAX_FIELDS:
            raise HeadError(431, f"more than {MAX_FIELDS} header fields")
        long = len(block) > MAX_LINE  # else no line can be too long: no len() per line
        for raw in lines:
            if long and len(raw) > MAX_LINE:
                raise HeadError(431, "a header field is too long")
            name, _, value = raw.partition(":")
            name = name.lower()
            value = value.strip(" \t")
            if name in fields:
                if name in READ:
                    plain = False
                value = _repeated(name, fields[name], value)
            fields[name] = value
    method = raw_method.decode("ascii")
    if plain and (method not in ("GET", "HEAD") or "host" not in fields
                  or target[:1] != b"/" or not _NOT_PLAIN.isdisjoint(fields)):
        plain = False
    # filled field by field on a bare instance: the dataclass's generated __init__ is a
    # Python call that costs more than the seven stores it makes (callgrind)
    head = _bare(RequestHead)
    head.method = method
    head.target = target.decode("ascii")
    head.fields = fields
    head.keep_alive = minor == 1
    head.minor = minor
    head.body = 0
    head.plain = plain
    if plain and fields.get("connection", "keep-alive") == "keep-alive":
        return head  # _frame's first case, known already: HTTP/1.1, a Host, no body
    _frame(head)
    return head


def _other_target(method: bytes, target: bytes) -> bool:
    """The request-target forms besides origin-form ``/path`` a server must accept (RFC 9112
    §3.2): absolute-form ``http(s)://...``, and ``*`` for ``OPTIONS``. Anything else (a
    relative path, ``authority-form``: this is no proxy) is refused here, not left to a
    router that would fail on it."""
    if target == b"*":
        return method == b"OPTIONS"
    lowered = target[:8].lower()
    return lowered.startswith(b"http://") or lowered == b"https://"


def _repeated(name: str, first: str, second: str) -> str:
    """The value of a field sent twice: lengths must agree, others combine (RFC 9110 §5.3)."""
    if name == "content-length":  # even an equal one: llhttp (aiohttp's parser) refuses it
        raise HeadError(400, "more than one Content-Length field")
    if name == "host":
        raise HeadError(400, "more than one Host field")
    return f"{first}; {second}" if name == "cookie" else f"{first}, {second}"


def _frame(head: RequestHead) -> None:
    """Where the body ends and whether the connection stays open (RFC 9112 §6, §9.3)."""
    fields = head.fields
    connection = fields.get("connection")
    if (head.minor == 1 and "host" in fields and "transfer-encoding" not in fields
            and "content-length" not in fields
            and (connection is None or connection == "keep-alive")):
        return  # a bodiless HTTP/1.1 request that keeps the connection: nothing to decide
    coding = fields.get("transfer-encoding")
    length = fields.get("content-length")
    if coding is not None:
        if length is not None:
            raise HeadError(400, "Content-Length beside Transfer-Encoding")
        if head.minor == 0:
            raise HeadError(400, "Transfer-Encoding in an HTTP/1.0 request")
        if coding.lower() != "chunked":
            raise HeadError(501, f"transfer coding {coding[:40]!r} is not supported")
        head.body = CHUNKED
    elif length is not None:
        if _DIGITS.fullmatch(length) is None:
            raise HeadError(400, "Content-Length is not a number")
        head.body = int(length)
    if head.minor == 1 and "host" not in fields:
        raise HeadError(400, "an HTTP/1.1 request needs a Host field")
    connection = fields.get("connection")
    if connection is not None:
        tokens = {token.strip(" \t").lower() for token in connection.split(",")} - {""}
        if "close" in tokens:
            head.keep_alive = False
        elif "keep-alive" in tokens:
            head.keep_alive = True
        if head.plain and (not tokens or not tokens <= {"close", "keep-alive"}):
            head.plain = False  # "Upgrade" and other options: aiohttp's reading applies


def check_request_line(line: bytes) -> HeadError | None:
    """The verdict on a request line as soon as it is complete (CRLF excluded), before the
    rest of its head: an HTTP/0.9 line never sends a head to wait for, and an HTTP/2 preface
    must not be answered in HTTP/1 framing. None: wait for the head."""
    match = _REQUEST_LINE.fullmatch(line)
    if match is None:
        return _line_error(line)
    major, minor = int(match[3]), int(match[4])
    return _version_error(major, minor) if major != 1 or minor > 1 else None


def _version_error(major: int, minor: int) -> HeadError:
    if major >= 2:
        return HeadError(505, f"HTTP/{major}.{minor} is not supported here; use HTTP/1.1")
    if major == 0:
        return HeadError(400, "HTTP/0.9 request lines are not supported")
    return HeadError(400, f"HTTP/{major}.{minor} is not a version this server speaks")


def _line_error(line: bytes) -> HeadError:
    if _OLD_LINE.fullmatch(line) is not None:
        return HeadError(400, "HTTP/0.9 request lines are not supported")
    if b"\n" in line or b"\r" in line:
        return HeadError(400, "a line ends without CRLF")
    return HeadError(400, "malformed request line")


def _field_error(block: bytes) -> HeadError:
    for number, raw in enumerate(block.split(b"\r\n"), 1):
        if raw[:1] in (b" ", b"\t"):
            return HeadError(400, f"header line {number} is folded (obs-fold)")
        if b"\n" in raw or b"\r" in raw:
            return HeadError(400, f"header line {number} ends without CRLF")
        if raw and re.fullmatch(_TOKEN + rb":[\t\x20-\x7e\x80-\xff]*", raw) is None:
            return HeadError(400, f"header line {number} is malformed")
    return HeadError(400, "malformed header section")


def parse_head(data: bytes) -> RequestHead | None:
    """A head the stream fast path may answer, or None (malformed, or not plain)."""
    try:
        head = read_head(data)
    except HeadError:
        return None
    return head if head.plain else None


def stream_target(target: str) -> tuple[str, str] | None:
    """``(video id, query)`` when ``target`` is a stream URL written plainly, else None.
    A fragment, an escape or a dot segment does not match: aiohttp normalises those."""
    match = _STREAM.fullmatch(target)
    if match is None or "#" in target:
        return None
    return match[1], match[2] or ""


def segment_target(target: str) -> tuple[str, str, str, str] | None:
    """``(video id, variant, file name, query)`` when ``target`` is an HLS segment or init
    segment URL written plainly (``/api/videos/ID/hls/VARIANT/seg-N.m4s?v=...``), else None.
    Like :func:`stream_target`, anything aiohttp would normalise does not match."""
    match = _SEGMENT.fullmatch(target)
    if match is None or "#" in target:
        return None
    return match[1], match[2], match[3], match[4] or ""


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
