"""The fields the web UI adds to a video's JSON: a clean title, a versioned poster URL and
the subtitle tracks. Additive: older clients ignore them."""

from __future__ import annotations

import hashlib
from typing import Any

from mediaserve.core.library.index import VideoEntry
from mediaserve.core.web.subtitles import track_info
from mediaserve.core.web.titles import clean_title


def version_token(size: int, mtime_ns: int) -> str:
    """A short token that changes when the file does: it versions poster and sprite URLs,
    so they can be cached for a year and still never show an old picture."""
    return hashlib.sha256(f"{size}:{mtime_ns}".encode()).hexdigest()[:10]


def media_json(entry: VideoEntry, base: str = "") -> dict[str, Any]:
    name = entry.path.rsplit("/", 1)[-1]
    prefix = f"{base}/api/videos/{entry.id}"
    subtitles = []
    for number, sub in enumerate(entry.subtitles):
        info = track_info(name, sub)
        subtitles.append({"url": f"{prefix}/subtitles/{number}.vtt", "label": info.label,
                          "srclang": info.srclang, "file": sub})
    return {
        "title": clean_title(name),
        "poster_url": f"{prefix}/poster.jpg?v={version_token(entry.size, entry.mtime_ns)}",
        "subtitles": subtitles,
    }
