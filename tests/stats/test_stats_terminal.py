"""``stats`` prints what a hostile server sends (titles, ids, status codes, its error text)
with control characters as escapes: no ESC reaches the terminal, no CR or LF splits a row,
no ``[markup]`` is obeyed. ``--json`` stays exact."""

from __future__ import annotations

import copy
import http.server
import json
import threading
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from tests.stats.conftest import Live
from tests.terminal import EVIL, SHOWN, assert_terminal_safe, run_main

_EVIL_MARKUP = EVIL + "[/]"  # a closing tag with nothing open: a MarkupError if read as markup
_SHOWN_MARKUP = SHOWN + "[/]"


@pytest.fixture
def hostile(live_server: Live) -> Iterator[tuple[str, dict[str, Any]]]:
    """A server answering /api/stats with a real snapshot whose strings are hostile."""
    with urllib.request.urlopen(f"{live_server.base}/api/stats?top=10", timeout=10) as answer:
        snap = json.loads(answer.read())
    snap = copy.deepcopy(snap)
    row = snap["videos"][0]
    row["title"] = _EVIL_MARKUP
    row["id"] = EVIL
    snap["global"]["status"] = {EVIL: 3}
    body = json.dumps(snap).encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                     daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", snap
    finally:
        server.shutdown()
        server.server_close()


def test_once_shows_hostile_titles_as_escapes(hostile: tuple[str, dict[str, Any]]) -> None:
    base, _snap = hostile
    code, out, err = run_main("stats", base, "--once", env={"COLUMNS": "400"})
    assert code == 0, err
    assert_terminal_safe(out + err, _SHOWN_MARKUP, f"{SHOWN} 3")
    rows = [line for line in out.splitlines() if "evil" in line]
    assert len(rows) == 3, out  # the title in the table and the heat map, the status: one line each


def test_live_lines_show_hostile_status_codes_as_escapes(
        hostile: tuple[str, dict[str, Any]]) -> None:
    base, _snap = hostile
    code, out, err = run_main("stats", base, "--count", "1")
    assert code == 0, err
    assert_terminal_safe(out + err, f"[{SHOWN} 3]")
    assert len(out.splitlines()) == 1


def test_json_stays_exact(hostile: tuple[str, dict[str, Any]]) -> None:
    base, snap = hostile
    code, out, _err = run_main("stats", base, "--json")
    assert code == 0
    assert_terminal_safe(out, "\\u001b[31m[bold red]x[blink]\\r\\n:smile:\\u202e")
    assert json.loads(out) == snap
