"""The login form in real Chromium: a person with a browser logs in once, and afterwards the
page, its API calls and a ``<video src>`` work through the cookie, with no token in a URL."""

from __future__ import annotations

import http.server
import json
import os
import shutil
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from benchmarks.peers import run_mediaserve
from mediaserve.adapters.media.clips import ClipSpec, encode_clip

CHROMIUM = "/usr/bin/chromium"
playwright_sync = pytest.importorskip("playwright.sync_api", reason="playwright not installed")
pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM),
                                reason="Debian chromium not installed (scripts/dev installs it)")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
TOKEN = "chromium-token-0123456789abcdef"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    library = tmp_path_factory.mktemp("login-library")
    encode_clip(library, ClipSpec("clip.mp4", seconds=4))
    subprocess.run([sys.executable, "-m", "mediaserve", "scan", str(library), "--json"],
                   check=True, capture_output=True)
    env = {"MEDIASERVE_AUTH_TOKEN": TOKEN,
           "MEDIASERVE_DATA_DIR": str(tmp_path_factory.mktemp("data"))}
    with run_mediaserve(library, env=env) as base:
        request = urllib.request.Request(f"{base}/api/videos",
                                         headers={"Authorization": f"Bearer {TOKEN}"})
        with urllib.request.urlopen(request, timeout=10) as response:
            stream = json.load(response)["videos"][0]["stream_url"]
        yield base, stream


def test_log_in_then_page_api_and_video_work_by_cookie(server: tuple[str, str],
                                                      tmp_path: Path) -> None:
    base, stream = server
    with playwright_sync.sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=CHROMIUM, headless=True,
            args=CHROMIUM_ARGS)
        try:
            page = context.new_page()
            first = page.goto(f"{base}/")
            assert first is not None and first.status == 401  # the form, not the library
            page.fill("input[name=token]", TOKEN)
            with page.expect_navigation():
                page.click("button[type=submit]")
            assert page.url == f"{base}/"
            listing = page.evaluate("fetch('/api/videos').then(r => r.status)")
            assert listing == 200
            ready = page.evaluate("""(src) => new Promise((resolve) => {
                const v = document.createElement('video');
                v.muted = true;
                v.addEventListener('loadedmetadata', () => resolve(v.duration));
                v.addEventListener('error', () => resolve(-1));
                v.src = src;
            })""", stream)
            assert abs(ready - 4) < 0.5, ready
            assert TOKEN not in page.url
        finally:
            context.close()
    shutil.rmtree(tmp_path / "profile", ignore_errors=True)


class _Hostile(http.server.BaseHTTPRequestHandler):
    """Another site (``localhost`` is not ``127.0.0.1``): the page set by the test."""

    page = b""

    def do_GET(self) -> None:  # the name http.server calls
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(self.page)))
        self.end_headers()
        self.wfile.write(self.page)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def hostile() -> Iterator[tuple[str, type[_Hostile]]]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hostile)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://localhost:{server.server_address[1]}", _Hostile
    server.shutdown()
    server.server_close()


def test_another_site_can_neither_post_the_login_form_nor_frame_it(
        server: tuple[str, str], hostile: tuple[str, type[_Hostile]], tmp_path: Path) -> None:
    """Issue 17, findings 3 and 9, in a real browser: a hostile page's auto-submitted form
    (even with the right token) is refused with 403 and sets no cookie; a frame of the
    login page is blocked by frame-ancestors."""
    base, _stream = server
    evil, handler = hostile
    handler.page = (f'<form method="post" action="{base}/login">'
                    f'<input name="token" value="{TOKEN}">'
                    '<input name="next" value="//evil.example/"></form>'
                    "<script>document.forms[0].submit()</script>").encode()
    with playwright_sync.sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=CHROMIUM, headless=True,
            args=CHROMIUM_ARGS)
        try:
            page = context.new_page()
            with page.expect_response(f"{base}/login") as posted:
                page.goto(f"{evil}/")
            assert posted.value.status == 403
            assert "another site" in posted.value.text()
            assert not [c for c in context.cookies() if c["name"] == "mediaserve_auth"]
            handler.page = (f'<iframe src="{base}/login" width="400" height="300"></iframe>'
                            ).encode()
            with page.expect_console_message(
                    lambda message: "frame-ancestors" in message.text) as refusal:
                page.goto(f"{evil}/framed")
            assert "'none'" in refusal.value.text
            framed = [f for f in page.frames if f != page.main_frame]
            assert framed and not framed[0].url.startswith(base), framed[0].url
        finally:
            context.close()
    shutil.rmtree(tmp_path / "profile", ignore_errors=True)
