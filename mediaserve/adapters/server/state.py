"""The aiohttp side of the shared state: the app key handlers find it under, JSON errors."""

from __future__ import annotations

from aiohttp import web

from mediaserve.adapters.server.site.state import SERVER_NAME, ServerState
from mediaserve.adapters.web.http import json_error

__all__ = ["SERVER_NAME", "STATE", "ServerState", "json_error"]

STATE = web.AppKey("mediaserve_state", ServerState)
