"""Response headers a media server owes, computed without a web framework.

Content-Disposition is built from a user's file name, which may hold quotes, CR/LF or any
Unicode: the ASCII ``filename`` is sanitised so it can never break or inject a header, and the
exact name travels in RFC 5987/8187 ``filename*``, both without control and bidi characters
(a browser saving ``rtl\\u202egpj.mp4`` would show it as "rtlmp4.jpg"). CORS is a pure
decision over an allow-list, so a default install sends no CORS headers at all.
"""

from __future__ import annotations

import unicodedata
from urllib.parse import quote

from mediaserve.core.text.controls import strip_controls

_CORS_EXPOSE = "Content-Range, Content-Length, Accept-Ranges, ETag, Last-Modified"
_CORS_ALLOW_HEADERS = "Range, If-Range, If-Match, If-None-Match, If-Modified-Since, " \
                      "If-Unmodified-Since, Authorization"


def content_disposition(filename: str, disposition: str = "inline") -> str:
    """``inline; filename="safe ascii"; filename*=UTF-8''exact%20name``."""
    name = strip_controls(filename.rsplit("/", 1)[-1]) or "video"
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    # `;` is legal inside a quoted filename, but naive client parsers split on it (aiohttp's
    # gives up on `filename=";;"`): the fallback avoids it, filename* keeps the exact name
    ascii_name = "".join(c if 0x20 <= ord(c) < 0x7F and c not in '"\\;' else "_"
                         for c in ascii_name).strip() or "video"
    exact = quote(name, safe="!#$&+-.^_`|~")
    if exact == ascii_name:
        return f'{disposition}; filename="{ascii_name}"'
    return f"{disposition}; filename=\"{ascii_name}\"; filename*=UTF-8''{exact}"


def cors_headers(origin: str | None, allowed: tuple[str, ...]) -> list[tuple[str, str]]:
    """Headers for an actual (non-preflight) response; empty unless the origin is allowed.

    ``Vary: Origin`` is sent whenever CORS is configured so a shared cache never serves one
    origin's answer to another.
    """
    if not allowed:
        return []
    headers = [("Vary", "Origin")]
    if origin is not None and origin.rstrip("/") in allowed:
        headers += [
            ("Access-Control-Allow-Origin", origin),
            ("Access-Control-Allow-Credentials", "true"),
            ("Access-Control-Expose-Headers", _CORS_EXPOSE),
        ]
    return headers


def cors_preflight(origin: str | None, method: str | None,
                   allowed: tuple[str, ...]) -> list[tuple[str, str]] | None:
    """Headers for an OPTIONS preflight, or None when it must be refused (403)."""
    if not allowed or origin is None or origin.rstrip("/") not in allowed:
        return None
    if (method or "").upper() not in ("GET", "HEAD"):
        return None
    return [
        ("Vary", "Origin"),
        ("Access-Control-Allow-Origin", origin),
        ("Access-Control-Allow-Credentials", "true"),
        ("Access-Control-Allow-Methods", "GET, HEAD, OPTIONS"),
        ("Access-Control-Allow-Headers", _CORS_ALLOW_HEADERS),
        ("Access-Control-Max-Age", "600"),
    ]
