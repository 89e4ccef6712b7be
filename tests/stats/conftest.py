"""A real ``mediaserve serve`` child with a little known traffic, shared by the module."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from benchmarks.peers import run_mediaserve
from tests.conftest import Corpus

CLIP = "h264_aac_faststart.mp4"


@dataclass
class Live:
    base: str  # http://127.0.0.1:PORT
    video_id: str
    name: str


def _request(url: str, headers: dict[str, str] | None = None, data: bytes | None = None,
             method: str = "GET") -> bytes:
    req = urllib.request.Request(url, headers=headers or {}, data=data, method=method)
    with urllib.request.urlopen(req, timeout=10) as resp:
        return resp.read()


@pytest.fixture(scope="module")
def live_server(corpus: Corpus, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    """One clip served by a child process; three 1000-byte ranges and a seek report sent."""
    corpus.require(CLIP)
    folder: Path = corpus.copy_to(tmp_path_factory.mktemp("stats-lib"), [CLIP])
    with run_mediaserve(folder) as base:
        listing = json.loads(_request(f"{base}/api/videos"))
        video = listing["videos"][0]
        stream = f"{base}/api/videos/{video['id']}/stream"
        for first in (0, 1000, 2000):
            _request(stream, {"Range": f"bytes={first}-{first + 999}"})
        _request(f"{base}/api/videos/{video['id']}/seek-analytics",
                 {"Content-Type": "application/json"}, b'{"positions": [0.5, 1.0]}', "POST")
        yield Live(base, video["id"], video["name"])
