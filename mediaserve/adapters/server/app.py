"""Routes and middlewares; ``create_app`` builds the aiohttp application from an index."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web

from mediaserve.adapters.profiles.routes import register as register_profiles
from mediaserve.adapters.server.access import auth_middleware, hosts_middleware, install_access
from mediaserve.adapters.server.catalog import Catalog
from mediaserve.adapters.server.connections import install_server_headers
from mediaserve.adapters.server.follow import follow_index
from mediaserve.adapters.server.listing import json_with_etag, listing_response
from mediaserve.adapters.server.listing_views import listing_view
from mediaserve.adapters.server.safe_open import RootOpener
from mediaserve.adapters.server.state import STATE, ServerState, json_error
from mediaserve.adapters.server.stats_routes import add_stats_routes
from mediaserve.adapters.server.stream import stream
from mediaserve.adapters.web.routes import register as register_web
from mediaserve.core.audit.rules import FindingsFor, findings_from_facts
from mediaserve.core.config.settings import Settings
from mediaserve.core.http.headers import cors_headers, cors_preflight
from mediaserve.core.library.index import LibraryIndex

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


async def list_videos(request: web.Request) -> web.StreamResponse:
    """The whole listing, encoded once per catalog version (see ``listing.py``); with a
    query, the card view or a page (``listing_views.py``)."""
    catalog = request.app[STATE].catalog
    if request.query_string:
        answer = await listing_view(request, catalog)
        if answer is not None:
            return answer
    return await listing_response(request, catalog.listing_cache)


async def get_video(request: web.Request) -> web.Response:
    video = request.app[STATE].catalog.get(request.match_info["id"])
    if video is None:
        return json_error(404, "unknown video id")
    return json_with_etag(request, video.as_json())


async def preflight(request: web.Request) -> web.Response:
    settings = request.app[STATE].settings
    headers = cors_preflight(request.headers.get("Origin"),
                             request.headers.get("Access-Control-Request-Method"),
                             settings.cors_origins)
    if headers is None:
        return json_error(403, "CORS preflight refused for this origin or method")
    return web.Response(status=204, headers=dict(headers))


@web.middleware
async def errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """JSON bodies for API errors, CORS on API answers, and never a traceback to a client."""
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        if not request.path.startswith("/api/") or exc.status < 400:
            raise
        response = json_error(exc.status, exc.reason)
        if exc.status == 405:
            response.headers["Allow"] = exc.headers.get("Allow", "GET, HEAD")
    except Exception:
        request.app[STATE].logger.exception("unexpected error for %s %s", request.method,
                                            request.path)
        return json_error(500, "internal error")
    settings = request.app[STATE].settings
    if (settings.cors_origins and not response.prepared and request.path.startswith("/api/")
            and "Access-Control-Allow-Origin" not in response.headers):
        for name, value in cors_headers(request.headers.get("Origin"), settings.cors_origins):
            response.headers[name] = value
    return response


def create_app(index: LibraryIndex, root: Path | str, settings: Settings | None = None, *,
               index_path: str | None = None,
               findings: FindingsFor | None = findings_from_facts,
               follow: bool = True) -> web.Application:
    """The application for one library. ``findings(entry)`` attaches audit findings (by
    default the audit rules over the recorded facts; None leaves them out)."""
    settings = settings or Settings()
    # hosts first (a rebinding page learns nothing), then errors (so a 401 gets CORS
    # headers a cross-origin client can read), then authentication around every route
    app = web.Application(middlewares=[hosts_middleware, errors_middleware, auth_middleware],
                          client_max_size=64 * 1024)
    install_access(app, settings)
    state = ServerState(catalog=Catalog(index, findings), opener=RootOpener(root),
                        settings=settings, index_path=index_path,
                        logger=logging.getLogger("mediaserve"))
    app[STATE] = state

    async def close_opener(_app: web.Application) -> None:
        state.opener.close()

    async def check_presence(_app: web.Application) -> None:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, state.catalog.check_presence, state.opener)

    app.on_startup.append(check_presence)
    install_server_headers(app, settings.hsts_max_age)
    app.on_cleanup.append(close_opener)
    if index_path is not None and follow:  # reload when scan/audit/watcher replace it
        follow_index(app, index_path, findings)
    router = app.router
    for path, handler in (("/api/videos", list_videos),
                          (r"/api/videos/{id:[0-9a-f]{12,64}}", get_video),
                          (r"/api/videos/{id:[0-9a-f]{12,64}}/stream", stream)):
        router.add_get(path, handler)  # GET also adds HEAD
        # preflight on the real resources only: a catch-all OPTIONS route would turn every
        # unknown /api/ path (a mangled id, `..`) into 405 instead of 404
        router.add_route("OPTIONS", path, preflight)
    add_stats_routes(app)
    register_web(app, state)  # pages, posters, seek previews, subtitles
    register_profiles(app, state)  # /api/profiles, /api/me: per-profile state
    return app
