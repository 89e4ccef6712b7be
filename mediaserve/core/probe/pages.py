"""A mediaserve page URL given to ``probe`` instead of a video's: which stream it shows.

People copy the address bar: ``http://host:8080/watch/ID`` is the player *page*, an HTML
document answered whole with 200, so a probe of it reports "Range support: no" about a
server whose streams support ranges. The page's video is ``/api/videos/ID/stream`` beside
it; the probe points there instead of judging the page.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

__all__ = ["is_html", "stream_of_player_page"]

#: mediaserve's player route, after whatever prefix a reverse proxy mounts it under
_PLAYER = re.compile(r"(?P<prefix>.*)/watch/(?P<id>[0-9a-f]{12,64})/?")


def stream_of_player_page(url: str) -> str | None:
    """The stream URL of the video a player page URL (``.../watch/ID``) shows, with the
    same query (a ``?token=`` keeps working); None for any other URL."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    match = _PLAYER.fullmatch(parts.path)
    if match is None:
        return None
    path = f"{match['prefix']}/api/videos/{match['id']}/stream"
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))


def is_html(content_type: str | None) -> bool:
    """Whether an answer's Content-Type is a web page (what a player page answers)."""
    if not content_type:
        return False
    return content_type.split(";", 1)[0].strip().lower() in ("text/html",
                                                             "application/xhtml+xml")
