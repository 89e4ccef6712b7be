"""aiohttp's own request parser (llhttp, or its Python twin), as the property tests consult it:
what the connection frames must be framed the same way by the parser aiohttp will use."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp.http_parser import HttpRequestParser


class _Protocol:
    transport = None

    def pause_reading(self) -> None: ...

    def resume_reading(self, **_: object) -> None: ...


def aiohttp_parse(data: bytes) -> tuple[list[Any], bool, bytes] | None:
    """``(messages, upgraded, tail)`` as aiohttp's parser reads ``data``; None when it
    refuses it (aiohttp then answers 400 and closes)."""
    loop = asyncio.new_event_loop()
    try:
        parser = HttpRequestParser(_Protocol(), loop, 2**16, max_line_size=8190,
                                   max_field_size=8190)
        try:
            messages, upgraded, tail = parser.feed_data(data)
        except Exception:
            return None
    finally:
        loop.close()
    return messages, upgraded, tail
