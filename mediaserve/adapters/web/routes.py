"""``register(app, state)``: every web route, added to the server's application in one call.

Routes go through the application's router, so every middleware (errors, CORS, auth) applies
to them as to the API.
"""

from __future__ import annotations

from aiohttp import web

from mediaserve.adapters.data_dir import data_dir
from mediaserve.adapters.web.frames import FrameService, cache_root
from mediaserve.adapters.web.http import LibraryState
from mediaserve.adapters.web.media import MediaRoutes
from mediaserve.adapters.web.pages import make_handlers

ID = r"{id:[0-9a-f]{12,64}}"


def register(app: web.Application, state: LibraryState) -> None:
    frames = FrameService(cache_root(data_dir(), state.catalog.index.root), state.opener)
    media = MediaRoutes(state, frames)
    pages = make_handlers(state)

    async def stop_workers(_app: web.Application) -> None:
        frames.close()
        media.tracks.close()

    app.on_cleanup.append(stop_workers)
    router = app.router
    router.add_get("/", pages["library"])
    router.add_get(f"/watch/{ID}", pages["watch"])
    router.add_get("/watch", pages["bad_watch"])
    router.add_get("/watch/{link:.*}", pages["bad_watch"])
    router.add_get("/static/{name:[A-Za-z0-9._/-]{1,80}}", pages["static"])
    router.add_get("/favicon.ico", pages["favicon"])
    router.add_get(f"/api/videos/{ID}/poster.jpg", media.poster)
    router.add_get(f"/api/videos/{ID}/thumbnails.vtt", media.thumbnails_vtt)
    router.add_get(f"/api/videos/{ID}/thumbnails.jpg", media.thumbnails_jpg)
    router.add_get(f"/api/videos/{ID}/subtitles/{{n:[0-9]{{1,4}}}}.vtt", media.subtitles)
    # HLS (remux, audio, transcode): imported here, not above, because adapters/playback
    # reuses the server wing's sendfile helpers and the server package imports this module
    from mediaserve.adapters.playback.routes import register as register_playback

    register_playback(app, state)
