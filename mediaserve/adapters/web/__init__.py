"""The web UI's server side: pages, posters, seek-preview sprites and subtitles.

Kept free of imports on purpose: worker processes import ``framegen`` from this package and
should not pay for aiohttp. ``routes.register(app, state)`` wires everything in.
"""
