"""Small response helpers shared by the web routes (the web wing does not import the server
wing, which imports it: no cycle)."""

from __future__ import annotations

import json
from typing import Any, Protocol

from aiohttp import web

from mediaserve.core.http.etags import etag_list_matches

#: strict Content-Security-Policy for the pages: nothing inline, nothing from elsewhere, never
#: in a frame (every HTML answer, the login form too, takes its headers from PAGE_HEADERS).
#: ``media-src blob:``: Media Source Extensions (hls.js) attach to the <video> through a
#: blob: URL the page itself makes; workers stay 'self' (hls.js runs with its worker off)
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
       "media-src 'self' blob:; connect-src 'self'; font-src 'self'; object-src 'none'; "
       "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
PAGE_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",  # frame-ancestors, for browsers that predate it
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-cache",
}
#: for pictures whose URL carries the video's version: they never change under that URL
IMMUTABLE = "public, max-age=31536000, immutable"


class LibraryState(Protocol):
    """What the web routes read from the server state (``ServerState`` satisfies it)."""

    catalog: Any
    opener: Any


def json_error(status: int, message: str, **extra: Any) -> web.Response:
    """``{"error": message, ...}`` with the given status; what every API failure looks like
    (the server routes use this one too, through ``adapters.server.state``)."""
    return web.Response(status=status, text=json.dumps({"error": message, **extra}),
                        content_type="application/json", charset="utf-8")


def etag_matches(request: web.Request, etag: str) -> bool:
    """``If-None-Match`` matches ``etag`` (weak comparison, §13.1.2), by the core's parser:
    the same one the stream and the listing answer 304 with."""
    return etag_list_matches(request.headers.get("If-None-Match", ""), etag, weak=True)
