"""``serve_cached_file``: a produced file (segment, init segment) answered by the stream job.

A cached segment is a file like a video: the same RFC 9110 evaluator decides (ranges,
If-Range, If-None-Match, 304/412/416) from its validators (a strong ETag from its size, mtime,
inode and ctime: a segment made again is a new file, so it gets a new tag), the same header
fields leave in the same order, and the body goes through the stream job's one writer
(``sendfile``; bounded chunks under TLS or ``--no-sendfile``), under the send timeout.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from aiohttp import web

from mediaserve.adapters.server.stream.route import serve_opened, serve_produced


async def serve_cached_file(request: web.Request, path: Path,
                            content_type: str) -> web.StreamResponse:
    """Answer ``request`` with the file at ``path`` (a producer wrote it, atomically). A
    file evicted between the caller's check and the open is a 404."""
    return await serve_produced(request, str(path), content_type)


async def serve_leased_file(request: web.Request, fd: int, info: os.stat_result,
                            content_type: str, release: Callable[[int], None]
                            ) -> web.StreamResponse:
    """Answer ``request`` with a cached file already open (``SegmentFiles.lease``);
    ``release`` gives the descriptor back once the answer is over."""
    return await serve_opened(request, fd, info, content_type, release)
