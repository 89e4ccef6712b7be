"""Read what a playlist needs before any segment exists: the keyframe index and the codecs.

FFmpeg has already parsed each container's own index when it opens or first seeks a file:
MP4's stss/stts sample tables, Matroska's Cues (loaded on the first seek), AVI's idx1. PyAV
exposes it as ``stream.index_entries``, so the keyframes of a two-hour film cost one open
and one seek, not a demux of gigabytes (measured in benchmarks/transcode_bench.py). Files
without an index (MPEG-TS, a Matroska file without Cues) fall back to demuxing the video
packets without decoding them, once; the result is cached on disk by the caller.

Runs in a worker process (PyAV), never in the server.
"""

from __future__ import annotations

from typing import Any

import av

from mediaserve.core.playback.hls import codec_string

#: an index with fewer keyframe entries than this per minute is not trusted (a Matroska
#: file whose Cues list one keyframe per cluster of minutes): demux instead
MIN_KEYFRAMES_PER_MINUTE = 2
MAX_DEMUXED_PACKETS = 20_000_000


def _video(container: Any) -> Any:
    return next((s for s in container.streams.video
                 if not s.disposition & av.stream.Disposition.attached_pic), None)


def _indexed(container: Any, video: Any) -> list[int]:
    container.seek(video.start_time or 0, stream=video, backward=True)  # loads Cues
    return [entry.timestamp for entry in video.index_entries if entry.is_keyframe]


def _demuxed(container: Any, video: Any) -> tuple[list[int], str]:
    container.seek(video.start_time or 0, stream=video, backward=True)
    found: list[int] = []
    key = "dts"
    for count, packet in enumerate(container.demux(video)):
        if count >= MAX_DEMUXED_PACKETS:
            break
        if packet.is_keyframe and packet.size:
            if packet.dts is None:
                key = "pts"
            stamp = packet.dts if key == "dts" else packet.pts
            if stamp is not None:
                found.append(stamp)
    return found, key


def _key_field(container: Any, video: Any, keyframes: list[int]) -> str:
    """Which packet timestamp the index holds: MP4 and AVI index decode times, Matroska
    presentation times. Found by seeking to an indexed keyframe and reading its packet."""
    probe = keyframes[len(keyframes) // 2]
    container.seek(probe, stream=video, backward=True)
    for packet in container.demux(video):
        if packet.dts == probe:
            return "dts"
        if packet.pts == probe:
            return "pts"
        break
    return "pts" if (container.format.name or "").startswith("matroska") else "dts"


def analyse(paths: list[str]) -> dict[str, Any]:
    """Keyframes (ticks of the video's time base), which timestamp they are, the end of the
    video in ticks, and the codec strings of the video and every audio track."""
    last: Exception | None = None
    for path in paths:
        try:
            with av.open(path, metadata_errors="ignore") as container:
                return _analyse(container)
        except (OSError, av.error.FFmpegError) as exc:
            last = exc
    raise last or OSError("no source path")


def _analyse(container: Any) -> dict[str, Any]:
    video = _video(container)
    duration = container.duration / av.time_base if container.duration else None
    doc: dict[str, Any] = {"duration": duration, "keyframes": [], "time_base": [1, 90_000],
                           "key": "dts", "end": 0, "method": "none",
                           "video_codecs": None, "audio_codecs": []}
    for stream in container.streams.audio:
        context = stream.codec_context
        doc["audio_codecs"].append(codec_string(
            context.codec.canonical_name if context.codec else context.name,
            bytes(context.extradata or b"")))
    if video is None:
        return doc
    context = video.codec_context
    name = context.codec.canonical_name if context.codec else context.name
    depth = None
    try:
        depth = max(c.bits for c in av.VideoFormat(context.pix_fmt).components)
    except (TypeError, ValueError):
        depth = None
    doc["video_codecs"] = codec_string(name, bytes(context.extradata or b""), depth)
    tb = video.time_base
    doc["time_base"] = [tb.numerator, tb.denominator]
    keyframes = _indexed(container, video)
    minutes = (duration or 0) / 60
    if len(keyframes) >= max(2, MIN_KEYFRAMES_PER_MINUTE * minutes):
        doc["method"] = "index"
        doc["key"] = _key_field(container, video, keyframes)
    else:
        keyframes, doc["key"] = _demuxed(container, video)
        doc["method"] = "demux"
    doc["keyframes"] = keyframes
    start = video.start_time or 0
    if duration is not None:
        doc["end"] = start + round(duration / float(tb))
    elif keyframes:
        doc["end"] = max(keyframes) + 1
    return doc
