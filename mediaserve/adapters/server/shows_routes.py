"""``GET /api/shows`` and ``GET /api/shows/{show_id}``: the library's episodes as shows,
seasons and episodes.

The grouping is done once per catalog, off the event loop, when the catalog is built
(``Catalog.shows``); a request only shapes JSON from it: O(shows) for the list, O(episodes
of one show) for a show. Answers carry an ETag of their bytes (304 when the client has
them). Registered by :func:`add_show_routes`, one line in ``create_app``; the app's
middlewares (hosts, errors, CORS, authentication) cover both routes.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from mediaserve.adapters.server.catalog import Catalog
from mediaserve.adapters.server.listing import json_with_etag
from mediaserve.adapters.server.state import STATE, json_error
from mediaserve.core.shows import show_document, shows_document
from mediaserve.core.shows.documents import Facts
from mediaserve.core.web.media import poster_url

SHOW = r"{show_id:[0-9a-f]{12}}"


def _facts(catalog: Catalog) -> Facts:
    """What a show's JSON says about each episode's file, from the catalog."""

    def facts(vid: str) -> dict[str, Any]:
        video = catalog.videos[vid]
        entry = video.entry
        return {"duration": entry.facts.duration, "width": entry.facts.width,
                "height": entry.facts.height, "status": video.status,
                "poster_url": poster_url(entry)}

    return facts


async def list_shows(request: web.Request) -> web.Response:
    catalog = request.app[STATE].catalog
    return json_with_etag(request, shows_document(catalog.shows, _facts(catalog)))


async def get_show(request: web.Request) -> web.Response:
    catalog = request.app[STATE].catalog
    show = catalog.shows.shows.get(request.match_info["show_id"])
    if show is None:
        return json_error(404, "unknown show id")
    return json_with_etag(request, show_document(show, catalog.shows, _facts(catalog)))


def add_show_routes(app: web.Application) -> None:
    app.router.add_get("/api/shows", list_shows)
    app.router.add_get(f"/api/shows/{SHOW}", get_show)
