"""``GET /api/videos`` with a query: the compact card table (``view=cards``) the library
page loads, and pages of either view (``offset``/``limit``).

The plain listing (``listing.py``) sends every fact and finding of every video: 3 MB for
5,000 videos. The card table is a third of that (field names once, one array per video).
It is encoded once per catalog version, off the event loop, gzipped once, and answered with
an ETag, as the plain listing is; pages are small and built per request.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from mediaserve.adapters.server.api.keys import json_error
from mediaserve.adapters.server.site.catalog import Catalog
from mediaserve.core.http.encoding import choose_encoding, etag_matches
from mediaserve.core.web.listing import QueryError, cards, page_of, parse_page, parse_view


@dataclass(frozen=True, slots=True)
class Encoded:
    body: bytes
    gzipped: bytes
    etag: str


def _encode(doc: Any) -> Encoded:
    body = json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    etag = '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '-cards"'
    return Encoded(body, gzip.compress(body, 6, mtime=0), etag)


#: the card table per catalog (by identity: a reloaded library is a new catalog) and version
_cache: dict[str, tuple[Catalog, int, Encoded]] = {}


async def _cards(catalog: Catalog) -> Encoded:
    cached = _cache.get("cards")
    if cached is not None and cached[0] is catalog and cached[1] == catalog.version:
        return cached[2]
    version = catalog.version
    loop = asyncio.get_running_loop()
    encoded = await loop.run_in_executor(None, lambda: _encode(cards(catalog.listing())))
    _cache["cards"] = (catalog, version, encoded)
    return encoded


def _respond(request: web.Request, encoded: Encoded) -> web.Response:
    coding = choose_encoding(request.headers.get("Accept-Encoding"), ("gzip",))
    tag = encoded.etag if coding == "identity" else encoded.etag[:-1] + '-gzip"'
    headers = {"ETag": tag, "Cache-Control": "no-cache", "Vary": "Accept-Encoding"}
    if etag_matches(request.headers.get("If-None-Match"),
                    (encoded.etag, encoded.etag[:-1] + '-gzip"')):
        return web.Response(status=304, headers=headers)
    body = encoded.body
    if coding == "gzip":
        body = encoded.gzipped
        headers["Content-Encoding"] = "gzip"
    return web.Response(body=body, headers=headers, content_type="application/json",
                        charset="utf-8")


async def listing_view(request: web.Request, catalog: Catalog) -> web.StreamResponse | None:
    """The answer for a listing with a view or a page; None for the plain whole listing
    (the caller serves that from its own cache)."""
    try:
        view = parse_view(request.query)
        page = parse_page(request.query)
    except QueryError as exc:
        return json_error(400, str(exc))
    if page.whole:
        return None if view == "full" else _respond(request, await _cards(catalog))
    ordered = sorted(catalog.videos.values(), key=lambda v: v.entry.path)
    docs = [video.as_json() for video in page_of(ordered, page)]  # only the page's JSON
    doc: dict[str, Any] = cards(docs) if view == "cards" else {"count": len(docs),
                                                               "videos": docs}
    doc.update(total=len(ordered), offset=page.offset)
    return web.json_response(doc, dumps=lambda d: json.dumps(d, ensure_ascii=False))
