"""``/api/me``: the chosen profile, its preferences, its progress and its home rows.

Progress reports come every few seconds from every playing tab and device, and from
``navigator.sendBeacon`` when a page goes away: POST, no custom headers, a ``text/plain``
(string) or ``application/json`` (Blob) body; the body is read as JSON either way. A report
for an id the library does not have is refused (404), so made-up ids cannot fill the store.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from mediaserve.adapters.profiles.library_view import LibraryView
from mediaserve.adapters.profiles.service import (
    PROFILES,
    Refused,
    body_of,
    fields,
    finish,
    need_profile,
    public,
    reply,
)
from mediaserve.adapters.profiles.session import Current, Who, resolve
from mediaserve.adapters.profiles.store import StateStore
from mediaserve.core.profiles import home as rows_of
from mediaserve.core.profiles.home import DEFAULT_ROW, Row
from mediaserve.core.profiles.progress import (
    VIDEO_ID_RE,
    ProgressReport,
    in_progress,
    parse_report,
)
from mediaserve.core.web.listing import CARD_FIELDS, card_row

#: ids one ``GET /api/me/progress?ids=`` may ask about
MAX_IDS = 1000
MAX_HOME_ROW = 50


def row_json(row: Row | None) -> dict[str, Any] | None:
    if row is None:
        return None
    return {"video": row.video, "position": row.position, "duration": row.duration,
            "watched": row.watched, "in_progress": in_progress(row.position, row.watched),
            "updated": row.updated}


def _profile(store: StateStore, asker: Who) -> tuple[Current, Any]:
    current = resolve(store, asker)
    return current, need_profile(current, asker)


def _me(store: StateStore, asker: Who) -> tuple[Current, Any, Row | None]:
    current, record = _profile(store, asker)
    return current, record, store.last_played(record.id)


async def me(request: web.Request) -> web.Response:
    """``{"mode", "profile", "preferences", "last_played": PROGRESS | null}``."""
    app = request.app[PROFILES]
    asker = app.who(request)
    current, record, last = await app.call(_me, asker)
    return finish(reply({"mode": asker.mode, "profile": public(record),
                         "preferences": record.preferences.as_dict(),
                         "last_played": row_json(last)}), request, current)


def _preferences(store: StateStore, asker: Who, changes: dict[str, Any]) -> Any:
    current, record = _profile(store, asker)
    return current, store.set_preferences(record.id, changes)


async def put_preferences(request: web.Request) -> web.Response:
    """Any subset of the preferences -> ``{"preferences": PREFERENCES}`` (merged)."""
    app = request.app[PROFILES]
    app.guard(request)
    changes = await body_of(request)
    current, prefs = await app.call(_preferences, app.who(request), changes)
    return finish(reply({"preferences": prefs.as_dict()}), request, current)


def _video_duration(request: web.Request) -> float | None:
    video = request.app[PROFILES].state.catalog.get(request.match_info["id"])
    if video is None:
        raise Refused(404, "unknown video id")
    duration = video.entry.facts.duration
    return float(duration) if duration else None


def _report(store: StateStore, asker: Who, vid: str, report: ProgressReport,
            known: float | None) -> tuple[Current, Row]:
    current, record = _profile(store, asker)
    return current, store.report(record.id, vid, report, known)


async def post_progress(request: web.Request) -> web.Response:
    """``{"position", "duration"?, "ended"?}`` -> ``{"progress": PROGRESS}``."""
    app = request.app[PROFILES]
    app.guard(request)
    known = _video_duration(request)
    report = parse_report(await request.read())
    current, row = await app.call(_report, app.who(request), request.match_info["id"],
                                  report, known)
    return finish(reply({"progress": row_json(row)}), request, current)


def _mark(store: StateStore, asker: Who, vid: str, watched: bool) -> tuple[Current, Row]:
    current, record = _profile(store, asker)
    return current, store.mark(record.id, vid, watched)


async def post_watched(request: web.Request) -> web.Response:
    """``{"watched": true | false}`` (empty body: true) -> ``{"progress": PROGRESS}``."""
    app = request.app[PROFILES]
    app.guard(request)
    _video_duration(request)
    body = fields(await body_of(request, required=False), ("watched",))
    watched = body.get("watched", True)
    if not isinstance(watched, bool):
        raise Refused(400, "watched must be true or false")
    current, row = await app.call(_mark, app.who(request), request.match_info["id"],
                                  watched)
    return finish(reply({"progress": row_json(row)}), request, current)


def _ids(request: web.Request) -> list[str] | None:
    raw = request.query.get("ids")
    if raw is None:
        return None
    ids = [part for part in raw.split(",") if part]
    if len(ids) > MAX_IDS or not all(VIDEO_ID_RE.fullmatch(vid) for vid in ids):
        raise Refused(400, f"ids must be at most {MAX_IDS} video ids, comma-separated")
    return ids


def _progress(store: StateStore, asker: Who, ids: list[str] | None) -> tuple[Current, str]:
    current, record = _profile(store, asker)
    found = {row.video: row_json(row) for row in store.rows(record.id, ids)}
    return current, json.dumps({"progress": found})  # here, not on the loop: 20,000 rows


async def get_progress(request: web.Request) -> web.Response:
    """``{"progress": {VIDEO_ID: PROGRESS, ...}}``: the rows of ``?ids=a,b`` (ids without
    one are left out), or every row of the profile, last played first."""
    app = request.app[PROFILES]
    current, text = await app.call(_progress, app.who(request), _ids(request))
    return finish(reply(None, text=text), request, current)


def _limit(request: web.Request) -> int:
    raw = request.query.get("limit", str(DEFAULT_ROW))
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_HOME_ROW:
        raise Refused(400, f"limit must be a whole number from 1 to {MAX_HOME_ROW}")
    return int(raw)


def card(catalog: Any, vid: str) -> dict[str, Any]:
    return dict(zip(CARD_FIELDS, card_row(catalog.get(vid).as_json()), strict=True))


def _home(store: StateStore, asker: Who, view: LibraryView, catalog: Any,
          limit: int) -> tuple[Current, dict[str, Any]]:
    current, record = _profile(store, asker)
    rows = store.rows(record.id)
    by_video = {row.video: row for row in rows}

    def item(vid: str, **extra: Any) -> dict[str, Any]:
        return {"video": vid, **extra, "progress": row_json(by_video.get(vid)),
                "card": card(catalog, vid)}

    return current, {
        "continue_watching": [item(row.video) for row in
                              rows_of.continue_watching(rows, view.present, limit)],
        "next_up": [item(vid, after=after) for vid, after in
                    rows_of.next_up(rows, view.episodes.next_after, view.present, limit,
                                    view.episodes.episode_of)],
        "recently_added": [item(vid) for vid in view.recent[:limit]],
    }


async def home(request: web.Request) -> web.Response:
    """``{"continue_watching", "next_up", "recently_added"}``: lists of ``{"video",
    "progress": PROGRESS | null, "card": CARD}`` (next up adds ``"after"``)."""
    app = request.app[PROFILES]
    limit = _limit(request)
    catalog = app.state.catalog
    view = await app.views.get(catalog)
    current, rows = await app.call(_home, app.who(request), view, catalog, limit)
    return finish(reply(rows), request, current)
