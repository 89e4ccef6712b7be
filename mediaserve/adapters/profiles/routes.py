"""``register(app, state)``: every profile route, added to the server's application in one
call (one line in ``create_app``), so the server's middlewares (Host check, authentication,
JSON errors) cover each of them.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from mediaserve.adapters.profiles import choose, me
from mediaserve.adapters.profiles.library_view import NextEpisodes
from mediaserve.adapters.profiles.service import PROFILES, ProfileApp, with_answers
from mediaserve.adapters.profiles.store import store_path

PROFILE_ID = r"{pid:[0-9a-f]{16}}"
VIDEO_ID = r"{id:[0-9a-f]{12,64}}"


def register(app: web.Application, state: Any,
             next_episodes: NextEpisodes | None = None) -> None:
    """``next_episodes``: what Next up follows (default ``library_view.by_show``: the shows
    model's next episode across seasons; ``by_folder``: the next file of the folder)."""
    profiles = ProfileApp(state, store_path(state.settings.state_db), next_episodes)
    app[PROFILES] = profiles

    async def close_store(_app: web.Application) -> None:
        await profiles.thread.close()

    app.on_cleanup.append(close_store)
    add = app.router.add_route
    for method, path, handler in (
            ("GET", "/api/profiles", choose.list_profiles),
            ("POST", "/api/profiles", choose.create_profile),
            ("PATCH", f"/api/profiles/{PROFILE_ID}", choose.update_profile),
            ("DELETE", f"/api/profiles/{PROFILE_ID}", choose.delete_profile),
            ("POST", f"/api/profiles/{PROFILE_ID}/select", choose.select_profile),
            ("GET", "/api/me", me.me),
            ("POST", "/api/me/leave", choose.leave),
            ("PUT", "/api/me/preferences", me.put_preferences),
            ("GET", "/api/me/progress", me.get_progress),
            ("POST", f"/api/me/progress/{VIDEO_ID}", me.post_progress),
            ("POST", f"/api/me/watched/{VIDEO_ID}", me.post_watched),
            ("GET", "/api/me/home", me.home)):
        if method == "GET":
            app.router.add_get(path, with_answers(handler))  # and HEAD
        else:
            add(method, path, with_answers(handler))
