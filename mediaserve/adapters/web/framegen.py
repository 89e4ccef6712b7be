"""Posters and seek-preview sprites, made with PyAV. Runs in a worker process only.

The serving process never imports this module's PyAV: ``frames.FrameService`` submits these
functions to a process pool, so decoding (CPU-heavy, and able to hang inside FFmpeg on a
hostile file) never touches the event loop, and the server's memory stays free of
FFmpeg's libraries. Every function writes its result atomically (temp file + rename) so a
reader, or a second server process making the same file, never sees half a JPEG.

JPEGs are encoded with FFmpeg's own ``mjpeg`` encoder (no Pillow): frames are scaled and
converted to full-range YUV 4:2:0 by swscale, and sprite tiles are copied plane by plane.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator, Sequence
from fractions import Fraction
from typing import Any

from mediaserve.core.web.sprites import poster_size

#: mjpeg quantiser scale: 2 (best) .. 31; 5 looks clean at ~25 KB for a 480 px poster
JPEG_QSCALE = 5
SPRITE_QSCALE = 9  # tiles are shown small and blurred by scaling: smaller file, same look
_QP2LAMBDA = 118  # FFmpeg's FF_QP2LAMBDA: global_quality is in lambda units
#: a frame whose sampled luma mean is below this (limited-range black is 16) counts as black
BLACK_LUMA = 28


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
    plane = bytes(frame.planes[0])
    sample = plane[:: max(1, len(plane) // 4096)]
    return sum(sample) / max(1, len(sample))


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


def make_poster(paths: Sequence[str], dest: str, times: Sequence[float],
                max_width: int = 480) -> bool:
    """Write a poster JPEG of the video (the first openable of ``paths``) to ``dest``; False
    (and nothing written) when no frame could be decoded. Tries each of ``times`` until one
    is not black."""
    import av

    chosen = None
    try:
        with av.open(_openable(paths), metadata_errors="ignore") as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            for seconds in (*times, 0.0):  # 0: the index's duration may be stale
                if seconds == 0.0 and chosen is not None:
                    break
                for frame in _frames_at(container, stream, seconds, keyframe_only=False):
                    chosen = frame
                if chosen is not None and _luma_mean(chosen) >= BLACK_LUMA:
                    break
    except (av.FFmpegError, IndexError, OSError, ValueError):
        pass
    if chosen is None:
        return False
    # sized from the decoded frame, not the index: the file may have changed since the scan
    width, height = poster_size(chosen.width, chosen.height, max_width)
    picture = chosen.reformat(width=width, height=height, format="yuvj420p")
    _write_atomic(dest, encode_jpeg(picture))
    return True


def make_sprite(paths: Sequence[str], dest: str, times: Sequence[float], tile: tuple[int, int],
                columns: int) -> bool:
    """Write a sprite of one tile per entry of ``times`` (``columns`` per row) to ``dest``.
    Tiles come from the keyframe at or before each time: one decode per tile, so a
    two-hour film costs ~100 decodes, not 170,000. False when no frame could be read."""
    import av

    tile_w, tile_h = tile
    rows = -(-len(times) // columns)
    width, height = min(len(times), columns) * tile_w, rows * tile_h
    sprite = av.VideoFrame(width, height, "yuvj420p")
    planes = [bytearray(p.buffer_size) for p in sprite.planes]
    strides = [p.line_size for p in sprite.planes]
    for index, plane in enumerate(planes):  # grey background for tiles with no frame
        plane[:] = (b"\x80" if index else b"\x20") * len(plane)
    drawn = 0
    try:
        with av.open(_openable(paths), metadata_errors="ignore") as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            stream.codec_context.skip_frame = "NONKEY"
            for index, seconds in enumerate(times):
                frame = next(_frames_at(container, stream, seconds, keyframe_only=True), None)
                if frame is None:
                    continue
                small = frame.reformat(width=tile_w, height=tile_h, format="yuvj420p")
                row, column = divmod(index, columns)
                for number, plane in enumerate(small.planes):
                    shift = 0 if number == 0 else 1
                    x0, y0 = (column * tile_w) >> shift, (row * tile_h) >> shift
                    w, h = tile_w >> shift, tile_h >> shift
                    data, stride = bytes(plane), plane.line_size
                    target, dest_stride = planes[number], strides[number]
                    for y in range(h):
                        at = (y0 + y) * dest_stride + x0
                        target[at:at + w] = data[y * stride:y * stride + w]
                drawn += 1
    except (av.FFmpegError, IndexError, OSError, ValueError):
        pass
    if not drawn:
        return False
    for out_plane, buffer in zip(sprite.planes, planes, strict=True):
        out_plane.update(bytes(buffer))
    _write_atomic(dest, encode_jpeg(sprite, SPRITE_QSCALE))
    return True
