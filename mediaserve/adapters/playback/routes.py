"""The HLS routes and the playback plan in ``GET /api/videos/{id}``.

``GET /api/videos/{id}/hls/master.m3u8[?caps=...]`` lists the variants the plan needs (one
for remux or audio, the renditions for transcode); ``.../hls/{variant}/index.m3u8`` is the
whole VOD playlist of one variant; ``init.mp4`` and ``seg-{n}.m4s`` are its files, from the
cache or made on demand. Variants are the same for every browser ("remux", "audio",
"720p", ...): what differs per browser is which one its master lists. Everything is behind
the application's middlewares (hosts, errors, auth) like any other route.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import stat
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from mediaserve.adapters.playback.cache import SegmentCache, cache_folder, version_key
from mediaserve.adapters.playback.jobs import Job
from mediaserve.adapters.playback.manager import COMPLETE_MARKER, Busy, PlaybackService
from mediaserve.adapters.playback.producers import ProducerFailed
from mediaserve.adapters.playback.segment_files import (
    INIT_TYPE,
    SEGMENT_TYPE,
    SegmentFiles,
    has_variant,
)
from mediaserve.adapters.playback.serve_file import serve_cached_file, serve_leased_file
from mediaserve.adapters.playback.variants import NoVariant, master_variants, variant_job
from mediaserve.adapters.server.api.keys import (
    STATS_EXTRAS,
    VIDEO_EXTRAS,
    ServerState,
    json_error,
)
from mediaserve.core.library.index import MediaFacts
from mediaserve.core.playback.caps import CapsError, ClientCaps, parse_caps
from mediaserve.core.playback.decide import (
    Mode,
    PlaybackPlan,
    PlaybackSettings,
    converted,
    decide,
)
from mediaserve.core.playback.hls import (
    CONTENT_TYPE,
    Variant,
    master_playlist,
    media_playlist,
)
from mediaserve.core.playback.segments import (
    ladder,
)

PLAYBACK = web.AppKey("mediaserve_playback", PlaybackService)
ID = r"{id:[0-9a-f]{12,64}}"
VARIANT = r"{variant:[a-z0-9]{1,12}}"
#: how often a request waiting for a segment checks that its client is still there
GONE_POLL_S = 0.1


@dataclass(slots=True)
class Opened:
    """A video opened for playback: its source descriptor and its cache version folder."""

    facts: MediaFacts
    video_id: str
    fd: int
    folder: Path
    removed: list[str]  # folders of older versions of the file, just deleted

    @property
    def paths(self) -> tuple[str, ...]:
        proc = f"/proc/{os.getpid()}/fd/{self.fd}"
        try:
            return (proc, os.readlink(proc))
        except OSError:
            return (proc,)


class PlaybackRoutes:
    """Handlers bound to one server's state and playback service."""

    def __init__(self, state: ServerState, service: PlaybackService,
                 segments: SegmentFiles | None = None) -> None:
        self.state = state
        self.service = service
        self.segments = segments or SegmentFiles(state, service.cache)

    # -- shared ------------------------------------------------------------------------

    def _open(self, request: web.Request) -> Opened:
        """Open the video beneath the root (blocking: run in an executor)."""
        video = self.state.catalog.get(request.match_info["id"])
        if video is None:
            raise web.HTTPNotFound(reason="unknown video id")
        try:
            fd = self.state.opener.open(video.entry.path)
        except PermissionError:
            raise web.HTTPForbidden(reason="the video file is not readable by the server") \
                from None
        except OSError:
            raise web.HTTPNotFound(reason="the video file is missing from disk") from None
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            os.close(fd)
            raise web.HTTPNotFound(reason="the video file is missing from disk")
        version = version_key(info.st_size, info.st_mtime_ns, info.st_ino)
        folder, removed = self.service.cache.prepare_version(video.entry.id, version)
        return Opened(video.entry.facts, video.entry.id, fd, folder, removed)

    async def _opened(self, request: web.Request) -> tuple[Opened, dict[str, Any]]:
        loop = asyncio.get_running_loop()
        opened = await loop.run_in_executor(None, self._open, request)
        for folder in opened.removed:
            self.service.cache.forget(folder)
        try:
            analysis = await self.service.analysis(opened.folder, opened.paths)
        except BaseException:
            os.close(opened.fd)
            raise
        return opened, analysis

    # -- routes ------------------------------------------------------------------------

    async def master(self, request: web.Request) -> web.StreamResponse:
        """The master playlist of the plan, or with ``?convert=1`` the converted renditions
        whatever the plan (the quality menu's sizes for a video that plays without them)."""
        caps = _caps(request)
        choose = _chooser(request)
        video = self.state.catalog.get(request.match_info["id"])
        if video is None:
            return json_error(404, "unknown video id")
        first = choose(video.entry.facts, caps)
        if not first.hls:  # decided on the recorded facts: no file opened, no worker
            return json_error(404, "no HLS for this video in this browser: "
                              + "; ".join(first.reasons), playback=first.as_json())
        opened, analysis = await _guard(self._opened(request))
        try:
            settings = self.state.settings
            # a picture the analysis found no codec parameters for cannot be copied
            copyable = opened.facts.video_codec is None or bool(analysis.get("video_codecs"))

            def plan_for(allowed: PlaybackSettings | None = None) -> PlaybackPlan:
                if choose is converted:
                    return converted(opened.facts, caps, allowed)
                return decide(opened.facts, caps, allowed, copyable)

            plan = plan_for()
            listed = master_variants(opened.facts, analysis, plan) if plan.hls else []
            if not settings.live_transcode:  # only what `mediaserve prepare` made
                listed = [v for v in listed
                          if (opened.folder / v[0] / COMPLETE_MARKER).exists()]
            plan = plan_for(PlaybackSettings(settings.transcode, settings.live_transcode,
                                             bool(listed)))
            if not plan.hls:
                return json_error(404, "no HLS for this video in this browser: "
                                  + "; ".join(plan.reasons), playback=plan.as_json())
            variants = [Variant(f"{name}/index.m3u8", bandwidth, codecs, width, height,
                                opened.facts.frame_rate)
                        for name, bandwidth, codecs, width, height in listed]
        finally:
            os.close(opened.fd)
        return _text(master_playlist(variants))

    async def media(self, request: web.Request) -> web.StreamResponse:
        self._check_variant(request)
        opened, analysis = await _guard(self._opened(request))
        os.close(opened.fd)
        job = _variant_job(opened, analysis, request.match_info["variant"])
        return _text(media_playlist(job.timeline().durations(), opened.folder.name))

    async def init(self, request: web.Request) -> web.StreamResponse:
        return await self._file(request, -1, INIT_TYPE)

    async def segment(self, request: web.Request) -> web.StreamResponse:
        number = int(request.match_info["n"])
        return await self._file(request, number, SEGMENT_TYPE)

    async def _file(self, request: web.Request, number: int,
                    content_type: str) -> web.StreamResponse:
        self._check_variant(request)
        wanted = request.query.get("v")
        if wanted:  # made already, of this very file: sent as it is (no executor, no job)
            video = self.state.catalog.get(request.match_info["id"])
            assert video is not None  # _check_variant
            found = self.segments.lease(video, request.match_info["variant"],
                                        "init.mp4" if number < 0 else f"seg-{number}.m4s",
                                        wanted)
            if found is not None:
                return await serve_leased_file(request, *found, self.segments.release)
        opened, analysis = await _guard(self._opened(request))
        if wanted is not None and wanted != opened.folder.name:
            os.close(opened.fd)  # a playlist of a replaced file: never the new file's bytes
            return json_error(404, "the video file changed since its playlist was read; "
                              "load the playlist again")
        try:
            job = _variant_job(opened, analysis, request.match_info["variant"])
        except BaseException:
            os.close(opened.fd)
            raise
        if number >= len(job.starts):
            os.close(opened.fd)
            return json_error(404, f"this variant has {len(job.starts)} segments")
        folder = Path(job.out)
        path = folder / ("init.mp4" if number < 0 else f"seg-{number}.m4s")
        if path.exists():
            os.close(opened.fd)
            self.service.cache.used(str(path), hit=True)
            return await serve_cached_file(request, path, content_type)
        if not self.state.settings.live_transcode:
            os.close(opened.fd)
            return json_error(404, "this server converts only what was prepared ahead "
                              "(serve --no-live-transcode): run mediaserve prepare")
        await asyncio.get_running_loop().run_in_executor(
            None, lambda: folder.mkdir(parents=True, exist_ok=True))
        path = await _guard(_while_connected(
            request, self.service.produced(folder, job, number, opened.fd)))
        self.service.cache.used(str(path), hit=False)
        return await serve_cached_file(request, path, content_type)

    def _check_variant(self, request: web.Request) -> None:
        """404 before any work for a video or variant that cannot exist (recorded facts)."""
        video = self.state.catalog.get(request.match_info["id"])
        if video is None:
            raise web.HTTPNotFound(reason="unknown video id")
        if not self.state.settings.transcode:
            raise web.HTTPNotFound(reason="converting is switched off on this server "
                                   "(--no-transcode)")
        variant = request.match_info["variant"]
        if not has_variant(video.entry.facts, variant):
            raise web.HTTPNotFound(reason=f"this video has no variant {variant!r}")

    async def video_extra(self, request: web.Request, video: Any, doc: dict[str, Any]) -> None:
        """``playback`` in ``GET /api/videos/{id}``: the plan for this browser (``?caps=``,
        else the default browser's), its reasons, and the master playlist's URL."""
        caps = _caps(request)
        facts = video.entry.facts
        prepared = None
        if not self.state.settings.live_transcode:
            prepared = await asyncio.get_running_loop().run_in_executor(
                None, self._prepared, request, decide(facts, caps))
        plan = decide(facts, caps, PlaybackSettings(
            self.state.settings.transcode, self.state.settings.live_transcode,
            bool(prepared)))
        if plan.hls and self.state.settings.live_transcode:
            self._ahead(request, plan)
        body = plan.as_json()
        master = f"/api/videos/{video.entry.id}/hls/master.m3u8"
        body["master_url"] = master if plan.hls else None
        # the quality menu: the sizes a conversion offers (live only: a prepared-only server
        # lists what `prepare` made in the plan's own master), and where to get them when
        # the plan itself converts nothing
        offer = (converted(facts, caps) if self.state.settings.transcode
                 and self.state.settings.live_transcode else None)
        sizes = ladder(facts.width, facts.height) if offer and offer.hls else []
        if plan.mode is Mode.TRANSCODE:
            sizes = ladder(facts.width, facts.height)
        body["renditions"] = [{"name": r.name, "width": r.width, "height": r.height,
                               "bandwidth": r.bandwidth} for r in sizes]
        body["converted_url"] = (f"{master}?convert=1"
                                 if sizes and plan.mode is not Mode.TRANSCODE else None)
        doc["playback"] = body

    def _ahead(self, request: web.Request, plan: PlaybackPlan) -> None:
        """The player asked for a plan that plays through HLS: its next requests are the
        master playlist (which waits for the keyframe index) and the init segment (a
        producer). Start a spare worker and read the index now, in the background; for a
        copy (one variant, made at ~50x real time) start its producer too, as prefetch
        (it yields its converter to any viewer who waits, and stops when nobody asks)."""
        self.service.warm()
        variant = str(plan.mode) if plan.mode in (Mode.REMUX, Mode.AUDIO) else None

        async def analyse() -> None:
            with contextlib.suppress(Exception):
                opened, analysis = await self._opened(request)
                try:
                    job = _variant_job(opened, analysis, variant) if variant else None
                except BaseException:
                    os.close(opened.fd)
                    raise
                if job is None or (Path(job.out) / "init.mp4").exists():
                    os.close(opened.fd)
                    return
                await asyncio.get_running_loop().run_in_executor(
                    None, lambda: Path(job.out).mkdir(parents=True, exist_ok=True))
                await self.service.produced(Path(job.out), job, -1, opened.fd)

        self.service.background(analyse())

    def _prepared(self, request: web.Request, plan: PlaybackPlan) -> bool:
        if not plan.hls:
            return False
        try:
            opened = self._open(request)
        except web.HTTPException:
            return False
        os.close(opened.fd)
        kinds = {Mode.REMUX: ["remux"], Mode.AUDIO: ["audio"]}.get(
            plan.mode, [r.name for r in ladder(opened.facts.width, opened.facts.height)][:1])
        return all((opened.folder / kind / COMPLETE_MARKER).exists() for kind in kinds)


# --------------------------------------------------------------------------- helpers


def _chooser(request: web.Request) -> Callable[..., PlaybackPlan]:
    """``decide``, or ``converted`` for ``?convert=1`` (anything else there is a 400)."""
    value = request.query.get("convert")
    if value is None:
        return decide
    if value != "1":
        raise web.HTTPBadRequest(reason="convert must be 1")
    return converted


def _caps(request: web.Request) -> ClientCaps | None:
    text = request.query.get("caps")
    if text is None:
        return None
    try:
        return parse_caps(text)
    except CapsError as exc:
        raise web.HTTPBadRequest(reason=f"invalid caps: {exc}") from None


class _Refused(Exception):
    """An answer to send as it is (the errors middleware would drop its headers)."""

    def __init__(self, response: web.Response) -> None:
        super().__init__(response.status)
        self.response = response


async def _guard(work: Awaitable[Any]) -> Any:
    """Producer trouble as HTTP answers: 503 + Retry-After when busy, a JSON 500 naming the
    failure when the file cannot be converted."""
    try:
        return await work
    except Busy as exc:
        response = json_error(503, "every converter is busy; try again shortly")
        response.headers["Retry-After"] = str(exc.retry_after)
        raise _Refused(response) from None
    except ProducerFailed as exc:
        raise _Refused(json_error(500, f"cannot convert this video: {exc}")) from None


async def _while_connected(request: web.Request, work: Awaitable[Any]) -> Any:
    """``work``, given up when the client goes away. A player that seeks aborts the request
    it was waiting on by closing its connection; the wait must end with it, or the old
    position's producer still looks wanted (not prefetch) and keeps its converter from the
    viewer's new position (see ``PlaybackService._preempt``)."""
    task = asyncio.ensure_future(work)
    try:
        while True:
            done, _pending = await asyncio.wait({task}, timeout=GONE_POLL_S)
            if done:
                return task.result()
            if request.transport is None or request.transport.is_closing():
                raise asyncio.CancelledError  # nobody to answer: aiohttp ends it quietly
    finally:
        if not task.done():
            task.cancel()


def _answers(handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
             ) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def answer(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except _Refused as refused:
            return refused.response

    return answer


def _variant_job(opened: Opened, analysis: dict[str, Any], variant: str) -> Job:
    try:
        return variant_job(opened.facts, analysis, variant, opened.paths, opened.folder)
    except NoVariant as exc:
        raise web.HTTPNotFound(reason=str(exc)) from None


def _text(body: str) -> web.Response:
    return web.Response(text=body, content_type=CONTENT_TYPE, charset="utf-8",
                        headers={"Cache-Control": "no-cache"})


def register(app: web.Application, state: Any) -> None:
    """The HLS routes, the plan in the video's JSON, and the service's start and stop
    (``state`` is the server's ``ServerState``)."""
    folder = cache_folder(state.catalog.index.root, state.settings.cache_dir)
    service = PlaybackService(SegmentCache(folder, state.settings.cache_size), state.settings)
    app[PLAYBACK] = service
    routes = PlaybackRoutes(state, service)
    state.segments = routes.segments  # the stream fast path sends cached files too
    extras: list[Callable[..., Awaitable[None]]] = app.setdefault(VIDEO_EXTRAS, [])
    extras.append(routes.video_extra)
    app.setdefault(STATS_EXTRAS, {})["playback"] = service.snapshot
    async def start(_app: web.Application) -> None:
        await service.start()

    async def stop(_app: web.Application) -> None:
        if state.segments is routes.segments:
            state.segments = None
        routes.segments.close()
        await service.close()

    app.on_startup.append(start)
    app.on_cleanup.append(stop)
    base = f"/api/videos/{ID}/hls"
    router = app.router
    router.add_get(f"{base}/master.m3u8", _answers(routes.master))
    router.add_get(f"{base}/{VARIANT}/index.m3u8", _answers(routes.media))
    router.add_get(f"{base}/{VARIANT}/init.mp4", _answers(routes.init))
    router.add_get(f"{base}/{VARIANT}/seg-{{n:[0-9]{{1,6}}}}.m4s", _answers(routes.segment))
