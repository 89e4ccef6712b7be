"""The statistics endpoints: ``/api/stats``, per-video stats, seek analytics, ``/metrics``.

All of them read (or, for seek analytics, feed) the one collector in ``ServerState.stats``;
the stream handler feeds it too. Registered by :func:`add_stats_routes`, one line in
``create_app``. Answers are small (top N rows) and built on the loop in well under a
millisecond for the default cap of tracked videos.
"""

from __future__ import annotations

import asyncio
import json
import math
import weakref
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry

from mediaserve.adapters.server.api.keys import (
    SITE,
    STATE,
    STATS_EXTRAS,
    ServerState,
    json_error,
)
from mediaserve.adapters.server.stats.metrics import SnapshotCollector, exposition, new_registry
from mediaserve.adapters.server.stats.shared import server_snapshot, server_video
from mediaserve.core.stats.analytics import (
    MAX_BODY_BYTES,
    RateLimiter,
    ReportError,
    parse_report,
)

DEFAULT_TOP = 20
_VIDEO = r"/api/videos/{id:[0-9a-f]{12,64}}"
_OFF = "statistics are turned off on this server (setting stats = false)"
REGISTRY = web.AppKey("mediaserve_metrics_registry", CollectorRegistry)
METRICS = web.AppKey("mediaserve_metrics_collector", SnapshotCollector)
LIMITER = web.AppKey("mediaserve_seek_limiter", RateLimiter)


def _json(data: Any, status: int = 200) -> web.Response:
    return web.Response(status=status, text=json.dumps(data, ensure_ascii=False),
                        content_type="application/json", charset="utf-8")


def _title(state: ServerState, video_id: str) -> str | None:
    video = state.catalog.get(video_id)
    return video.entry.path.rsplit("/", 1)[-1] if video is not None else None


async def get_stats(request: web.Request) -> web.Response:
    state: ServerState = request.app[STATE]
    if not state.stats.enabled:
        return json_error(404, _OFF)
    text = request.query.get("top", str(DEFAULT_TOP))
    limit = state.stats.max_videos
    if not text.isdigit() or int(text) > limit:  # isdigit: no sign, no spaces, no 1e3
        return json_error(400, f"top must be a whole number from 0 to {limit}")
    doc = server_snapshot(request.app[SITE], top=int(text), title_of=lambda vid: _title(state, vid))
    return _json(_with_extras(request.app, doc))


def _with_extras(app: web.Application, doc: dict[str, Any]) -> dict[str, Any]:
    """Add each feature's own snapshot (``STATS_EXTRAS``: playback) under its name."""
    for name, snapshot in app.get(STATS_EXTRAS, {}).items():
        doc[name] = snapshot()
    return doc


async def get_video_stats(request: web.Request) -> web.Response:
    state: ServerState = request.app[STATE]
    video_id = request.match_info["id"]
    if state.catalog.get(video_id) is None:
        return json_error(404, "unknown video id")
    if not state.stats.enabled:
        return json_error(404, _OFF)
    return _json(server_video(request.app[SITE], video_id, _title(state, video_id)))


async def post_seek_analytics(request: web.Request) -> web.Response:
    """Player-reported seek positions. Order of checks: unknown id (404), too large (413),
    rate (429, one token up front so a flood of garbage is limited too), bad body (400),
    then the rest of the rate (one token per position)."""
    state: ServerState = request.app[STATE]
    video = state.catalog.get(request.match_info["id"])
    if video is None:
        return json_error(404, "unknown video id")
    if not state.stats.enabled:
        return json_error(404, _OFF)
    too_large = f"the report is larger than {MAX_BODY_BYTES} bytes"
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        return json_error(413, too_large)
    body = await request.read()  # bounded by the app's client_max_size (413 beyond it)
    if len(body) > MAX_BODY_BYTES:
        return json_error(413, too_large)
    limiter = request.app[LIMITER]
    client = request.remote or "unknown"
    now = asyncio.get_running_loop().time()
    if wait := limiter.take(client, 1, now):
        return _too_many(wait)
    try:
        positions = parse_report(body, video.entry.facts.duration)
    except ReportError as exc:
        return json_error(400, str(exc))
    if len(positions) > 1 and (wait := limiter.take(client, len(positions) - 1, now)):
        return _too_many(wait)
    accepted = state.stats.player_seeks(video.entry.id, positions,
                                        video.entry.facts.duration or 1.0)
    return _json({"accepted": accepted}, status=202)


def _too_many(wait: float) -> web.Response:
    response = json_error(429, "too many seek reports from this client; slow down")
    response.headers["Retry-After"] = str(max(1, math.ceil(wait)) if math.isfinite(wait)
                                          else 60)
    return response


async def get_metrics(request: web.Request) -> web.Response:
    state: ServerState = request.app[STATE]
    if not state.stats.enabled:
        return json_error(404, _OFF)
    # on the loop: the collector is not thread-safe; with workers, the whole server's
    snapshot = _with_extras(request.app, server_snapshot(request.app[SITE]))
    body, content_type = await asyncio.get_running_loop().run_in_executor(
        None, exposition, request.app[REGISTRY], request.app[METRICS], snapshot)
    return web.Response(body=body, headers={"Content-Type": content_type,
                                            "Cache-Control": "no-store"})


def _library_totals(state: ServerState) -> Any:
    """``{"videos", "duration", "bytes"}`` of the library being served: what ``serve``'s
    start-up line says, for ``mediaserve stats`` to repeat (that line scrolls away). Summed
    once per catalog (an index reload brings a new one), not per poll."""
    cached: dict[str, Any] = {"catalog": lambda: None}

    def totals() -> dict[str, Any]:
        catalog = state.catalog
        if cached["catalog"]() is not catalog:  # a weak reference: no old catalog kept
            videos, seconds, size = catalog.index.totals()
            cached.update(catalog=weakref.ref(catalog),
                          doc={"videos": videos, "duration": round(seconds, 3), "bytes": size})
        return dict(cached["doc"])

    return totals


def add_stats_routes(app: web.Application) -> None:
    """Give the app its collector (a no-op one when ``stats = false``), a Prometheus
    registry and a rate limiter of its own, and register the statistics endpoints."""
    state = app[STATE]
    app[REGISTRY], app[METRICS] = new_registry(state.stats)
    app[LIMITER] = RateLimiter()
    app.setdefault(STATS_EXTRAS, {})["library"] = _library_totals(state)
    router = app.router
    router.add_get("/api/stats", get_stats)
    router.add_get(f"{_VIDEO}/streaming-stats", get_video_stats)
    router.add_post(f"{_VIDEO}/seek-analytics", post_seek_analytics)
    router.add_get("/metrics", get_metrics)
