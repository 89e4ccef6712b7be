"""The aiohttp side of the shared state: the app key handlers find it under, JSON errors."""

from __future__ import annotations

from aiohttp import web

from mediaserve.adapters.server.site.site import Site
from mediaserve.adapters.server.site.state import SERVER_NAME, ServerState
from mediaserve.adapters.web.http import json_error

__all__ = ["SERVER_NAME", "SITE", "STATE", "STATS_EXTRAS", "VIDEO_EXTRAS", "ServerState",
           "json_error"]

STATE = web.AppKey("mediaserve_state", ServerState)
#: the site the app serves (its state is ``STATE``; its background work, shared stats)
SITE = web.AppKey("mediaserve_site", Site)
#: ``await extra(request, video, doc)`` for each, adding fields to ``GET /api/videos/{id}``:
#: how a feature wing (playback) adds to the video's JSON without the server importing it
VIDEO_EXTRAS = web.AppKey("mediaserve_video_extras", list)
#: name -> ``snapshot()`` of a feature's own statistics, shown under that name in /api/stats
#: and turned into metrics by /metrics (playback: live conversions, queue, cache)
STATS_EXTRAS = web.AppKey("mediaserve_stats_extras", dict)
