"""Clips of every kind issue 19 lists, generated with PyAV once per session, and a real
server on a loopback port that an HLS client (Debian's ffmpeg) can play them from."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import pytest
from aiohttp import web

from mediaserve.adapters.library.scanner import scan
from mediaserve.adapters.library.store import load_index_if_exists
from mediaserve.adapters.media.clips import ClipSpec, encode_clip
from mediaserve.adapters.playback.routes import PLAYBACK
from mediaserve.adapters.server import create_app
from mediaserve.core.config.settings import Settings
from mediaserve.core.library.index import LibraryIndex

SECONDS, FPS = 6.0, 10
FRAMES = round(SECONDS * FPS)
#: name -> (video encoder, audio encoder); keyframes every 2 s (encode_clip's g = 2 * fps)
KINDS: dict[str, tuple[str | None, str | None]] = {
    "h264_aac.mp4": ("libx264", "aac"),
    "h264_aac.mkv": ("libx264", "aac"),
    "h264_ac3.mkv": ("libx264", "ac3"),
    "hevc_aac.mp4": ("libx265", "aac"),
    "hevc_aac.mkv": ("libx265", "aac"),
    "mpeg4_mp3.avi": ("mpeg4", "libmp3lame"),
    "vp9_opus.webm": ("libvpx-vp9", "libopus"),
    "ac3_only.mkv": (None, "ac3"),
}


@dataclass
class Clips:
    root: Path
    missing: dict[str, str]

    def require(self, name: str) -> Path:
        if name in self.missing:
            pytest.skip(self.missing[name])
        return self.root / name


@pytest.fixture(scope="session")
def clips(tmp_path_factory: pytest.TempPathFactory) -> Clips:
    root = tmp_path_factory.mktemp("kinds")
    missing = {}
    for name, (video, audio) in KINDS.items():
        absent = [c for c in (video, audio) if c and c not in av.codecs_available]
        if absent:
            missing[name] = f"{name}: encoder {', '.join(absent)} not in this PyAV build"
            continue
        encode_clip(root, ClipSpec(name, video_codec=video, audio_codec=audio, seconds=SECONDS,
                                   fps=FPS))
    return Clips(root, missing)


@dataclass
class Served:
    app: web.Application
    base: str
    index: LibraryIndex
    root: Path

    def id(self, name: str) -> str:
        return next(vid for vid, e in self.index.videos.items() if e.path == name)

    def url(self, path: str) -> str:
        return self.base + path

    def hls(self, name: str, rest: str) -> str:
        return self.url(f"/api/videos/{self.id(name)}/hls/{rest}")

    @property
    def service(self) -> Any:
        return self.app[PLAYBACK]


@pytest.fixture
def ffmpeg() -> str:
    found = shutil.which("ffmpeg")
    if found is None:
        pytest.skip("Debian's ffmpeg is not installed (scripts/dev test installs it)")
    return found


@pytest.fixture
async def hls_server(tmp_path: Path, data_dir: Path, clips: Clips, aiohttp_server: Any
                     ) -> AsyncIterator[Callable[..., Any]]:
    """``await start(names, copies=..., **settings)``: a library of those clips (``copies``
    maps new names to clips) served on a real loopback port."""

    async def start(names: list[str], copies: dict[str, str] | None = None,
                    **settings: Any) -> Served:
        root = tmp_path / "library"
        root.mkdir(exist_ok=True)
        for name in names:
            shutil.copy2(clips.require(name), root / name)
        for name, source in (copies or {}).items():
            shutil.copy2(clips.require(source), root / name)
        old = load_index_if_exists(root / ".mediaserve-index.toml")  # one prepare wrote
        index, _summary = await asyncio.get_running_loop().run_in_executor(
            None, lambda: scan(root, old, workers=1))
        app = create_app(index, root, Settings(access_log="off", **settings), follow=False)
        server = await aiohttp_server(app)
        return Served(app, str(server.make_url("")).rstrip("/"), index, root)

    yield start


async def ffmpeg_play(ffmpeg: str, url: str) -> dict[str, str]:
    """Decode ``url`` whole with ffmpeg as the HLS client; its last progress block."""
    process = await asyncio.create_subprocess_exec(
        ffmpeg, "-nostdin", "-v", "error", "-i", url, "-map", "0", "-f", "null",
        "-progress", "pipe:1", "-nostats", "-", stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode == 0, err.decode()
    progress: dict[str, str] = {}
    for line in out.decode().splitlines():
        key, _, value = line.partition("=")
        progress[key] = value
    progress["stderr"] = err.decode()
    return progress


async def get(session: Any, url: str, **kwargs: Any) -> tuple[int, Any, Any]:
    async with session.get(url, **kwargs) as response:
        body = await response.read()
        try:
            data = json.loads(body) if response.content_type == "application/json" else body
        except ValueError:
            data = body
        return response.status, response.headers, data


def alive(pid: int) -> bool:
    """The process runs (a zombie, exited and not yet reaped, does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as handle:
        return handle.read().rsplit(")", 1)[1].split()[0] != "Z"


async def until(check: Callable[[], Any], timeout: float = 30.0) -> None:
    """Wait for ``check()`` to hold; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out waiting"
        await asyncio.sleep(0.05)
