"""``GET /api/auth/check``: whether this request's credentials would be accepted.

Why it exists: a caching proxy in front (``docs/deploy/nginx-mediaserve.conf``) keeps video
slices under the URL alone, so every viewer of a scene shares them; without asking us it
would hand a cached slice to a client with no credentials, or wrong ones. nginx's
``auth_request`` asks this endpoint first, with the client's own headers and query string.

The handler itself does nothing: the authentication middleware around every route has
already decided by the time it runs (204 here; 401 from the middleware otherwise, with the
same challenge, the same scrypt queue and the same limits as any other route), so the check
can never be a faster password oracle than the rest of the server, and it answers from the
credential alone (no file, no catalog). ``Cache-Control: no-store`` keeps a generic cache
from storing an answer that depends on credentials; nginx's config caches it on purpose,
keyed by the credential-bearing headers and query.
"""

from __future__ import annotations

from aiohttp import web

AUTH_CHECK_PATH = "/api/auth/check"


async def auth_check(_request: web.Request) -> web.Response:
    """204: the credentials passed (or none are required)."""
    return web.Response(status=204, headers={"Cache-Control": "no-store"})


__all__ = ["AUTH_CHECK_PATH", "auth_check"]
