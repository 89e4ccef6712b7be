"""``probe`` prints what a hostile server sends (reason phrase, header values, error text)
with control characters as escapes, never raw or as markup."""

from __future__ import annotations

import json
from collections.abc import Callable

from tests.probe.conftest import Handler, Script
from tests.terminal import EVIL, SHOWN, assert_terminal_safe, run_main

_NAME = EVIL.replace("\r\n", " ")  # a header value cannot hold CR LF: the rest it can
_NAME_SHOWN = SHOWN.replace("\\r\\n", " ")


def _hostile(handler: Handler) -> None:
    body = b"0123456789"
    ranged = "Range" in handler.headers
    status = b"206 " if ranged else b"200 "
    head = [b"HTTP/1.1 " + status + _NAME.encode(),
            b"Server: " + _NAME.encode(), b"ETag: \"" + _NAME.encode() + b"\"",
            b"Accept-Ranges: bytes", b"Content-Type: video/" + _NAME.encode()]
    if ranged:
        head += [b"Content-Range: bytes 0-0/10", b"Content-Length: 1"]
        body = body[:1]
    else:
        head.append(b"Content-Length: 10")
    handler.wfile.write(b"\r\n".join(head) + b"\r\n\r\n" + (
        body if handler.command == "GET" else b""))


def test_probe_shows_a_hostile_servers_strings_as_escapes(
        scripted: Callable[[Script], str]) -> None:
    url = scripted(_hostile)
    code, out, err = run_main("probe", url, env={"COLUMNS": "400"})
    assert_terminal_safe(out + err, f"206 {_NAME_SHOWN}", "evil\\x1b[31m[bold red]x[blink] "
                         ":smile:â\\x80®gpjÂ\\x9b2J\\x07")
    code, out, err = run_main("probe", url, "--check", env={"COLUMNS": "400"})
    assert code in (0, 1) and "Traceback" not in err  # If-Range cannot echo such an ETag
    assert_terminal_safe(out + err, "holds a control character")
    code, out, _err = run_main("probe", url, "--json")
    assert_terminal_safe(out, "\\u001b[31m[bold red]x[blink] :smile:\\u202e")
    exchange = json.loads(out)["exchanges"][0]
    assert exchange["reason"] == _NAME  # exact once parsed
    assert ["Server", _NAME.encode().decode("latin-1")] in exchange["headers"]  # as aiohttp
    # reads a field: byte by byte (so U+202E arrives as "â\x80®", its C1 byte escaped too)


def test_probe_shows_a_hostile_url_as_escapes(scripted: Callable[[Script], str]) -> None:
    url = scripted(_hostile) + "?" + EVIL.replace("\r\n", "")
    _code, out, err = run_main("probe", url, env={"COLUMNS": "400"})
    assert_terminal_safe(out + err, "")
