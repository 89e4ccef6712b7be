"""The pages and their static files, served from a fixed table (no request path ever
reaches the disk), each with an ETag so a reload costs a 304."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from importlib import resources

from aiohttp import web

from mediaserve.adapters.web.http import PAGE_HEADERS, LibraryState, etag_matches

#: URL name -> (package file, Content-Type)
STATIC_FILES = {
    "app.js": ("app.js", "text/javascript"),
    "cards.js": ("cards.js", "text/javascript"),
    "chooser.js": ("chooser.js", "text/javascript"),
    "home.js": ("home.js", "text/javascript"),
    "me.js": ("me.js", "text/javascript"),
    "menu.js": ("menu.js", "text/javascript"),
    "shows.js": ("shows.js", "text/javascript"),
    "common.js": ("common.js", "text/javascript"),
    "player.js": ("player.js", "text/javascript"),
    "seekbar.js": ("seekbar.js", "text/javascript"),
    "devstats.js": ("devstats.js", "text/javascript"),
    "caps.js": ("caps.js", "text/javascript"),
    "playback.js": ("playback.js", "text/javascript"),
    "quality.js": ("quality.js", "text/javascript"),
    "messages.js": ("messages.js", "text/javascript"),
    "resume.js": ("resume.js", "text/javascript"),
    "profile.js": ("profile.js", "text/javascript"),
    "episodes.js": ("episodes.js", "text/javascript"),
    "subs.js": ("subs.js", "text/javascript"),
    "keys.js": ("keys.js", "text/javascript"),
    # hls.js, vendored (see web/vendor/hls.js/README.md): loaded only by pages that play HLS
    "vendor/hls.js/hls.min.mjs": ("vendor/hls.js/hls.min.mjs", "text/javascript"),
    "style.css": ("style.css", "text/css"),
    "library.css": ("library.css", "text/css"),
    "favicon.svg": ("favicon.svg", "image/svg+xml"),
}
PAGES = {"library": "index.html", "watch": "watch.html"}


@dataclass(frozen=True, slots=True)
class Asset:
    body: bytes
    content_type: str
    etag: str


_assets: dict[str, Asset] = {}


def asset(filename: str, content_type: str) -> Asset:
    """The file's bytes, read once per process (the package does not change under us)."""
    found = _assets.get(filename)
    if found is None:
        body = resources.files("mediaserve.web").joinpath(filename).read_bytes()
        found = Asset(body, content_type, '"' + hashlib.sha256(body).hexdigest()[:16] + '"')
        _assets[filename] = found
    return found


def _send(request: web.Request, item: Asset, status: int = 200,
          page: bool = False) -> web.Response:
    headers = dict(PAGE_HEADERS) if page else {"Cache-Control": "no-cache",
                                               "X-Content-Type-Options": "nosniff"}
    headers["ETag"] = item.etag
    if status == 200 and etag_matches(request, item.etag):
        return web.Response(status=304, headers=headers)
    return web.Response(body=item.body, status=status, content_type=item.content_type,
                        charset="utf-8" if item.content_type.startswith("text") else None,
                        headers=headers)


PageHandler = Callable[[web.Request], Awaitable[web.Response]]


def make_handlers(state: LibraryState) -> dict[str, PageHandler]:
    async def library(request: web.Request) -> web.Response:
        return _send(request, asset(PAGES["library"], "text/html"), page=True)

    async def watch(request: web.Request) -> web.Response:
        # the same page for every id (it reads the id from its URL), but an unknown id is
        # a 404, so a stale bookmark is not mistaken for a page that works
        known = state.catalog.get(request.match_info["id"]) is not None
        return _send(request, asset(PAGES["watch"], "text/html"), 200 if known else 404,
                     page=True)

    async def not_a_watch_link(request: web.Request) -> web.Response:
        # /watch, /watch/, /watch/not-an-id: a link cut short or mistyped gets the player
        # page, which says so and links back to the library (not a bare "404: Not Found")
        return _send(request, asset(PAGES["watch"], "text/html"), 404, page=True)

    async def static(request: web.Request) -> web.Response:
        known = STATIC_FILES.get(request.match_info["name"])
        if known is None:
            raise web.HTTPNotFound(text="not found")
        return _send(request, asset(*known))

    async def favicon(request: web.Request) -> web.Response:
        return _send(request, asset(*STATIC_FILES["favicon.svg"]))

    return {"library": library, "watch": watch, "bad_watch": not_a_watch_link,
            "static": static, "favicon": favicon}
