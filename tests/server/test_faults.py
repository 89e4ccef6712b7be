"""Faults that cannot be produced for real on demand, injected at one seam."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import aiohttp
import pytest

import mediaserve.adapters.server.stream.job as stream
from mediaserve.adapters.library.scanner import scan
from mediaserve.adapters.server import create_app


async def test_a_bug_mid_body_drops_the_connection_instead_of_a_500_in_the_body(
        tmp_path: Path, aiohttp_client: Any, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "v.mp4").write_bytes(bytes(range(256)) * 4096)  # 1 MiB
    index, _ = scan(tmp_path, None)
    client = await aiohttp_client(create_app(index, tmp_path))

    async def broken(*args: Any, **kwargs: Any) -> int:
        raise RuntimeError("injected bug")

    monkeypatch.setattr(stream, "send_span", broken)
    monkeypatch.setattr(stream, "write_span_chunked", broken)
    url = f"/api/videos/{index.by_path()['v.mp4'].id}/stream"
    with caplog.at_level(logging.ERROR, logger="mediaserve"):
        response = await client.get(url, headers={"Range": "bytes=0-99999"})
        assert response.status == 206  # the headers had left before the bug
        with pytest.raises(aiohttp.ClientPayloadError):
            await response.read()
    assert "unexpected error mid-body" in caplog.text
    assert b"internal error" not in caplog.text.encode()

    monkeypatch.undo()  # the server is still fine for the next client
    response = await client.get(url, headers={"Range": "bytes=10-19"})
    assert response.status == 206
    assert await response.read() == bytes(range(10, 20))
