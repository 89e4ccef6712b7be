"""The deep check of one file: demux every packet (no decoding) within a budget.

This is what ``--deep`` does per file; :mod:`.deep_pool` runs it in killable worker
processes (:mod:`.deep_worker`), so a file that hangs or crashes FFmpeg costs one worker,
never the audit. Callable directly too (tests, benchmarks).
"""

from __future__ import annotations

import os
import time

import av

from mediaserve.core.audit.model import DeepFacts
from mediaserve.core.web.decoding import open_options

DEFAULT_DEEP_TIMEOUT = 30.0  # seconds per file
DEFAULT_MAX_PACKETS = 5_000_000  # ~55 h of 25 fps video: beyond that, give up (timeout)


def _attached_pic(stream: av.stream.Stream) -> bool:
    return bool(stream.disposition & av.stream.Disposition.attached_pic)


def describe_error(exc: BaseException) -> str:
    """One line for an exception PyAV raised: FFmpeg's kind and message, else the type."""
    if isinstance(exc, av.error.FFmpegError):
        kind = type(exc).__name__.removesuffix("Error") or "FFmpeg"
        return f"{kind}: {getattr(exc, 'strerror', None) or exc}"
    return f"{type(exc).__name__}: {exc}"


def deep_demux(path: str | os.PathLike[str], budget_s: float = DEFAULT_DEEP_TIMEOUT,
               max_packets: int = DEFAULT_MAX_PACKETS) -> DeepFacts:
    """Read every audio/video packet of ``path`` without decoding: the video packet count
    and where the last packet ends. Checks its budget on every packet; never raises for a
    bad file."""
    started = time.monotonic()
    deadline = started + budget_s
    try:
        container = av.open(os.fspath(path), metadata_errors="ignore",
                            options=open_options())  # no 768 MB frame while opening
    except (av.error.FFmpegError, OSError, ValueError, UnicodeDecodeError) as exc:
        return DeepFacts(opened=False, error=describe_error(exc),
                         elapsed=time.monotonic() - started)
    with container:
        video = next((s for s in container.streams.video if not _attached_pic(s)), None)
        streams = [s for s in container.streams
                   if s.type in ("video", "audio") and not _attached_pic(s)]
        duration = container.duration / av.time_base if container.duration else None
        origin = container.start_time / av.time_base if container.start_time else 0.0
        packets = seen = 0
        end: float | None = None
        error: str | None = None
        timed_out = False
        try:
            for packet in container.demux(streams):
                if not packet.size:
                    continue  # flush packets and AVI padding
                seen += 1
                if video is not None and packet.stream.index == video.index:
                    packets += 1
                ts = packet.pts if packet.pts is not None else packet.dts
                if ts is not None and packet.time_base is not None:
                    stop = float((ts + (packet.duration or 0)) * packet.time_base) - origin
                    end = stop if end is None else max(end, stop)
                if time.monotonic() > deadline:
                    timed_out, error = True, f"time budget of {budget_s:g} s exceeded"
                    break
                if seen >= max_packets:
                    timed_out, error = True, f"packet budget of {max_packets} exceeded"
                    break
        except (av.error.FFmpegError, OSError, ValueError) as exc:
            error = describe_error(exc)
    return DeepFacts(opened=True, has_video=video is not None, video_packets=packets,
                     end_time=round(end, 3) if end is not None else None,
                     duration=round(duration, 3) if duration is not None else None,
                     error=error, timed_out=timed_out, elapsed=time.monotonic() - started)


__all__ = ["DEFAULT_DEEP_TIMEOUT", "DEFAULT_MAX_PACKETS", "deep_demux", "describe_error"]
