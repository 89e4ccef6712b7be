"""The fields the web UI adds to a video's JSON: what its name says (title, kind, show,
season, episode…), a versioned poster URL and the subtitle tracks. Additive: older clients
ignore them."""

from __future__ import annotations

import hashlib
from typing import Any

from mediaserve.core.library.facts import quarter_turn
from mediaserve.core.library.index import VideoEntry
from mediaserve.core.naming import ParsedName, parse_path
from mediaserve.core.web.subtitles import track_info

#: what a video's name says, as JSON fields (``title`` first: what a card shows)
NAME_FIELDS = ("title", "kind", "show", "season", "episode", "episode_end", "episode_title",
               "year", "date", "part")


def version_token(size: int, mtime_ns: int) -> str:
    """A short token that changes when the file does: it versions poster and sprite URLs,
    so they can be cached for a year and still never show an old picture."""
    return hashlib.sha256(f"{size}:{mtime_ns}".encode()).hexdigest()[:10]


def picture_version(file_version: str, rotation: int | None) -> str:
    """The version of a video's poster and seek previews: the file's, plus its rotation when
    it has one, so a picture made before the rotation was known (or read differently) gets
    a new URL and cache file instead of a year of being shown on its side."""
    turn = quarter_turn(rotation)
    return f"{file_version}r{turn}" if turn else file_version


def poster_url(entry: VideoEntry, base: str = "") -> str:
    version = picture_version(version_token(entry.size, entry.mtime_ns), entry.facts.rotation)
    return f"{base}/api/videos/{entry.id}/poster.jpg?v={version}"


def name_json(parsed: ParsedName) -> dict[str, Any]:
    """The parsed name's fields (``kind`` as its string)."""
    doc: dict[str, Any] = {name: getattr(parsed, name) for name in NAME_FIELDS}
    doc["kind"] = str(parsed.kind)
    return doc


def media_json(entry: VideoEntry, base: str = "",
               parsed: ParsedName | None = None) -> dict[str, Any]:
    """``parsed`` is the entry's parsed name (read from its path when not given)."""
    name = entry.path.rsplit("/", 1)[-1]
    prefix = f"{base}/api/videos/{entry.id}"
    subtitles = []
    for number, sub in enumerate(entry.subtitles):
        info = track_info(name, sub)
        subtitles.append({"url": f"{prefix}/subtitles/{number}.vtt", "label": info.label,
                          "srclang": info.srclang, "file": sub})
    doc = name_json(parsed if parsed is not None else parse_path(entry.path))
    doc.update(poster_url=poster_url(entry, base), subtitles=subtitles)
    return doc
