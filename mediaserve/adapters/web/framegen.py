"""Posters and seek-preview sprites, made with PyAV. Runs in a worker process only.

The serving process never imports this module's PyAV: ``frames.FrameService`` submits these
functions to a process pool, so decoding (CPU-heavy, and able to hang inside FFmpeg on a
hostile file) never touches the event loop, and the server's memory stays free of
FFmpeg's libraries. Every function writes its result atomically (temp file + rename) so a
reader, or a second server process making the same file, never sees half a JPEG.

JPEGs are encoded with FFmpeg's own ``mjpeg`` encoder (no Pillow): frames are scaled and
converted to full-range YUV 4:2:0 by swscale, and sprite tiles are copied plane by plane.

Hostile files: every open and every decode is bounded by :mod:`mediaserve.core.web.decoding`
(a pixel budget checked from the stream's parameters before decoding and enforced by the
decoder itself, decoder-side scaling, two threads), and :func:`limit_memory`, the pool's
initializer, caps the worker's address space, so a file that gets past those costs one
job, reported as :class:`Refused` or a memory error, and a placeholder.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator, Sequence
from fractions import Fraction
from typing import Any

from mediaserve.core.library.facts import quarter_turn
from mediaserve.core.web.decoding import MAX_PIXELS, DecodePlan, open_options, plan_decode
from mediaserve.core.web.rotate import rotate_plane, turned_size
from mediaserve.core.web.sprites import poster_size

#: mjpeg quantiser scale: 2 (best) .. 31; 5 looks clean at ~25 KB for a 480 px poster
JPEG_QSCALE = 5
SPRITE_QSCALE = 9  # tiles are shown small and blurred by scaling: smaller file, same look
_QP2LAMBDA = 118  # FFmpeg's FF_QP2LAMBDA: global_quality is in lambda units
#: a frame whose sampled luma mean is below this (limited-range black is 16) counts as black
BLACK_LUMA = 28


class Refused(Exception):
    """The video is not decoded: its picture is over the pixel budget (the reason says so).
    Raised to the server, which logs it once and caches the placeholder."""


def limit_memory(limit: int) -> None:
    """Cap this process's address space at ``limit`` bytes (never above the hard limit).

    The pool's initializer: it runs in each new worker before any job, so a decoder that
    allocates past the cap gets ENOMEM (PyAV raises, the job fails, the worker lives on),
    and the machine's memory is never the decoder's to take."""
    import resource

    _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    # an initializer that raises breaks the whole pool (no poster would ever be made): a
    # platform that refuses the cap gets uncapped workers, still bounded by the pixel budget
    with contextlib.suppress(OSError, ValueError):
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def _open(paths: Sequence[str]) -> Any:
    """The container, opened with the decoder's pixel cap: FFmpeg decodes a frame or two
    while it reads the stream's parameters, and that decode must not allocate an
    over-budget picture either."""
    import av

    return av.open(_openable(paths), metadata_errors="ignore",
                   options=open_options(MAX_PIXELS))


def _video_stream(container: Any, wanted_width: int) -> Any:
    """The first video stream, set up to decode for a picture ``wanted_width`` wide; raises
    :class:`Refused` when its parameters are over the pixel budget."""
    stream = container.streams.video[0]
    context = stream.codec_context
    layout = context.format  # None while FFmpeg has not seen a picture's format
    bits = layout.padded_bits_per_pixel if layout is not None else None
    plan = plan_decode(context.width, context.height, wanted_width, MAX_PIXELS, bits)
    if not isinstance(plan, DecodePlan):
        raise Refused(plan)
    context.options = plan.codec_options()
    stream.thread_type = "AUTO"
    context.thread_count = plan.threads
    return stream


def _write_atomic(dest: str, data: bytes) -> None:
    folder = os.path.dirname(dest)
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".jpg", dir=folder)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, dest)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _openable(paths: Sequence[str]) -> str:
    """The first of ``paths`` this process may open: the server passes the file it opened
    as ``/proc/PID/fd/N`` first (no second path lookup), then the resolved path."""
    for path in paths:
        try:
            os.close(os.open(path, os.O_RDONLY | os.O_CLOEXEC))
        except OSError:
            continue
        return path
    raise FileNotFoundError(paths[0] if paths else "no path")


def encode_jpeg(frame: Any, qscale: int = JPEG_QSCALE) -> bytes:
    """One ``yuvj420p`` VideoFrame as JPEG bytes."""
    import av

    codec = av.CodecContext.create("mjpeg", "w")
    codec.width, codec.height = frame.width, frame.height
    codec.pix_fmt = "yuvj420p"
    codec.time_base = Fraction(1, 25)
    codec.options = {"flags": "+qscale", "global_quality": str(qscale * _QP2LAMBDA)}
    frame.pts = 0
    packets = [*codec.encode(frame), *codec.encode(None)]
    return b"".join(bytes(packet) for packet in packets)


def _luma_mean(frame: Any) -> float:
    """The mean of ~4096 bytes sampled from the luma plane, read in place (a copy of an 8K
    10-bit plane would be 66 MB)."""
    plane = memoryview(frame.planes[0]).cast("B")
    sample = plane[:: max(1, len(plane) // 4096)]
    return sum(sample) / max(1, len(sample))


def _shown_planes(frame: Any, turn: int) -> list[tuple[bytes, int]]:
    """(bytes, stride) of each plane of a small ``yuvj420p`` frame, turned clockwise by
    ``turn`` for display. The frame is already scaled down, so the turn copies a few hundred
    KB at most, whatever the video's size."""
    if turn == 0:
        return [(bytes(plane), plane.line_size) for plane in frame.planes]
    shown = []
    for plane in frame.planes:
        width, height = plane.width, plane.height
        data = rotate_plane(memoryview(plane).cast("B"), width, height, plane.line_size, turn)
        shown.append((data, turned_size(width, height, turn)[0]))
    return shown


def _turned(frame: Any, turn: int) -> Any:
    """A ``yuvj420p`` frame turned clockwise by ``turn`` degrees (the frame itself for 0)."""
    import av

    if turn == 0:
        return frame
    width, height = turned_size(frame.width, frame.height, turn)
    out = av.VideoFrame(width, height, "yuvj420p")
    for target, (data, stride) in zip(out.planes, _shown_planes(frame, turn), strict=True):
        rows = bytearray(target.buffer_size)
        line = target.line_size
        for y in range(target.height):
            rows[y * line:y * line + target.width] = data[y * stride:y * stride + target.width]
        target.update(bytes(rows))
    return out


def _frames_at(container: Any, stream: Any, seconds: float, keyframe_only: bool
               ) -> Iterator[Any]:
    """Decoded frames from about ``seconds`` on: seek to the keyframe before it, then (unless
    ``keyframe_only``) decode forward to the first frame at or after it."""
    base = stream.time_base or Fraction(1, 1000)
    target = int(seconds / base) + (stream.start_time or 0)
    with contextlib.suppress(Exception):
        container.seek(target, stream=stream, backward=True, any_frame=False)
    for frame in container.decode(stream):
        if keyframe_only or frame.pts is None or frame.pts >= target:
            yield frame
            return


def _over_memory() -> Refused:
    return Refused("decoding needed more memory than a frame worker may use")


def make_poster(paths: Sequence[str], dest: str, times: Sequence[float],
                max_width: int = 480, rotation: int = 0) -> bool:
    """Write a poster JPEG of the video (the first openable of ``paths``) to ``dest``; False
    (and nothing written) when no frame could be decoded. Tries each of ``times`` until one
    is not black. ``rotation``: clockwise degrees to turn the picture for display (the
    index's; a phone's portrait video gets a portrait poster, at most ``max_width`` on its
    longer side). :class:`Refused` when the picture is over budget."""
    try:
        return _make_poster(paths, dest, times, max_width, quarter_turn(rotation))
    except MemoryError:  # Python's own, at the worker's cap (FFmpeg's is handled inside)
        raise _over_memory() from None


def _make_poster(paths: Sequence[str], dest: str, times: Sequence[float],
                 max_width: int, turn: int) -> bool:
    import av

    chosen = None
    try:
        with _open(paths) as container:
            stream = _video_stream(container, max_width)
            for seconds in (*times, 0.0):  # 0: the index's duration may be stale
                if seconds == 0.0 and chosen is not None:
                    break
                for frame in _frames_at(container, stream, seconds, keyframe_only=False):
                    chosen = frame
                if chosen is not None and _luma_mean(chosen) >= BLACK_LUMA:
                    break
    except MemoryError:  # ENOMEM at the cap: keep a frame decoded before it, if any
        if chosen is None:
            raise
    except (av.FFmpegError, IndexError, OSError, ValueError):
        pass
    if chosen is None:
        return False
    # sized from the decoded frame, not the index: the file may have changed since the scan;
    # scaled as stored, then turned (the turn copies the small picture only)
    shown = poster_size(*turned_size(chosen.width, chosen.height, turn), max_width)
    width, height = turned_size(*shown, turn)
    picture = chosen.reformat(width=width, height=height, format="yuvj420p")
    _write_atomic(dest, encode_jpeg(_turned(picture, turn)))
    return True


def make_sprite(paths: Sequence[str], dest: str, times: Sequence[float], tile: tuple[int, int],
                columns: int, rotation: int = 0) -> bool:
    """Write a sprite of one tile per entry of ``times`` (``columns`` per row) to ``dest``.
    Tiles come from the keyframe at or before each time: one decode per tile, so a
    two-hour film costs ~100 decodes, not 170,000. ``tile`` is the size as shown, after
    turning each picture clockwise by ``rotation``. False when no frame could be read;
    :class:`Refused` when the picture is over budget."""
    try:
        return _make_sprite(paths, dest, times, tile, columns, quarter_turn(rotation))
    except MemoryError:
        raise _over_memory() from None


def _make_sprite(paths: Sequence[str], dest: str, times: Sequence[float],
                 tile: tuple[int, int], columns: int, turn: int) -> bool:
    import av

    tile_w, tile_h = tile
    stored_w, stored_h = turned_size(tile_w, tile_h, turn)
    rows = -(-len(times) // columns)
    width, height = min(len(times), columns) * tile_w, rows * tile_h
    sprite = av.VideoFrame(width, height, "yuvj420p")
    planes = [bytearray(p.buffer_size) for p in sprite.planes]
    strides = [p.line_size for p in sprite.planes]
    for index, plane in enumerate(planes):  # grey background for tiles with no frame
        plane[:] = (b"\x80" if index else b"\x20") * len(plane)
    drawn = 0
    try:
        with _open(paths) as container:
            stream = _video_stream(container, stored_w)
            stream.codec_context.skip_frame = "NONKEY"
            for index, seconds in enumerate(times):
                frame = next(_frames_at(container, stream, seconds, keyframe_only=True), None)
                if frame is None:
                    continue
                small = frame.reformat(width=stored_w, height=stored_h, format="yuvj420p")
                row, column = divmod(index, columns)
                for number, (data, stride) in enumerate(_shown_planes(small, turn)):
                    shift = 0 if number == 0 else 1
                    x0, y0 = (column * tile_w) >> shift, (row * tile_h) >> shift
                    w, h = tile_w >> shift, tile_h >> shift
                    target, dest_stride = planes[number], strides[number]
                    for y in range(h):
                        at = (y0 + y) * dest_stride + x0
                        target[at:at + w] = data[y * stride:y * stride + w]
                drawn += 1
    except MemoryError:  # ENOMEM at the cap: keep the tiles drawn before it, if any
        if not drawn:
            raise
    except (av.FFmpegError, IndexError, OSError, ValueError):
        pass
    if not drawn:
        return False
    for out_plane, buffer in zip(sprite.planes, planes, strict=True):
        out_plane.update(bytes(buffer))
    _write_atomic(dest, encode_jpeg(sprite, SPRITE_QSCALE))
    return True
