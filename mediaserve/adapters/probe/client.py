"""The probe's HTTP client: aiohttp, configured to report what the server did, not to hide it.

aiohttp is told not to help: no transparent decompression (Content-Length must be compared
with the bytes on the wire), ``Accept-Encoding: identity`` by default, no redirects unless
asked. Every wait is bounded (see :func:`new_session`), so a server that trickles bytes
cannot hold the probe, and error text from the server's side is cut to one short line.
Every exchange is timed with ``time.perf_counter``: time to the parsed header section
(what curl calls time-to-first-byte) and to the last content byte. New TCP connections are
counted through a trace config, so keep-alive can be checked and a seek run can say how many
connections it needed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from types import SimpleNamespace

import aiohttp

from mediaserve import __version__
from mediaserve.adapters.probe.content import Content
from mediaserve.core.probe.bytecheck import ByteCheck, comparable_offset
from mediaserve.core.probe.exchange import Body, End, Exchange
from mediaserve.core.probe.verdicts import ReadBytes

__all__ = [
    "DEFAULT_HEADERS",
    "ConnectionStats",
    "NetworkError",
    "NetworkErrorKind",
    "fetch",
    "merge_headers",
    "new_session",
]

DEFAULT_HEADERS: tuple[tuple[str, str], ...] = (
    ("User-Agent", f"mediaserve-probe/{__version__}"),
    ("Accept-Encoding", "identity"),
)

PACE_BYTES = 64 * 1024  # content must bring this much (or its end) per timeout period
_MESSAGE_CHARS = 200


def _one_line(text: str) -> str:
    """Server-provoked text (parser errors quote the offending bytes) as one short line."""
    line = " ".join(text.split())
    return line if len(line) <= _MESSAGE_CHARS else line[:_MESSAGE_CHARS - 1] + "…"


class NetworkErrorKind(StrEnum):
    """Why no response arrived (the value is what ``--json`` prints as ``error.kind``)."""

    CONNECT = "connect"  # refused, unreachable, DNS
    TIMEOUT = "timeout"  # nothing (or too little) within --timeout
    DISCONNECTED = "disconnected"  # the server closed the connection before a status line
    PROTOCOL = "protocol"  # an answer that is not HTTP, or too many redirects


class NetworkError(Exception):
    """No response at all: connection refused, DNS, reset before the status line, timeout."""

    def __init__(self, kind: NetworkErrorKind, message: str) -> None:
        super().__init__(_one_line(message))
        self.kind = kind


_Kind = NetworkErrorKind


@dataclass(slots=True)
class ConnectionStats:
    opened: int = 0  # TCP connections the session created


def _tracer(stats: ConnectionStats) -> aiohttp.TraceConfig:
    trace = aiohttp.TraceConfig()

    async def created(_session: object, ctx: SimpleNamespace, _params: object) -> None:
        stats.opened += 1
        if isinstance(ctx.trace_request_ctx, SimpleNamespace):
            ctx.trace_request_ctx.new_connection = True

    trace.on_connection_create_end.append(created)
    return trace


def new_session(*, limit: int, timeout: float, stats: ConnectionStats) -> aiohttp.ClientSession:
    """A session whose pool holds at most ``limit`` keep-alive connections.

    ``timeout`` bounds connecting plus the whole response header section, each wait for
    data, and each ``PACE_BYTES`` of content (:func:`fetch` enforces the last and first): a
    1 GB answer that keeps flowing is not a timeout; a server that stalls for ``timeout`` s,
    or trickles a byte at a time, is. One exchange thus lasts at most about
    ``timeout * (2 + max_body / PACE_BYTES)`` seconds.
    """
    connector = aiohttp.TCPConnector(limit=limit, limit_per_host=limit, force_close=False,
                                     keepalive_timeout=60)
    return aiohttp.ClientSession(
        connector=connector,
        timeout=aiohttp.ClientTimeout(total=None, connect=timeout, sock_connect=timeout,
                                      sock_read=timeout),
        trace_configs=[_tracer(stats)],
        auto_decompress=False,
        skip_auto_headers=("Accept-Encoding", "User-Agent"),
    )


def merge_headers(*layers: Sequence[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    """Later layers replace earlier fields of the same name (case-insensitive); a name
    repeated inside one layer is sent repeated."""
    merged: list[tuple[str, str]] = []
    for layer in layers:
        names = {name.lower() for name, _ in layer}
        merged = [(n, v) for n, v in merged if n.lower() not in names]
        merged.extend(layer)
    return tuple(merged)


async def fetch(session: aiohttp.ClientSession, method: str, url: str,
                headers: Sequence[tuple[str, str]], *, max_body: int,
                max_other_body: int | None = None, follow: bool = False,
                reference: ReadBytes | None = None) -> Exchange:
    """Send one request and read its answer into an :class:`Exchange`.

    Reading stops after ``max_body`` bytes (``max_other_body`` for a status other than 206,
    e.g. 0 in a seek run, where a 200 would otherwise stream the whole file) and the
    connection is then dropped rather than drained. Raises NetworkError when no response
    header section arrives; a failure later is recorded in the exchange (``end``).

    With a ``reference``, content the judges would compare as one piece (a 200, a single-part
    206) is compared as it arrives and not kept (``Exchange.checked``); a multipart answer is
    kept for parsing; content of other statuses, which no judge reads, is only counted.
    """
    ctx = SimpleNamespace(new_connection=False)
    sent = merge_headers(DEFAULT_HEADERS, headers)
    timeout = session.timeout.sock_read or 10.0  # new_session's ``timeout``
    start = time.perf_counter()
    try:
        async with asyncio.timeout(timeout):  # connecting and the whole header section
            resp = await session.request(method, url, headers=list(sent),
                                         allow_redirects=follow, max_redirects=10,
                                         trace_request_ctx=ctx)
        async with resp:
            ttfb = time.perf_counter() - start
            received = tuple((k.decode("latin-1"), v.decode("latin-1"))
                             for k, v in resp.raw_headers)
            body: Body = b""
            released, check = 0, None  # check: a ByteCheck while content is compared
            end, detail = End.COMPLETE, ""
            if method == "HEAD" or resp.status in (204, 304) or resp.status < 200:
                end = End.NONE
            else:
                limit = max_body if max_other_body is None or resp.status == 206 else (
                    max_other_body)
                offset = comparable_offset(resp.status, received)
                if reference is not None and offset is not None:
                    check = ByteCheck(offset, reference)
                content = Content(limit, resp.content_length, check=check,
                                  keep=resp.status in (200, 206))
                end, detail = await _read(resp, content, timeout)
                body = content.body()
                released = 0 if content.kept else len(content)
                if end != End.COMPLETE:
                    resp.close()  # unread content left on the socket: never reuse it
            total = time.perf_counter() - start
            return Exchange(
                method=method, url=str(resp.url), request_headers=sent, status=resp.status,
                reason=resp.reason or "", headers=received, body=body, end=end,
                end_detail=detail, ttfb=ttfb, total=total,
                http_version=f"HTTP/{resp.version.major}.{resp.version.minor}"
                if resp.version else "", new_connection=ctx.new_connection,
                released=released, checked=check.result() if check else None)
    except TimeoutError as exc:
        raise NetworkError(_Kind.TIMEOUT, f"no response within the timeout ({url})") from exc
    except aiohttp.ClientConnectorError as exc:
        raise NetworkError(_Kind.CONNECT, f"cannot connect to {exc.host}:{exc.port}: "
                                          f"{exc.os_error.strerror or exc.os_error}") from exc
    except aiohttp.ServerDisconnectedError as exc:
        raise NetworkError(_Kind.DISCONNECTED, "the server closed the connection without "
                                               "a response") from exc
    except aiohttp.TooManyRedirects as exc:
        raise NetworkError(_Kind.PROTOCOL, "more than 10 redirects") from exc
    except aiohttp.ClientResponseError as exc:
        raise NetworkError(_Kind.PROTOCOL, f"malformed response: {exc.message}") from exc
    except aiohttp.ClientError as exc:
        raise NetworkError(_Kind.PROTOCOL, f"{type(exc).__name__}: {exc}") from exc


async def _read(resp: aiohttp.ClientResponse, body: Content,
                timeout: float) -> tuple[End, str]:
    """Read content into ``body`` up to its limit; returns ``(end, detail)``.

    Besides the session's per-read timeout, the content must keep pace: the n-th
    ``PACE_BYTES`` must have arrived within ``n * timeout`` seconds of the header section.
    """
    loop = asyncio.get_running_loop()
    begun = loop.time()
    try:
        while True:
            deadline = begun + timeout * (1 + len(body) // PACE_BYTES)
            try:
                async with asyncio.timeout_at(deadline):
                    chunk = await resp.content.readany()
            except TimeoutError:
                if loop.time() < deadline:
                    raise  # the per-read timeout: a stall
                return End.TRUNCATED, (f"too slow: {len(body)} bytes in "
                                       f"{loop.time() - begun:.1f} s, less than "
                                       f"{PACE_BYTES // 1024} KiB per {timeout:g} s")
            if not chunk:
                return End.COMPLETE, ""
            room = body.limit - len(body)
            if len(chunk) > room:
                body.append(chunk[:room])
                return End.CAPPED, f"more than {body.limit} bytes"
            body.append(chunk)
    except TimeoutError:
        return End.TRUNCATED, "timed out waiting for content"
    except aiohttp.ClientPayloadError as exc:
        return End.TRUNCATED, _one_line(str(exc.__cause__ or exc)) or "content cut short"
    except aiohttp.ClientError as exc:
        return End.TRUNCATED, _one_line(f"{type(exc).__name__}: {exc}")
