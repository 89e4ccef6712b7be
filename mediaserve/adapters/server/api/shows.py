"""``GET /api/shows`` and ``GET /api/shows/{show_id}``: the library's episodes as shows,
seasons and episodes.

The grouping is done once per catalog, off the event loop, when the catalog is built
(``Catalog.shows``); a request only shapes JSON from it. The list of shows is O(shows), so
it is encoded once per catalog version (in an executor thread for a large library, as the
listing is); one show is O(its episodes) and is shaped per request. Answers carry an ETag
of their bytes (304 when the client has them). Registered by :func:`add_show_routes`, one
line in ``create_app``; the app's middlewares (hosts, errors, CORS, authentication) cover
both routes.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import weakref
from typing import Any

from aiohttp import web

from mediaserve.adapters.server.api.keys import STATE, json_error
from mediaserve.adapters.server.api.listing import INLINE_MAX_VIDEOS, json_with_etag
from mediaserve.adapters.server.site.catalog import Catalog
from mediaserve.core.http.encoding import etag_matches
from mediaserve.core.library.facts import display_size
from mediaserve.core.shows import show_document, shows_document
from mediaserve.core.shows.documents import Facts
from mediaserve.core.web.media import poster_url

SHOW = r"{show_id:[0-9a-f]{12}}"

#: the encoded list of shows per catalog (a replaced catalog takes its entry with it)
_encoded: weakref.WeakKeyDictionary[Catalog, tuple[int, bytes, str]] = (
    weakref.WeakKeyDictionary())


def _facts(catalog: Catalog) -> Facts:
    """What a show's JSON says about each episode's file, from the catalog."""

    def facts(vid: str) -> dict[str, Any]:
        video = catalog.videos[vid]
        entry = video.entry
        width, height = display_size(entry.facts)  # as shown: a phone's portrait is portrait
        return {"duration": entry.facts.duration, "width": width, "height": height,
                "status": video.status, "poster_url": poster_url(entry)}

    return facts


def _encode(catalog: Catalog) -> tuple[bytes, str]:
    body = json.dumps(shows_document(catalog.shows, _facts(catalog)),
                      ensure_ascii=False).encode()
    return body, f'"{hashlib.blake2b(body, digest_size=12).hexdigest()}-shows"'


async def _shows_body(catalog: Catalog) -> tuple[bytes, str]:
    version = catalog.version
    cached = _encoded.get(catalog)
    if cached is not None and cached[0] == version:
        return cached[1], cached[2]
    if len(catalog.videos) <= INLINE_MAX_VIDEOS:
        body, etag = _encode(catalog)
    else:
        body, etag = await asyncio.get_running_loop().run_in_executor(None, _encode, catalog)
    _encoded[catalog] = (version, body, etag)
    return body, etag


async def list_shows(request: web.Request) -> web.Response:
    body, etag = await _shows_body(request.app[STATE].catalog)
    headers = {"ETag": etag, "Cache-Control": "no-cache"}
    if etag_matches(request.headers.get("If-None-Match"), (etag,)):
        return web.Response(status=304, headers=headers)
    return web.Response(body=body, headers=headers, content_type="application/json",
                        charset="utf-8")


async def get_show(request: web.Request) -> web.Response:
    catalog = request.app[STATE].catalog
    show = catalog.shows.shows.get(request.match_info["show_id"])
    if show is None:
        return json_error(404, "unknown show id")
    return json_with_etag(request, show_document(show, catalog.shows, _facts(catalog)))


def add_show_routes(app: web.Application) -> None:
    app.router.add_get("/api/shows", list_shows)
    app.router.add_get(f"/api/shows/{SHOW}", get_show)
