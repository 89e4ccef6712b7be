"""The JSON of ``GET /api/shows`` and ``GET /api/shows/{id}``.

The per-episode facts that live in the server's catalog (duration, status, poster) come in
through ``facts(video_id)``, so this stays pure.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mediaserve.core.shows.model import Item, Season, Show, Shows

Facts = Callable[[str], dict[str, Any]]


def season_name(number: int) -> str:
    return "Specials" if number == 0 else f"Season {number}"


def _summary(show: Show, facts: Facts) -> dict[str, Any]:
    poster = show.first.id
    return {
        "id": show.id,
        "name": show.name,
        "folder": show.scope,
        "season_count": sum(1 for s in show.seasons if s.number != 0),
        "episode_count": show.episode_count,
        "seasons": [{"number": s.number, "name": season_name(s.number),
                     "episode_count": len(s.episodes)} for s in show.seasons],
        "poster_id": poster,
        "poster_url": facts(poster).get("poster_url"),
    }


def shows_document(shows: Shows, facts: Facts) -> dict[str, Any]:
    """Every show, by name: its seasons' sizes and the episode whose poster stands for it."""
    listed = [_summary(show, facts) for show in shows.shows.values()]
    return {"count": len(listed), "shows": listed}


def _episode(item: Item, shows: Shows, facts: Facts) -> dict[str, Any]:
    parsed = item.parsed
    return {
        "id": item.id,
        "title": parsed.title,
        "episode": parsed.episode,
        "episode_end": parsed.episode_end,
        "episode_title": parsed.episode_title,
        "date": parsed.date,
        "part": parsed.part,
        "previous_episode_id": shows.previous(item.id),
        "next_episode_id": shows.next(item.id),
        **facts(item.id),
    }


def _season(season: Season, shows: Shows, facts: Facts) -> dict[str, Any]:
    return {"number": season.number, "name": season_name(season.number),
            "episode_count": len(season.episodes),
            "episodes": [_episode(item, shows, facts) for item in season.episodes]}


def show_document(show: Show, shows: Shows, facts: Facts) -> dict[str, Any]:
    """One show: its summary, then its seasons (specials last) with their episodes in
    order, each with its neighbours and the catalog's facts."""
    doc = _summary(show, facts)
    doc["seasons"] = [_season(season, shows, facts) for season in show.seasons]
    return doc
