"""Routes and middlewares; ``create_app`` builds the aiohttp application from an index."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web

from mediaserve.adapters.profiles.routes import register as register_profiles
from mediaserve.adapters.server.api.access import auth_middleware, hosts_middleware
from mediaserve.adapters.server.api.authcheck import AUTH_CHECK_PATH, auth_check
from mediaserve.adapters.server.api.keys import (
    SERVER_NAME,
    SITE,
    STATE,
    VIDEO_EXTRAS,
    json_error,
)
from mediaserve.adapters.server.api.listing import json_with_etag, listing_response
from mediaserve.adapters.server.api.listing_views import listing_view
from mediaserve.adapters.server.api.login import install_access
from mediaserve.adapters.server.api.shows import add_show_routes
from mediaserve.adapters.server.site.site import Site
from mediaserve.adapters.server.stats.routes import add_stats_routes
from mediaserve.adapters.server.stream.route import stream
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
    doc = video.as_json()
    for extra in request.app.get(VIDEO_EXTRAS, ()):  # e.g. the playback plan
        await extra(request, video, doc)
    return json_with_etag(request, doc)


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


def install_server_headers(app: web.Application, hsts_max_age: int) -> None:
    """``Server: mediaserve`` on every response (aiohttp's default names Python's and its
    own version, a gift to scanners), and HSTS over TLS when configured."""

    async def headers(request: web.Request, response: web.StreamResponse) -> None:
        response.headers["Server"] = SERVER_NAME
        if hsts_max_age and request.secure:
            response.headers["Strict-Transport-Security"] = f"max-age={hsts_max_age}"

    app.on_response_prepare.append(headers)


def create_app(index: LibraryIndex, root: Path | str, settings: Settings | None = None, *,
               index_path: str | None = None,
               findings: FindingsFor | None = findings_from_facts,
               follow: bool = True) -> web.Application:
    """The application for one library, whose start and cleanup run the site's background
    work. ``findings(entry)`` attaches audit findings (by default the audit rules over the
    recorded facts; None leaves them out). Raises ``AccessError``."""
    site = Site(index, root, settings, index_path=index_path, findings=findings,
                follow=follow)
    return build_app(site, lifecycle=True)


def build_app(site: Site, *, lifecycle: bool = False) -> web.Application:
    """aiohttp's application for ``site``. ``lifecycle``: the app's start and cleanup start
    and stop the site (a server that owns the site itself, ``runner.py``, passes False)."""
    settings = site.settings
    # hosts first (a rebinding page learns nothing), then errors (so a 401 gets CORS
    # headers a cross-origin client can read), then authentication around every route
    app = web.Application(middlewares=[hosts_middleware, errors_middleware, auth_middleware],
                          client_max_size=64 * 1024)
    app[SITE] = site
    app[STATE] = state = site.state
    install_access(app, site.access)
    if lifecycle:
        async def start(_app: web.Application) -> None:
            await site.start()

        async def stop(_app: web.Application) -> None:
            await site.stop()

        app.on_startup.append(start)
        app.on_cleanup.append(stop)
    install_server_headers(app, settings.hsts_max_age)
    router = app.router
    for path, handler in (("/api/videos", list_videos),
                          (r"/api/videos/{id:[0-9a-f]{12,64}}", get_video),
                          (r"/api/videos/{id:[0-9a-f]{12,64}}/stream", stream)):
        router.add_get(path, handler)  # GET also adds HEAD
        # preflight on the real resources only: a catch-all OPTIONS route would turn every
        # unknown /api/ path (a mangled id, `..`) into 405 instead of 404
        router.add_route("OPTIONS", path, preflight)
    router.add_get(AUTH_CHECK_PATH, auth_check)  # for a caching proxy's auth_request
    add_stats_routes(app)
    add_show_routes(app)  # shows, seasons, episodes
    register_web(app, state)  # pages, posters, seek previews, subtitles
    register_profiles(app, state)  # /api/profiles, /api/me: per-profile state
    return app
