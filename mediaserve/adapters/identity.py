"""Who a request comes from, as the authentication middleware established it.

Set by ``adapters/server/api/access.py`` (the server wing), read by ``adapters/profiles`` (a
user of ``--auth-users`` *is* a profile), so it sits at the adapters' root where both may
import it without one wing importing the other.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

_NAME = "mediaserve_auth_user"
#: the name of the ``--auth-users`` user the request authenticated as (absent: none)
AUTH_USER: Any = web.RequestKey(_NAME, str) if hasattr(web, "RequestKey") else _NAME


def authenticated_user(request: web.Request) -> str | None:
    """The user the middleware verified (Basic or the user's login cookie), else None:
    no authentication, or the token (which belongs to nobody)."""
    user = request.get(AUTH_USER)
    return user if isinstance(user, str) else None
