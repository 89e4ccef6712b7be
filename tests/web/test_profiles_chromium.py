"""The profile API in real Chromium: ``navigator.sendBeacon`` from our own page records a
position (text/plain and JSON Blob bodies, the profile cookie sent along), and a hostile
page, on another site or on another port of the same host (the same *site*, so the
SameSite=Lax cookie goes with it), cannot mark videos watched or move positions with a
beacon, a no-cors fetch or a plain form POST (a text/plain form can only put its ``=``
inside a string, so it aims at creating a profile: ``{"name": "Intruder="}``)."""

from __future__ import annotations

import http.server
import itertools
import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from benchmarks.peers import free_port, run_mediaserve
from mediaserve.adapters.library.store import save_index
from tests.server.conftest import blob, make_library
from tests.web.conftest import page_api as api

CHROMIUM = "/usr/bin/chromium"
playwright_sync = pytest.importorskip("playwright.sync_api", reason="playwright not installed")
pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM),
                                reason="Debian chromium not installed (scripts/dev installs it)")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]

NUMBERS = itertools.count()
HOSTILE = """<!doctype html><title>cute cats</title>
<form id="form" method="post" action="{target}/api/profiles" enctype="text/plain">
<input name='{{"name": "Intruder' value='"}}'></form>
<script>
  window.beacon = navigator.sendBeacon("{target}/api/me/watched/{vid}",
                                       JSON.stringify({{watched: true}}));
  window.fetched = fetch("{target}/api/me/progress/{vid}", {{
    method: "POST", mode: "no-cors", credentials: "include",
    headers: {{"Content-Type": "text/plain"}}, body: JSON.stringify({{position: 999}})
  }}).then(() => "answered", (e) => "failed: " + e);
</script>"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    lib = make_library(tmp_path_factory.mktemp("profiles-web") / "lib",
                       {"Film.mp4": blob(4096, 7)})
    save_index(lib.root / ".mediaserve-index.toml", lib.index)
    env = {"MEDIASERVE_DATA_DIR": str(tmp_path_factory.mktemp("data"))}
    with run_mediaserve(lib.root, env=env) as base:
        yield base, lib.ids["Film.mp4"]


@pytest.fixture(scope="module")
def hostile(server: tuple[str, str]) -> Iterator[int]:
    """A page of another origin (port), served by a plain HTTP server."""
    base, vid = server
    page = HOSTILE.format(target=base, vid=vid).encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *args: Any) -> None:
            return

    port = free_port()
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield port
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def context(tmp_path: Path) -> Iterator[Any]:
    with playwright_sync.sync_playwright() as pw:
        ctx = pw.chromium.launch_persistent_context(
            str(tmp_path / "chromium"), executable_path=CHROMIUM, headless=True,
            args=CHROMIUM_ARGS)
        yield ctx
        ctx.close()



def our_page_with_a_profile(context: Any, base: str) -> Any:
    """Our page, with a new profile (the server lives for the module) chosen in it."""
    page = context.new_page()
    page.goto(f"{base}/")
    name = f"Alice {next(NUMBERS)}"
    status, created = api(page, "POST", "/api/profiles", {"name": name, "pin": "1234"})
    assert status == 201
    status, _ = api(page, "POST", f"/api/profiles/{created['profile']['id']}/select",
                    {"pin": "1234"})
    assert status == 200
    return page


def progress(page: Any, vid: str) -> dict | None:
    status, body = api(page, "GET", f"/api/me/progress?ids={vid}", None)
    assert status == 200
    return body["progress"].get(vid)


def beacon(page: Any, url: str, script: str) -> bool:
    with page.expect_request_finished(lambda request: request.url.endswith(url)) as done:
        sent = page.evaluate(script)
    assert done.value.response().status == 200
    return bool(sent)


def test_send_beacon_from_our_page_records_the_position(context: Any,
                                                        server: tuple[str, str]) -> None:
    base, vid = server
    page = our_page_with_a_profile(context, base)
    url = f"/api/me/progress/{vid}"
    assert beacon(page, url, f"""navigator.sendBeacon("{url}",
        JSON.stringify({{position: 123.5, duration: 600}}))""")
    assert progress(page, vid)["position"] == 123.5
    assert beacon(page, url, f"""navigator.sendBeacon("{url}", new Blob(
        [JSON.stringify({{position: 321}})], {{type: "application/json"}}))""")
    row = progress(page, vid)
    assert row["position"] == 321 and row["in_progress"] and not row["watched"]


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1"])  # another site; the same site
def test_a_hostile_page_cannot_change_state(context: Any, server: tuple[str, str],
                                            hostile: int, host: str) -> None:
    base, vid = server
    ours = our_page_with_a_profile(context, base)
    before = progress(ours, vid)
    evil = context.new_page()
    hits: list[tuple[str, int]] = []
    evil.on("requestfinished", lambda r: r.url.startswith(base) and hits.append(
        (r.method, r.response().status)))
    with evil.expect_request_finished(lambda r: "/api/me/watched/" in r.url):
        evil.goto(f"http://{host}:{hostile}/")
    assert evil.evaluate("window.beacon") is True  # the browser sent it
    assert evil.evaluate("window.fetched") == "answered"
    with evil.expect_navigation() as navigation:
        evil.evaluate("document.getElementById('form').submit()")
    answer = navigation.value
    assert answer.status == 403 and json.loads(answer.body())["cross_site"]
    assert progress(ours, vid) == before  # nothing changed
    status, listed = api(ours, "GET", "/api/profiles")
    assert status == 200 and not [p for p in listed["profiles"] if "Intruder" in p["name"]]
    assert sorted(hits) == [("POST", 403), ("POST", 403)], hits  # beacon and fetch refused
