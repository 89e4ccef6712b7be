"""Shared fixtures for the browser tests: one library of real clips per test process, one
server over it, and one Chromium per module.

The big clips are ~25 MB of noise video with a keyframe every 2 s, because Chromium fetches
a file of ~3 MB or less whole and a seek test on such a file tests nothing. The small ones
cover what the page must explain: an HEVC file, a truncated copy, an empty file, one that
vanished after the scan, subtitles beside a video, and a folder of episodes.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import av
import pytest

from benchmarks.peers import run_mediaserve
from mediaserve.adapters.media.clips import ClipSpec, encode_clip

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--autoplay-policy=no-user-gesture-required"]

BIG = dict(seconds=16, fps=25, width=320, height=240, noise=True)  # ~17-19 MB each
FASTSTART = ClipSpec("Noise Test.mp4", **BIG)
MOOV_AT_END = ClipSpec("Noise moov-at-end.mp4", faststart=False, **BIG)
WEBM = ClipSpec("Noise Test.webm", video_codec="libvpx-vp9", audio_codec="libopus", **BIG)
BIG_CLIPS = (FASTSTART, MOOV_AT_END, WEBM)
SMALL = dict(seconds=6, fps=25, width=320, height=180)
EPISODES = tuple(ClipSpec(f"Series/Show.S01E0{n}.720p.x264.mp4", **SMALL) for n in (1, 2, 3))
HEVC = ClipSpec("Camera/HEVC clip.mp4", video_codec="libx265", **SMALL)
SUBBED = ClipSpec("Subbed Movie (2019).mp4", **SMALL)
SOURCE_OF_TRUNCATED = ClipSpec("Broken/cut short.mp4", **SMALL)
EMPTY = "Broken/empty.mp4"
GONE = "Broken/gone.mp4"

SRT = """1
00:00:00,500 --> 00:00:04,000
Hello from <i>SubRip</i>

2
00:00:04,200 --> 00:00:05,900
Second line
"""
VTT = "WEBVTT\n\n00:00.500 --> 00:04.000\nBonjour\n"

playwright_sync = pytest.importorskip("playwright.sync_api", reason="playwright not installed")


def _chromium_missing() -> bool:
    return not os.path.exists(CHROMIUM)


@dataclass
class WebLibrary:
    """The served library: its base URL, folder, and artifacts folder for screenshots."""

    base: str
    root: Path
    artifacts: Path
    data_dir: Path
    names: list[str] = field(default_factory=list)
    ids: dict[str, str] = field(default_factory=dict)  # path -> id, as the server lists them

    def id(self, name: str) -> str:
        """The id the server gives ``name`` (ids are keyed with the library's secret)."""
        return self.ids[name]

    def url(self, path: str) -> str:
        return self.base + path


def build_library(root: Path) -> list[str]:
    """Write the clips (skipping encoders this PyAV lacks) and return the indexed names."""
    names = []
    for spec in (*BIG_CLIPS, *EPISODES, SUBBED, SOURCE_OF_TRUNCATED, HEVC):
        if spec.video_codec not in av.codecs_available:
            continue
        encode_clip(root, spec)
        names.append(spec.name)
    cut = root / SOURCE_OF_TRUNCATED.name
    data = cut.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    (root / EMPTY).write_bytes(b"")
    (root / GONE).write_bytes(b"")
    (root / "Subbed Movie (2019).en.srt").write_text(SRT, encoding="utf-8")
    (root / "Subbed Movie (2019).fr.vtt").write_text(VTT, encoding="utf-8")
    return [*names, EMPTY, GONE]


def shared_library(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """The library folder, built and scanned once per test run: pytest-xdist workers share
    pytest's base temp folder, and the first to take the lock builds (encoding ~60 MB of
    clips is the slowest part of these tests); the others wait and reuse it."""
    shared = tmp_path_factory.getbasetemp().parent
    root = shared / "web-library"
    done = shared / "web-library.done"
    with open(shared / "web-library.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            shutil.rmtree(root, ignore_errors=True)
            root.mkdir()
            names = build_library(root)
            subprocess.run([sys.executable, "-m", "mediaserve", "scan", str(root), "--json"],
                           check=True, capture_output=True)
            (root / GONE).unlink()
            done.write_text("\n".join(names))
    return root, done.read_text().split("\n")


@pytest.fixture(scope="session")
def web_library(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebLibrary]:
    if _chromium_missing():
        pytest.skip("Debian chromium not installed (scripts/dev installs it)")
    root, names = shared_library(tmp_path_factory)
    data = tmp_path_factory.mktemp("web-data")
    env = {"MEDIASERVE_DATA_DIR": str(data)}
    artifacts = Path(os.environ.get("MEDIASERVE_WEB_ARTIFACTS")
                     or Path(__file__).resolve().parents[2] / "bench-out" / "web-screenshots")
    artifacts.mkdir(parents=True, exist_ok=True)
    with run_mediaserve(root, env=env) as base:
        with urllib.request.urlopen(base + "/api/videos") as reply:
            ids = {video["path"]: video["id"] for video in json.load(reply)["videos"]}
        yield WebLibrary(base, root, artifacts, data, names, ids)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    if _chromium_missing():
        pytest.skip("Debian chromium not installed (scripts/dev installs it)")
    profile = tmp_path_factory.mktemp("chromium-profile")
    with playwright_sync.sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(profile), executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 800})
        yield context
        context.close()
    shutil.rmtree(profile, ignore_errors=True)


class PageWatch:
    """A page that records console errors, page errors and CSP violations."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.errors: list[str] = []
        page.on("console", lambda msg: msg.type == "error" and self.errors.append(
            f"{msg.text} [{(msg.location or {}).get('url', '')}]"))
        page.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc}"))
        page.add_init_script("""
            window.__csp = [];
            document.addEventListener('securitypolicyviolation',
                (e) => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));
        """)

    def csp_violations(self) -> list[str]:
        return list(self.page.evaluate("window.__csp || []"))

    def assert_clean(self, allow: tuple[str, ...] = ()) -> None:
        errors = [e for e in self.errors if not any(a in e for a in allow)]
        assert errors == [], errors
        assert self.csp_violations() == []


@pytest.fixture
def open_page(browser: Any) -> Iterator[Any]:
    """``open_page(url, width=None)`` -> PageWatch; pages are closed after the test."""
    pages: list[Any] = []

    def opener(url: str, width: int | None = None, height: int = 800) -> PageWatch:
        page = browser.new_page()
        if width is not None:
            page.set_viewport_size({"width": width, "height": height})
        watch = PageWatch(page)
        pages.append(page)
        page.goto(url)
        return watch

    yield opener
    for page in pages:
        page.close()


def has_horizontal_scroll(page: Any) -> bool:
    return bool(page.evaluate(
        "document.documentElement.scrollWidth > document.documentElement.clientWidth"))


def page_api(page: Any, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    """A fetch from the page (same origin, its cookies), as the page's own calls are:
    ``(status, JSON or None for 204)``."""
    return tuple(page.evaluate("""async ([method, path, body]) => {
        const sent = body === null ? undefined : JSON.stringify(body);
        const r = await fetch(path, {method, body: sent});
        return [r.status, r.status === 204 ? null : await r.json()]; }""", [method, path, body]))
