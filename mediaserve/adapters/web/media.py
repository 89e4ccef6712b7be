"""Routes for posters, seek-preview thumbnails and subtitle tracks.

URLs carry the video id only; every file is opened beneath the library root the way a
stream is. Pictures are versioned by the video's size and mtime (the ``v`` query parameter
the listing hands out): when ``v`` matches the file as it is now, the answer may be cached
for a year; otherwise it is revalidated with its ETag.
"""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path
from typing import Any

from aiohttp import web

from mediaserve.adapters.web.frames import FrameService
from mediaserve.adapters.web.http import IMMUTABLE, LibraryState, etag_matches, json_error
from mediaserve.adapters.web.subtitles import SubtitleTooLarge, SubtitleTracks, Track
from mediaserve.core.http.ranges import Conditionals, evaluate
from mediaserve.core.library.facts import display_size
from mediaserve.core.web.decoding import decodes_heavy, pixel_refusal
from mediaserve.core.web.media import picture_version
from mediaserve.core.web.sprites import (
    SpriteLayout,
    plan_sprite,
    poster_times,
    thumbnails_vtt,
)

#: a flat grey 32x18 JPEG: the neutral poster for videos without a decodable frame
PLACEHOLDER_JPEG = base64.b64decode(
    "/9j//gAQTGF2YzYyLjI4LjEwMgD/2wBDAAgEBAQEBAUFBQUFBQYGBgYGBgYGBgYGBgYHBwcICAgHBwcGBgcH"
    "CAgICAkJCQgICAgJCQoKCgwMCwsODg4RERT/3QAEAAL/xAGiAAABBQEBAQEBAQAAAAAAAAAAAQIDBAUGBwgJ"
    "CgsBAAMBAQEBAQEBAQEAAAAAAAABAgMEBQYHCAkKCxAAAgEDAwIEAwUFBAQAAAF9AQIDAAQRBRIhMUEGE1Fh"
    "ByJxFDKBkaEII0KxwRVS0fAkM2JyggkKFhcYGRolJicoKSo0NTY3ODk6Q0RFRkdISUpTVFVWV1hZWmNkZWZn"
    "aGlqc3R1dnd4eXqDhIWGh4iJipKTlJWWl5iZmqKjpKWmp6ipqrKztLW2t7i5usLDxMXGx8jJytLT1NXW19jZ"
    "2uHi4+Tl5ufo6erx8vP09fb3+Pn6EQACAQIEBAMEBwUEBAABAncAAQIDEQQFITEGEkFRB2FxEyIygQgUQpGh"
    "scEJIzNS8BVictEKFiQ04SXxFxgZGiYnKCkqNTY3ODk6Q0RFRkdISUpTVFVWV1hZWmNkZWZnaGlqc3R1dnd4"
    "eXqCg4SFhoeIiYqSk5SVlpeYmZqio6Slpqeoqaqys7S1tre4ubrCw8TFxsfIycrS09TV1tfY2dri4+Tl5ufo"
    "6ery8/T19vf4+fr/wAARCAASACADASIAAhEAAxEA/9oADAMBAAIRAxEAPwDn6KKKACiiigD/0OfooooAKKKK"
    "AP/Z")
PLACEHOLDER_ETAG = '"placeholder-1"'


def _picture(request: web.Request, path: Path | None, version: str | None, etag: str
             ) -> web.Response:
    """Answer with the cached JPEG at ``path`` (read by the caller's executor), or the
    placeholder when there is none."""
    if path is None:
        headers = {"ETag": PLACEHOLDER_ETAG, "Cache-Control": "no-cache",
                   "X-Mediaserve-Placeholder": "1"}
        if etag_matches(request, PLACEHOLDER_ETAG):
            return web.Response(status=304, headers=headers)
        return web.Response(body=PLACEHOLDER_JPEG, content_type="image/jpeg", headers=headers)
    cache = IMMUTABLE if request.query.get("v") == version else "no-cache"
    headers = {"ETag": etag, "Cache-Control": cache}
    if etag_matches(request, etag):
        return web.Response(status=304, headers=headers)
    return web.Response(body=path.read_bytes(), content_type="image/jpeg", headers=headers)


class MediaRoutes:
    """Handlers bound to one server's state and frame service."""

    def __init__(self, state: LibraryState, frames: FrameService) -> None:
        self.state = state
        self.frames = frames
        self.tracks = SubtitleTracks(state.opener)

    def _video(self, request: web.Request) -> Any:
        return self.state.catalog.get(request.match_info["id"])

    async def poster(self, request: web.Request) -> web.StreamResponse:
        video = self._video(request)
        if video is None:
            return json_error(404, "unknown video id")
        entry = video.entry
        loop = asyncio.get_running_loop()
        version = await self._version(entry)
        path = None
        facts = entry.facts
        # over the pixel budget by the scan's reading of the stream: no worker is started
        # (the worker checks again, from the file as it is now)
        if version is not None and pixel_refusal(facts.width, facts.height) is None:
            path = await self.frames.poster(
                entry.id, entry.path, version, poster_times(facts.duration),
                heavy=decodes_heavy(facts.width, facts.height), rotation=facts.rotation or 0)
        etag = f'"poster-{version}"'
        return await loop.run_in_executor(None, _picture, request, path, version, etag)

    async def _version(self, entry: Any) -> str | None:
        """The version of the entry's pictures: the file's as it is now (a fresh fstat, in
        an executor) with the rotation the index records; None when the file is gone."""
        loop = asyncio.get_running_loop()
        version = await loop.run_in_executor(None, self.frames.version, entry.path)
        return None if version is None else picture_version(version, entry.facts.rotation)

    def _layout(self, video: Any) -> SpriteLayout | None:
        facts = video.entry.facts
        if not facts.video_codec:
            return None
        return plan_sprite(facts.duration, *display_size(facts))  # a portrait video: portrait tiles

    async def _sprite_target(
            self, request: web.Request) -> web.Response | tuple[Any, SpriteLayout, str]:
        """The entry, sprite layout and file version behind a seek-preview request, or the
        404 that explains why there is none; the VTT and the sprite answer the same way."""
        video = self._video(request)
        if video is None:
            return json_error(404, "unknown video id")
        layout = self._layout(video)
        if layout is None:
            return json_error(404, "no seek previews for this video (no picture or duration)")
        refusal = pixel_refusal(video.entry.facts.width, video.entry.facts.height)
        if refusal is not None:
            return json_error(404, f"no seek previews for this video: {refusal}")
        entry = video.entry
        version = await self._version(entry)
        if version is None:
            return json_error(404, "the video file is missing from disk", missing=True)
        return entry, layout, version

    async def thumbnails_vtt(self, request: web.Request) -> web.StreamResponse:
        target = await self._sprite_target(request)
        if isinstance(target, web.Response):
            return target
        entry, layout, version = target
        url = f"/api/videos/{entry.id}/thumbnails.jpg?v={version}"
        # start the sprite now, in the background: by the time the pointer hovers the seek
        # bar it is usually there
        task = asyncio.ensure_future(self._sprite(entry, version, layout))
        task.add_done_callback(lambda t: t.cancelled() or t.exception())
        return web.Response(text=thumbnails_vtt(layout, url), content_type="text/vtt",
                            charset="utf-8", headers={"Cache-Control": "no-cache"})

    async def _sprite(self, entry: Any, version: str, layout: SpriteLayout) -> Path | None:
        times = [layout.sample_time(i) for i in range(layout.count)]
        facts = entry.facts
        return await self.frames.sprite(
            entry.id, entry.path, version, layout.signature(), times,
            (layout.tile_width, layout.tile_height), layout.columns,
            heavy=decodes_heavy(facts.width, facts.height), rotation=facts.rotation or 0)

    async def thumbnails_jpg(self, request: web.Request) -> web.StreamResponse:
        target = await self._sprite_target(request)
        if isinstance(target, web.Response):
            return target
        entry, layout, version = target
        loop = asyncio.get_running_loop()
        path = await self._sprite(entry, version, layout)
        if path is None:
            return json_error(404, "no frame of this video could be decoded")
        etag = f'"sprite-{version}-{layout.signature()}"'
        return await loop.run_in_executor(None, _picture, request, path, version, etag)

    async def subtitles(self, request: web.Request) -> web.StreamResponse:
        video = self._video(request)
        if video is None:
            return json_error(404, "unknown video id")
        entry = video.entry
        number = int(request.match_info["n"])
        if number >= len(entry.subtitles):
            return json_error(404, "this video has no such subtitle track")
        folder = entry.path.rsplit("/", 1)[0] + "/" if "/" in entry.path else ""
        try:
            track = await self.tracks.get(folder + entry.subtitles[number])
        except FileNotFoundError:
            return json_error(404, "the subtitle file is missing from disk", missing=True)
        except OSError as exc:
            return json_error(403 if isinstance(exc, PermissionError) else 404,
                              f"cannot read the subtitle file: {exc.strerror or exc}")
        except SubtitleTooLarge as exc:
            return json_error(413, str(exc))
        return _track_response(request, track)


def _track_response(request: web.Request, track: Track) -> web.Response:
    """200 with the track, or 304/412 by its validators (RFC 9110 §13.2.2, as a stream is
    answered; the track is always sent whole, so a Range is not read)."""
    headers = {"Cache-Control": "no-cache"}
    validators = track.validators
    if validators is not None:
        headers["ETag"] = validators.etag
        headers["Last-Modified"] = validators.last_modified
        conditionals = Conditionals.from_headers(request.headers)._replace(range=None,
                                                                           if_range=None)
        plan = evaluate("GET", conditionals, validators, "text/vtt")
        if plan.status != 200:
            return web.Response(status=plan.status, headers=headers)
    return web.Response(body=track.body, content_type="text/vtt", charset="utf-8",
                        headers=headers)
