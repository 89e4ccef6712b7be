"""The send timeout: a response that makes no write progress for N seconds is dropped.

A client that stops reading mid-body keeps its socket, and the stream its file descriptor,
for as long as it stays connected: 500 such clients exhaust a 1,024-descriptor limit. nginx's
``send_timeout`` bounds the time between two successful writes; we bound the time without
*progress*, which is the same thing observed from outside the write calls, because
``loop.sendfile`` (the zero-copy path) writes inside asyncio where no callback of ours runs.

Progress is what the body meter counted plus what the peer acknowledged (Linux ``TCP_INFO``
``tcpi_bytes_acked``): a slow but live reader acknowledges bytes all the time, a stalled one
acknowledges none, whichever path (sendfile, chunks, TLS) is writing. A dropped connection is
reset (``SO_LINGER`` 0, like nginx's ``reset_timedout_connection``), so the kernel frees its
buffers at once instead of probing a zero window for minutes.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from collections.abc import Callable
from typing import Any

# struct tcp_info (linux/tcp.h): 8 one-byte fields, 24 u32, 2 u64 (pacing rates), then
# tcpi_bytes_acked (u64, since Linux 4.1)
_BYTES_ACKED_AT = 120
_TCP_INFO = getattr(socket, "TCP_INFO", None)
_LINGER_RESET = struct.pack("ii", 1, 0)


def bytes_acked(sock: Any) -> int:
    """Bytes the peer has acknowledged on ``sock``; -1 where the kernel does not say."""
    if sock is None or _TCP_INFO is None:
        return -1
    try:
        info = sock.getsockopt(socket.IPPROTO_TCP, _TCP_INFO, _BYTES_ACKED_AT + 8)
    except (OSError, ValueError, TypeError):
        return -1
    if len(info) < _BYTES_ACKED_AT + 8:
        return -1
    return int(struct.unpack_from("Q", info, _BYTES_ACKED_AT)[0])


def reset_on_close(transport: asyncio.BaseTransport | None) -> None:
    """Make the coming close a reset: unsent data is dropped, the peer gets RST."""
    sock = transport.get_extra_info("socket") if transport is not None else None
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)


def check_interval(timeout: float) -> float:
    """How often progress is looked at: a quarter of the timeout, within 50 ms and 5 s."""
    return min(max(timeout / 4, 0.05), 5.0)


class SendTimeout:
    """``async with SendTimeout(transport, meter, seconds):`` raises ``TimeoutError`` out of
    the block once neither ``meter.sent`` nor the peer's acknowledged bytes moved for
    ``seconds``. Built on ``asyncio.timeout``, so an outside cancellation (shutdown) is never
    mistaken for the timeout. Costs one timer per response, and nothing per write."""

    __slots__ = ("_handle", "_interval", "_last", "_loop", "_meter", "_scope", "_since",
                 "_sock", "expired", "timeout")

    def __init__(self, transport: asyncio.BaseTransport | None, meter: Any,
                 timeout: float) -> None:
        self._sock = transport.get_extra_info("socket") if transport is not None else None
        self._meter = meter
        self.timeout = timeout
        self.expired = False
        self._interval = check_interval(timeout)

    async def __aenter__(self) -> SendTimeout:
        self._loop = asyncio.get_running_loop()
        self._scope = asyncio.timeout(None)
        await self._scope.__aenter__()
        self._last = self._progress()
        self._since = self._loop.time()
        self._handle = self._loop.call_later(self._interval, self._check)
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        self._handle.cancel()
        await self._scope.__aexit__(*exc_info)  # turns its own cancellation into TimeoutError

    def _progress(self) -> tuple[int, int]:
        return self._meter.sent, bytes_acked(self._sock)

    def _check(self) -> None:
        now = self._loop.time()
        progress = self._progress()
        if progress != self._last:
            self._last, self._since = progress, now
        elif now - self._since >= self.timeout:
            self.expired = True
            self._scope.reschedule(now)  # cancels the task; TimeoutError leaves the block
            return
        self._handle = self._loop.call_later(self._interval, self._check)


class StallWatch:
    """While a transport's buffer is full: reset its connection once the client has
    acknowledged nothing for ``timeout`` seconds (what aiohttp writes through a transport;
    bodies sent with ``sendfile`` have :class:`SendTimeout`). ``stop()`` when it drains."""

    __slots__ = ("_handle", "_last", "_loop", "_on_reset", "_since", "_transport", "timeout")

    def __init__(self, transport: Any, timeout: float, on_reset: Callable[[], None]) -> None:
        self._loop = asyncio.get_running_loop()
        self._transport = transport
        self.timeout = timeout
        self._on_reset = on_reset
        self._last = bytes_acked(transport.get_extra_info("socket"))
        self._since = self._loop.time()
        self._handle = self._loop.call_later(check_interval(timeout), self._check)

    def _check(self) -> None:
        transport = self._transport
        if transport.is_closing():
            return
        now = self._loop.time()
        acked = bytes_acked(transport.get_extra_info("socket"))
        if acked != self._last:
            self._last, self._since = acked, now
        elif now - self._since >= self.timeout:
            reset_on_close(transport)
            transport.abort()
            self._on_reset()
            return
        self._handle = self._loop.call_later(check_interval(self.timeout), self._check)

    def stop(self) -> None:
        self._handle.cancel()
