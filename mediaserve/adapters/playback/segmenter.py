"""Make fragmented-MP4 HLS segments with PyAV (imported only in worker processes and by
``mediaserve prepare``'s workers, never by the server).

One demux runs through the source from the requested segment on. Every packet (stream
copy) or decoded frame (transcode) is routed to its segment by the job's timeline, and each
segment gets an mp4 muxer of its own (``jobs.MOVFLAGS``): its header is the init segment,
identical for every segment, and the rest is the segment's moof+mdat. A segment is written
(temp file + rename) once both streams have passed its end, so audio that the container
interleaves late still lands in the right segment. tfdt is the first packet's own time
(``avoid_negative_ts`` off, edit-list mode: the presentation time of the keyframe), so a
producer restarted at segment N writes the same timeline a producer that ran from 0 would.
"""

from __future__ import annotations

import bisect
import contextlib
import os
import struct
import time
from collections.abc import Callable, Iterator
from fractions import Fraction
from typing import Any

import av

from mediaserve.adapters.playback.jobs import MOVFLAGS, VIDEO_TIMESCALE, Job
from mediaserve.core.playback.hls import INIT_NAME, segment_name

EPSILON = 1e-6
AUDIO_RATE = 48_000
#: a segment whose packets pile up past this (a file interleaved absurdly) is cut short
MAX_PENDING_BYTES = 256 * 1024 * 1024
#: frames held for the next segment while the current one waits for its sound; past this the
#: current one is written as it is (its late sound goes to the next)
MAX_HELD_FRAMES = 60
#: bytes FFmpeg gathers before each call of a segment's sink (PyAV's default: 32 KiB)
SINK_BUFFER = 1 << 20


def moov_end(data: bytes | bytearray) -> int:
    """Where the init segment (ftyp + moov) ends in a muxer's output."""
    end = _moov_end(data)
    if end is None:
        raise ValueError("no moov box in the muxer's output")
    return end


def _moov_end(data: bytes | bytearray) -> int | None:
    """Where the moov box ends, once ``data`` holds all of it; None until then."""
    offset = 0
    while offset + 8 <= len(data):
        size, kind = struct.unpack_from(">I4s", data, offset)
        if size == 1:
            if offset + 16 > len(data):
                return None
            size = struct.unpack_from(">Q", data, offset + 8)[0]
        if size < 8:
            raise ValueError("a malformed box in the muxer's output")
        offset += size
        if kind == b"moov":
            return offset if offset <= len(data) else None
    return None


class _Sink:
    """Where one segment's muxer writes (a file object PyAV calls, not seekable, so FFmpeg
    writes straight on): the init part (ftyp + moov, the same for every segment) is kept,
    the rest goes straight into the segment's temporary file. Each media byte is copied
    once out of FFmpeg's buffer; through a ``BytesIO`` it was copied three more times
    (the buffer, ``getvalue``, the slices), which made a remux cost 2.5x ffmpeg's CPU."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.tmp = f"{path}.{os.getpid()}.tmp"
        self.fd = os.open(self.tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        self.head = bytearray()
        self.init: bytes | None = None
        self.written = 0

    def write(self, data: bytes) -> int:
        if self.init is not None:
            self._out(data)
            return len(data)
        self.head += data
        cut = _moov_end(self.head)
        if cut is not None:
            self.init = bytes(self.head[:cut])
            rest = bytes(self.head[cut:])
            self.head = bytearray()
            self._out(rest)
        return len(data)

    def _out(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self.fd, view):]
        self.written += len(data)

    def finish(self) -> bytes:
        """The segment's file in place (rename); returns the init part."""
        os.close(self.fd)
        self.fd = -1
        if self.init is None:
            self.discard()
            raise ValueError("no moov box in the muxer's output")
        os.replace(self.tmp, self.path)
        return self.init

    def discard(self) -> None:
        """A segment never finished (the producer told to stop): no file left behind."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.tmp)


def write_atomic(path: str, data: bytes) -> None:
    """Temp file in the same folder, then rename: a reader sees all of it or nothing."""
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "wb") as handle:
        handle.write(data)
    os.replace(tmp, path)


class _Segment:
    """One segment's own muxer, writing into its file through a :class:`_Sink`."""

    def __init__(self, number: int, job: Job, video: Any, audio: Any) -> None:
        self.number = number
        self.sink = _Sink(os.path.join(job.out, segment_name(number)))
        self.out = av.open(self.sink, "w", format="mp4", buffer_size=SINK_BUFFER,
                           options={"movflags": MOVFLAGS, "avoid_negative_ts": "disabled",
                                    "video_track_timescale": str(VIDEO_TIMESCALE)})
        self.video = self.audio = None
        self.size = 0
        if video is not None:
            self.video = (_encoder_stream(self.out, job, video) if job.kind == "transcode"
                          else self.out.add_stream_from_template(video))
        if audio is not None:
            if job.convert_audio:
                self.audio = self.out.add_stream("aac", rate=AUDIO_RATE, layout="stereo")
                self.audio.bit_rate = (job.rendition or {}).get("audio_bit_rate", 128_000)
            else:
                self.audio = self.out.add_stream_from_template(audio)

    def mux(self, packet: Any, stream: Any) -> None:
        packet.stream = stream
        self.size += packet.size
        self.out.mux(packet)

    def encode(self, frame: Any) -> None:
        assert self.video is not None
        for packet in self.video.encode(frame):
            self.size += packet.size
            self.out.mux(packet)

    def close(self, transcode: bool) -> tuple[bytes, int]:
        """Finish the muxer and put the segment's file in place: (the init part, the
        segment's size in bytes)."""
        try:
            if transcode and self.video is not None:
                self.encode(None)
            self.out.close()
            return self.sink.finish(), self.sink.written
        except BaseException:
            self.sink.discard()
            raise

    def discard(self) -> None:
        with contextlib.suppress(Exception):
            self.out.close()
        self.sink.discard()


def _encoder_stream(out: Any, job: Job, source: Any) -> Any:
    rendition = job.rendition or {}
    rate = source.average_rate or source.guessed_rate or Fraction(25)
    stream = out.add_stream("libx264", rate=rate)
    stream.width, stream.height = rendition["width"], rendition["height"]
    stream.pix_fmt = "yuv420p"
    stream.time_base = Fraction(1, VIDEO_TIMESCALE)
    stream.codec_context.time_base = Fraction(1, VIDEO_TIMESCALE)
    maxrate = int(rendition["video_bit_rate"])
    stream.options = {
        "preset": rendition.get("preset", "veryfast"), "crf": str(rendition.get("crf", 23)),
        "maxrate": str(maxrate), "bufsize": str(2 * maxrate), "profile": "high",
        "level": "4.1", "g": "100000", "threads": str(job.threads or 0),
        "x264-params": "log-level=none",
    }
    if job.rotation:
        stream.set_display_rotation((-job.rotation) % 360)
    return stream


class Router:
    """Routes the source's packets or frames to their segments and finishes segments in
    order; ``emit`` hears about each one written."""

    def __init__(self, job: Job, container: Any, video: Any, audio: Any,
                 emit: Callable[[dict[str, Any]], None], wait: Callable[[int], bool]) -> None:
        self.job, self.container, self.video, self.audio = job, container, video, audio
        self.emit, self.wait = emit, wait
        line = job.timeline()
        self.starts = line.starts
        self.seconds = [line.seconds(t) for t in line.starts]
        self.end_seconds = line.seconds(line.end)
        self.segments: dict[int, _Segment] = {}
        #: transcode: frames and packets of later segments, held while one is open
        self.held: dict[int, list[tuple[str, Any]]] = {}
        self.video_at = job.start  # the segment the video has reached
        self.video_started = False  # copy: the first keyframe of this run was seen
        self.audio_time = -1.0  # latest audio time seen
        self.next = job.start  # next segment to finish
        self.began = time.monotonic()
        self.transcode = job.kind == "transcode"
        self.inited = os.path.exists(os.path.join(job.out, INIT_NAME))

    # -- routing -----------------------------------------------------------------------

    def segment(self, number: int) -> _Segment:
        seg = self.segments.get(number)
        if seg is None:
            seg = self.segments[number] = _Segment(number, self.job, self.video, self.audio)
        return seg

    def by_time(self, seconds: float) -> int:
        return max(self.job.start, bisect.bisect_right(self.seconds, seconds + EPSILON) - 1)

    def video_packet(self, packet: Any) -> None:
        key = packet.dts if self.job.key == "dts" else packet.pts
        if key is None:
            key = packet.pts if packet.pts is not None else packet.dts
        if packet.is_keyframe and key is not None:
            number = bisect.bisect_right(self.starts, key) - 1
            if number < self.job.start and not self.video_started:
                return  # a keyframe before this run's first segment (the seek went earlier)
            self.video_started = True
            self.video_at = max(self.video_at, number)
        elif not self.video_started:
            return  # the rest of a GOP that began before this run's first segment
        seg = self.segment(self.video_at)
        seg.mux(packet, seg.video)

    def video_frame(self, frame: Any) -> None:
        seconds = float(frame.time) if frame.time is not None else 0.0
        if seconds < self.seconds[self.job.start] - EPSILON:
            return  # decoded from the keyframe before this run's first boundary
        number = self.by_time(seconds)
        self.video_at = max(self.video_at, number)
        rendition = self.job.rendition or {}
        out = frame.reformat(width=rendition["width"], height=rendition["height"],
                             format="yuv420p")
        out.pts = round(seconds * VIDEO_TIMESCALE)
        out.time_base = Fraction(1, VIDEO_TIMESCALE)
        out.pict_type = av.video.frame.PictureType.NONE
        if number > self.next:  # the segment before still waits for its sound: hold the
            # frame rather than open a second x264 (~100 MB at 1080p) beside the first
            self.held.setdefault(number, []).append(("frame", out))
            return
        self.segment(number).encode(out)

    def audio_packet(self, packet: Any, converted: bool) -> None:
        if packet.pts is None:
            return
        seconds = float(packet.pts * packet.time_base)
        if not converted and seconds < self.seconds[self.job.start] - EPSILON:
            return
        self.audio_time = max(self.audio_time, seconds)
        number = self.by_time(seconds)
        if self.transcode and number > self.next:
            self.held.setdefault(number, []).append(("audio", packet))
            return
        seg = self.segment(number)
        seg.mux(packet, seg.audio)

    # -- finishing ---------------------------------------------------------------------

    def ready(self, number: int) -> bool:
        stop = self.seconds[number + 1] if number + 1 < len(self.seconds) else None
        if stop is None:
            return False
        video_done = self.video is None or self.video_at > number
        audio_done = self.audio is None or self.audio_time >= stop - EPSILON
        too_big = sum(s.size for s in self.segments.values()) > MAX_PENDING_BYTES
        held = sum(kind == "frame" for items in self.held.values() for kind, _ in items)
        return (video_done and audio_done) or too_big or held > MAX_HELD_FRAMES

    def flush(self, final: bool = False) -> bool:
        """Finish every segment that is complete; False when told to stop."""
        while self.next < len(self.starts) and (final or self.ready(self.next)):
            self.finish(self.next)
            self.next += 1
            self._release_held()
            if self.next < len(self.starts) and not final and not self.wait(self.next):
                return False
        return True

    def _release_held(self) -> None:
        """Hand the frames and sound held for the segment now current to its muxer."""
        for kind, item in self.held.pop(self.next, []):
            seg = self.segment(self.next)
            if kind == "frame":
                seg.encode(item)
            else:
                seg.mux(item, seg.audio)

    def finish(self, number: int) -> None:
        seg = self.segments.pop(number, None) or self.segment_for_empty(number)
        init, size = seg.close(self.transcode)
        if not self.inited:
            write_atomic(os.path.join(self.job.out, INIT_NAME), init)
            self.inited = True
        stop = self.seconds[number + 1] if number + 1 < len(self.seconds) else self.end_seconds
        self.emit({"segment": number, "bytes": size,
                   "media_seconds": round(stop - self.seconds[number], 6),
                   "seconds": round(time.monotonic() - self.began, 6)})
        self.began = time.monotonic()

    def segment_for_empty(self, number: int) -> _Segment:
        """A segment no packet reached (a hole in the source): an empty fragment list."""
        return _Segment(number, self.job, self.video, self.audio)


def _open_source(job: Job) -> Any:
    last: Exception | None = None
    for path in job.source:
        try:
            return av.open(path, metadata_errors="ignore")
        except (OSError, av.error.FFmpegError) as exc:
            last = exc
    raise last or OSError("no source path")


def _streams(container: Any, job: Job) -> tuple[Any, Any]:
    video = next((s for s in container.streams.video
                  if not s.disposition & av.stream.Disposition.attached_pic), None)
    audio = None
    if job.audio_track is not None and len(container.streams.audio) > job.audio_track:
        audio = container.streams.audio[job.audio_track]
    return video, audio


def produce(job: Job, emit: Callable[[dict[str, Any]], None],
            wait: Callable[[int], bool]) -> bool:
    """Make segments from ``job.start`` on; ``wait(n)`` blocks until segment ``n`` may be
    made (False: stop). True when the last segment was written, False when told to stop.
    Raises on a source FFmpeg cannot read."""
    with _open_source(job) as container:
        video, audio = _streams(container, job)
        router = Router(job, container, video, audio, emit, wait)
        anchor = video if video is not None else audio
        start_ticks = job.starts[job.start]
        if anchor is video and job.kind != "transcode":
            container.seek(start_ticks, stream=video, backward=True)
        elif job.start:
            seconds = router.seconds[job.start]
            container.seek(int(seconds / float(anchor.time_base)), stream=anchor, backward=True)
        try:
            return _run(router, container, video, audio)
        finally:
            for seg in router.segments.values():  # begun, never finished: no files left
                seg.discard()
            router.segments.clear()


def _run(router: Router, container: Any, video: Any, audio: Any) -> bool:
    job = router.job
    converts = audio is not None and job.convert_audio
    encoder = _AudioEncoder(job) if converts else None
    if video is not None and job.kind == "transcode":
        video.thread_type = "AUTO"
    streams = [s for s in (video, audio) if s is not None]
    for packet in container.demux(streams):
        if packet.stream is video:
            if job.kind == "transcode":
                for frame in packet.decode():
                    router.video_frame(frame)
            elif packet.size:
                router.video_packet(packet)
        elif encoder is not None:
            for out in encoder.feed(packet, router.seconds[job.start]):
                router.audio_packet(out, converted=True)
        elif packet.size:
            router.audio_packet(packet, converted=False)
        if not router.flush():
            return False
    if encoder is not None:
        for out in encoder.drain():
            router.audio_packet(out, converted=True)
    router.flush(final=True)
    return True


class _AudioEncoder:
    """Decode, resample to 48 kHz stereo, and encode AAC continuously for one run."""

    def __init__(self, job: Job) -> None:
        self.codec = av.CodecContext.create("aac", "w")
        self.codec.sample_rate = AUDIO_RATE
        self.codec.layout = "stereo"
        self.codec.format = "fltp"
        self.codec.bit_rate = (job.rendition or {}).get("audio_bit_rate", 128_000)
        self.codec.time_base = Fraction(1, AUDIO_RATE)
        self.codec.open()
        self.resampler = av.AudioResampler(format="fltp", layout="stereo", rate=AUDIO_RATE,
                                           frame_size=self.codec.frame_size or 1024)
        self.next_pts: int | None = None

    def feed(self, packet: Any, start: float) -> Iterator[Any]:
        for frame in packet.decode():
            if frame.time is not None and frame.time + frame.samples / frame.sample_rate \
                    < start:
                continue
            yield from self._encode(self.resampler.resample(frame))

    def _encode(self, frames: list[Any]) -> Iterator[Any]:
        for frame in frames:
            if self.next_pts is None:
                self.next_pts = round((frame.time or 0.0) * AUDIO_RATE)
            frame.pts = self.next_pts
            frame.time_base = Fraction(1, AUDIO_RATE)
            self.next_pts += frame.samples
            yield from self.codec.encode(frame)

    def drain(self) -> Iterator[Any]:
        yield from self._encode(self.resampler.resample(None))
        yield from self.codec.encode(None)
