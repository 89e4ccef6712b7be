"""How one video plays in one browser: direct, remux, audio, transcode, or not at all.

:func:`decide` is the whole decision, pure: the recorded facts, what the browser decodes
(:class:`ClientCaps`) and the server's settings in, a :class:`PlaybackPlan` out, with a
reason per stream in plain words ("the sound: AC-3 is not decoded by this browser,
converted to AAC"). Direct play (the 206 stream, no work on the server) is chosen whenever
the browser decodes the container and every codec it must play; otherwise HLS:

* ``remux``: every codec decodable, the container not: repackaged to fragmented MP4 with
  stream copy, no re-encoding (cheap: tens of times real time);
* ``audio``: the picture copied, the sound converted to AAC (cheap too);
* ``transcode``: the picture converted to H.264 (libx264), the sound copied when the
  browser decodes it, else converted to AAC (costly: one worker per viewer, renditions for
  adaptive bit rate).

The browser plays the first audio track of a file it plays directly, so the plan always
takes the first track (``audio_track`` 0) and converts it when it must.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from mediaserve.core.library.facts import AudioTrack, MediaFacts
from mediaserve.core.playback.caps import DEFAULT_CAPS, ClientCaps


class Mode(StrEnum):
    DIRECT = "direct"
    REMUX = "remux"
    AUDIO = "audio"
    TRANSCODE = "transcode"
    UNPLAYABLE = "unplayable"  # no way this browser plays it
    OFF = "off"  # a way exists, but this server may not take it (settings)


#: modes served over HLS (a producer makes their segments)
HLS_MODES = frozenset({Mode.REMUX, Mode.AUDIO, Mode.TRANSCODE})

#: our container names (the prober's) -> the descriptor's container keys
CONTAINER_KEY = {"mp4": "mp4", "mov": "mov", "webm": "webm", "matroska": "mkv"}
#: what FFmpeg's mp4 muxer writes into fragmented MP4 with an init segment made before the
#: first packet (AC-3 and E-AC-3 need a packet first, so they are converted)
COPYABLE_VIDEO = frozenset({"h264", "hevc", "av1", "vp9"})
COPYABLE_AUDIO = frozenset({"aac", "mp3", "opus", "flac", "alac"})
OUTPUT_VIDEO, OUTPUT_AUDIO = "h264", "aac"
#: sound every HLS client decodes in fragmented MP4: a transcode's renditions (shared by all
#: browsers) copy only this. Not MP3: Chromium's MSE refuses MP3 in fMP4 (measured:
#: ``isTypeSupported('audio/mp4; codecs="mp4a.40.34"')`` and ``mp4a.69``/``mp4a.6B`` false)
UNIVERSAL_AUDIO = frozenset({"aac"})

NAMES = {
    "h264": "H.264", "hevc": "HEVC", "av1": "AV1", "vp8": "VP8", "vp9": "VP9",
    "mpeg4": "MPEG-4 Part 2", "msmpeg4v3": "MS MPEG-4 v3", "mpeg2video": "MPEG-2",
    "mpeg1video": "MPEG-1", "wmv1": "WMV", "wmv2": "WMV", "wmv3": "WMV", "vc1": "VC-1",
    "theora": "Theora", "aac": "AAC", "ac3": "AC-3", "eac3": "E-AC-3", "dts": "DTS",
    "truehd": "TrueHD", "mp3": "MP3", "mp2": "MP2", "opus": "Opus", "vorbis": "Vorbis",
    "flac": "FLAC", "alac": "ALAC", "matroska": "Matroska", "webm": "WebM", "mp4": "MP4",
    "mov": "QuickTime", "avi": "AVI", "mpegts": "MPEG-TS", "ogg": "Ogg", "asf": "ASF",
}


def display(name: str | None) -> str:
    return NAMES.get(name or "", name or "unknown")


@dataclass(frozen=True, slots=True)
class PlaybackSettings:
    """What the server allows: HLS at all (``--no-transcode``), work at request time
    (``--no-live-transcode``), and whether this video's segments are prepared already."""

    transcode: bool = True
    live: bool = True
    prepared: bool = False


@dataclass(frozen=True, slots=True)
class PlaybackPlan:
    """The decision for one video and one browser."""

    mode: Mode
    video: str | None  # "direct", "copy", "h264", or None (no picture)
    audio: str | None  # "direct", "copy", "aac", or None (no sound)
    audio_track: int | None  # index among the file's audio tracks
    reasons: tuple[str, ...] = field(default=())
    wanted: Mode | None = None  # for OFF: the mode the settings refused
    #: for OFF, which setting refused it: "no-transcode" (converting is off) or
    #: "not-prepared" (--no-live-transcode, and `mediaserve prepare` has not made it)
    off: str | None = None

    @property
    def hls(self) -> bool:
        return self.mode in HLS_MODES

    @property
    def variant_kind(self) -> str | None:
        """Which producer job: "remux", "audio" or "transcode" (None when no HLS)."""
        return str(self.mode) if self.hls else None

    def as_json(self) -> dict[str, Any]:
        return {"mode": str(self.mode), "video": self.video, "audio": self.audio,
                "audio_track": self.audio_track, "reasons": list(self.reasons),
                "wanted": str(self.wanted) if self.wanted is not None else None,
                "off": self.off}


def video_key(facts: MediaFacts) -> str | None:
    """The descriptor's token for the picture: the codec, ``.10`` when deeper than 8 bits."""
    codec = facts.video_codec
    if codec is None:
        return None
    return f"{codec}.10" if (facts.bit_depth or 8) > 8 else codec


def audio_tracks(facts: MediaFacts) -> tuple[AudioTrack, ...]:
    """The tracks, or one made of ``audio_codec`` for an entry probed before tracks were."""
    if facts.audio_tracks:
        return facts.audio_tracks
    return (AudioTrack(facts.audio_codec),) if facts.audio_codec else ()


def audio_copyable(facts: MediaFacts, sound: str | None) -> bool:
    """The sound can go into fragmented MP4 as it is. Not AAC from MPEG-TS: it is framed
    as ADTS there, which the mp4 muxer refuses without a bitstream filter."""
    return sound in COPYABLE_AUDIO and not (sound == "aac" and facts.container == "mpegts")


def decide(facts: MediaFacts, caps: ClientCaps | None = None,
           settings: PlaybackSettings | None = None, copyable: bool = True) -> PlaybackPlan:
    """The plan for ``facts`` in the browser ``caps`` describes (None: DEFAULT_CAPS).
    ``copyable`` False: reading the file found no codec parameters to copy its picture with
    (an H.264 stream whose parameter sets are nowhere in its header), so the picture is
    converted rather than refused."""
    caps = caps or DEFAULT_CAPS
    settings = settings or PlaybackSettings()
    picture, tracks = video_key(facts), audio_tracks(facts)
    sound = tracks[0].codec if tracks else None
    track = 0 if tracks else None
    if picture is None and sound is None:
        return PlaybackPlan(Mode.UNPLAYABLE, None, None, None,
                            ("the file: no picture or sound could be read from it",))
    container = CONTAINER_KEY.get(facts.container or "")
    if (container is not None and (picture is None or caps.plays(container, picture))
            and (sound is None or caps.plays(container, sound))):
        return PlaybackPlan(Mode.DIRECT, "direct" if picture else None,
                            "direct" if sound else None, track,
                            (f"the file: {display(facts.container)} with "
                             f"{_pair(facts, sound)} plays in this browser as it is",))
    return _allowed(_hls_plan(facts, caps, picture, sound, track, container, copyable),
                    settings)


def converted(facts: MediaFacts, caps: ClientCaps | None = None,
              settings: PlaybackSettings | None = None) -> PlaybackPlan:
    """The plan when the viewer picks a converted rendition in the quality menu (a smaller
    picture for a slow link), whatever :func:`decide` chose: the picture to H.264, the sound
    copied only when every browser decodes it in the renditions they share."""
    caps = caps or DEFAULT_CAPS
    settings = settings or PlaybackSettings()
    picture, tracks = video_key(facts), audio_tracks(facts)
    sound = tracks[0].codec if tracks else None
    track = 0 if tracks else None
    if picture is None:
        return PlaybackPlan(Mode.UNPLAYABLE, None, None, track,
                            ("the file: it has no picture to convert",))
    decodes = caps.hls_codecs
    if not (OUTPUT_VIDEO in decodes and (sound is None or OUTPUT_AUDIO in decodes)):
        return PlaybackPlan(Mode.UNPLAYABLE, None, None, track,
                            ("the browser: it does not play H.264/AAC over HLS",))
    copy_audio = sound in decodes and sound in UNIVERSAL_AUDIO
    reasons = [f"the picture: {display(facts.video_codec)} converted to H.264 at the size "
               "picked in the quality menu"]
    if sound and not copy_audio:
        reasons.append(f"the sound: {display(sound)} converted to AAC with the picture")
    plan = PlaybackPlan(Mode.TRANSCODE, OUTPUT_VIDEO,
                        ("copy" if copy_audio else OUTPUT_AUDIO) if sound else None, track,
                        tuple(reasons))
    return _allowed(plan, settings)


def _allowed(plan: PlaybackPlan, settings: PlaybackSettings) -> PlaybackPlan:
    """``plan``, or OFF when the settings forbid the work it needs."""
    if plan.hls and not settings.transcode:
        return _off(plan, "converting is switched off on this server (--no-transcode)",
                    "no-transcode")
    if plan.hls and not settings.live and not settings.prepared:
        return _off(plan, "this server converts only what was prepared ahead "
                          "(serve --no-live-transcode; run mediaserve prepare)", "not-prepared")
    return plan


def _pair(facts: MediaFacts, sound: str | None) -> str:
    parts = [display(facts.video_codec)] if facts.video_codec else []
    if sound:
        parts.append(display(sound))
    return "/".join(parts)


def _off(plan: PlaybackPlan, why: str, setting: str) -> PlaybackPlan:
    return PlaybackPlan(Mode.OFF, None, None, plan.audio_track,
                        (*plan.reasons, f"the server: {why}"), wanted=plan.mode, off=setting)


def _hls_plan(facts: MediaFacts, caps: ClientCaps, picture: str | None, sound: str | None,
              track: int | None, container: str | None, copyable: bool) -> PlaybackPlan:
    decodes = caps.hls_codecs
    why_file = (f"the file: {display(facts.container)} is not played by this browser"
                if container is None or container not in caps.containers
                else None)
    if not caps.streams_hls:
        reasons = [why_file] if why_file else []
        if picture and not caps.plays(container, picture):
            reasons.append(f"the picture: {display(facts.video_codec)} is not decoded by "
                           "this browser")
        if sound and not caps.plays(container, sound):
            reasons.append(f"the sound: {display(sound)} is not decoded by this browser")
        reasons.append("the browser: it has neither Media Source Extensions nor HLS")
        return PlaybackPlan(Mode.UNPLAYABLE, None, None, track, tuple(reasons))
    copy_video = picture is None or (copyable and picture in decodes
                                     and facts.video_codec in COPYABLE_VIDEO)
    adts = sound == "aac" and facts.container == "mpegts"
    copy_audio = sound is None or (sound in decodes and audio_copyable(facts, sound))
    reasons = [why_file] if why_file else []
    if copy_video and copy_audio:
        reasons.append("the file: repackaged for streaming without re-encoding")
        return PlaybackPlan(Mode.REMUX, "copy" if picture else None,
                            "copy" if sound else None, track, tuple(reasons))
    if not (OUTPUT_AUDIO in decodes and (copy_video or OUTPUT_VIDEO in decodes)):
        reasons.append("the browser: it decodes neither the file's codecs nor H.264/AAC")
        return PlaybackPlan(Mode.UNPLAYABLE, None, None, track, tuple(reasons))
    if not copy_video:  # renditions are shared by every browser: copy only universal sound
        why = (_why(facts.video_codec, picture, caps) if copyable else
               f"{display(facts.video_codec)} without its parameter sets cannot be copied")
        reasons.append(f"the picture: {why}, converted to H.264")
        copy_audio = copy_audio and sound in UNIVERSAL_AUDIO
    if sound and not copy_audio:
        reasons.append("the sound: AAC framed for MPEG-TS (ADTS) cannot be carried in the "
                       "streaming format, converted to AAC" if adts else
                       f"the sound: {_why(sound, sound, caps)}, converted to AAC"
                       if sound not in decodes or sound not in COPYABLE_AUDIO else
                       f"the sound: {display(sound)} converted to AAC with the picture")
    mode = Mode.AUDIO if copy_video else Mode.TRANSCODE
    return PlaybackPlan(mode, ("copy" if copy_video else OUTPUT_VIDEO) if picture else None,
                        ("copy" if copy_audio else OUTPUT_AUDIO) if sound else None, track,
                        tuple(reasons))


def _why(codec: str | None, token: str | None, caps: ClientCaps) -> str:
    name, decodes = display(codec), caps.hls_codecs
    if token != codec and token is not None and codec in decodes:
        return f"10-bit {name} is not decoded by this browser"
    if token in decodes:
        return f"{name} cannot be carried in the streaming format"
    if any(token in codecs for codecs in caps.containers.values()):
        return f"{name} plays in this browser from a file, not when streamed"
    return f"{name} is not decoded by this browser"
