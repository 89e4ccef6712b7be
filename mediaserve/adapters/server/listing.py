"""``GET /api/videos``: the whole listing (``view=full``, the default) or the compact card
table the web page loads (``view=cards``), whole or a page at a time.

A whole listing is encoded once per catalog state (off the event loop: 5,000 videos take
~50 ms to encode), gzipped once, and served from memory with an ETag after that, so a
library page reload costs a 304. The cache is dropped when the catalog changes (a file went
missing or came back) or is replaced (a reloaded index).
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from mediaserve.adapters.server.catalog import Catalog
from mediaserve.adapters.server.state import json_error
from mediaserve.core.web.listing import QueryError, cards, page_of, parse_page, parse_view

#: below this many bytes gzip is not worth its CPU
_GZIP_MIN = 2048


@dataclass(frozen=True, slots=True)
class Encoded:
    body: bytes
    gzipped: bytes | None
    etag: str


def _encode(doc: Any, compact: bool) -> Encoded:
    # the full view keeps json's usual ", " and ": " (as it always had); the card view is
    # for machines only
    separators = (",", ":") if compact else None
    body = json.dumps(doc, ensure_ascii=False, separators=separators).encode("utf-8")
    etag = '"' + hashlib.sha256(body).hexdigest()[:20] + '"'
    gzipped = gzip.compress(body, 5) if len(body) >= _GZIP_MIN else None
    return Encoded(body, gzipped, etag)


def _document(catalog: Catalog, view: str) -> dict[str, Any]:
    docs = catalog.listing()
    if view == "cards":
        return cards(docs)
    return {"count": len(docs), "videos": docs}


_cache: dict[str, tuple[Catalog, int, Encoded]] = {}


async def _whole(catalog: Catalog, view: str) -> Encoded:
    cached = _cache.get(view)
    if cached is not None and cached[0] is catalog and cached[1] == catalog.generation:
        return cached[2]
    generation = catalog.generation
    loop = asyncio.get_running_loop()
    encoded = await loop.run_in_executor(None, lambda: _encode(_document(catalog, view),
                                                                   view == "cards"))
    _cache[view] = (catalog, generation, encoded)
    return encoded


def _respond(request: web.Request, encoded: Encoded) -> web.Response:
    headers = {"ETag": encoded.etag, "Cache-Control": "no-cache", "Vary": "Accept-Encoding"}
    inm = request.headers.get("If-None-Match", "")
    if encoded.etag in (tag.strip().removeprefix("W/") for tag in inm.split(",")):
        return web.Response(status=304, headers=headers)
    body = encoded.body
    if encoded.gzipped is not None and "gzip" in request.headers.get("Accept-Encoding", ""):
        body = encoded.gzipped
        headers["Content-Encoding"] = "gzip"
    return web.Response(body=body, headers=headers, content_type="application/json",
                        charset="utf-8")


async def list_videos(request: web.Request, catalog: Catalog) -> web.Response:
    try:
        view = parse_view(request.query)
        page = parse_page(request.query)
    except QueryError as exc:
        return json_error(400, str(exc))
    if page.whole:
        return _respond(request, await _whole(catalog, view))
    ordered = sorted(catalog.videos.values(), key=lambda v: v.entry.path)
    docs = [video.as_json() for video in page_of(ordered, page)]  # only the page's JSON
    doc: dict[str, Any] = cards(docs) if view == "cards" else {"count": len(docs),
                                                               "videos": docs}
    doc.update(total=len(ordered), offset=page.offset)
    return web.json_response(doc, dumps=lambda d: json.dumps(d, ensure_ascii=False))
