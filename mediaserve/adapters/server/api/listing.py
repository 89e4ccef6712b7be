"""``/api/videos`` encoded once per catalog version, off the event loop.

A 10,000-video listing is ~5 MB of JSON: building it took 0.1 s of the event loop per
request, so a few clients polling it delayed every stream (seeks waited ~0.4 s, the loop was
held for up to a second). Now each catalog version is serialised once, in an executor thread
when the library is large, and each coding (identity, gzip, brotli if the module happens to
be installed) is produced once, on first demand. Answers carry an ETag, so a client that
polls gets ``304`` without a body.

The work in the thread is cut into small C calls (one ``json.dumps`` per video, then a join):
a single ``json.dumps`` of the whole list would keep the GIL for its whole 50-100 ms and hold
the loop just the same from another thread. zlib and hashlib release the GIL on big buffers.

The cache belongs to a :class:`Catalog` instance: a reloaded library is a new catalog, hence
a new cache; presence changes (a file vanishing or coming back) bump the catalog's version.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from aiohttp import web

from mediaserve.adapters.server.site.listing_cache import CODINGS, INLINE_MAX_VIDEOS, ListingCache
from mediaserve.core.http.encoding import choose_encoding, etag_matches

__all__ = ["INLINE_MAX_VIDEOS", "ListingCache", "json_with_etag", "listing_response"]

_PIECE = 256 * 1024  # bodies larger than this are written in pieces of this size

async def listing_response(request: web.Request, cache: ListingCache) -> web.StreamResponse:
    """200 with the cached body in the best coding the client accepts, or 304."""
    coding = choose_encoding(request.headers.get("Accept-Encoding"), CODINGS)
    await cache.body("identity")  # the ETag is the identity body's hash
    headers = {"ETag": cache.etag(coding), "Vary": "Accept-Encoding",
               "Cache-Control": "no-cache"}
    if etag_matches(request.headers.get("If-None-Match"), cache.etags()):
        return web.Response(status=304, headers=headers)
    body = await cache.body(coding)
    if coding != "identity":
        headers["Content-Encoding"] = coding
    if len(body) <= _PIECE or request.method == "HEAD":
        return web.Response(body=body, headers=headers, content_type="application/json",
                            charset="utf-8")
    # megabytes handed to the transport at once are copied into its buffer in one go and
    # trimmed from its front as the socket drains: pieces keep each step short
    response = web.StreamResponse(headers=headers)
    response.content_type, response.charset = "application/json", "utf-8"
    response.content_length = len(body)
    await response.prepare(request)
    view = memoryview(body)
    for start in range(0, len(body), _PIECE):
        await response.write(view[start:start + _PIECE])
    await response.write_eof()
    return response


def json_with_etag(request: web.Request, document: Any) -> web.Response:
    """A small JSON answer with an ETag of its bytes, ``304`` when the client has them."""
    data = json.dumps(document, ensure_ascii=False).encode()
    etag = f'"{hashlib.blake2b(data, digest_size=12).hexdigest()}"'
    headers = {"ETag": etag, "Cache-Control": "no-cache"}
    if etag_matches(request.headers.get("If-None-Match"), (etag,)):
        return web.Response(status=304, headers=headers)
    return web.Response(body=data, headers=headers, content_type="application/json",
                        charset="utf-8")
