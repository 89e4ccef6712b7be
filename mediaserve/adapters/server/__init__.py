"""The aiohttp server: routes, the sendfile response, middlewares and the process runner."""

from mediaserve.adapters.server.app import create_app

__all__ = ["create_app"]
