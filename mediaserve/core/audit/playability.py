"""Which container and codec combinations browsers play, and what to say when they do not.

The tables are what Chromium and Firefox play natively (no plug-in, no hardware decoder
needed). The rules ``unplayable`` and ``chromium-only`` (:mod:`.rules`) are thin wrappers
around :func:`playback`, completed by :func:`with_plan` with the playback mode mediaserve
uses for the file (core/playback): the audit says which mode a file needs and why.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from mediaserve.core.library.facts import MediaFacts
from mediaserve.core.playback.decide import Mode, decide


class Playback(StrEnum):
    """Where a file plays: everywhere is not a verdict, it is the absence of one."""

    CHROMIUM_ONLY = "chromium-only"
    UNPLAYABLE = "unplayable"


@dataclass(frozen=True, slots=True)
class PlaybackVerdict:
    """A combination that does not play everywhere: which kind, why, and what would help."""

    playback: Playback
    reason: str  # a sentence that starts with the codec pair
    fix: str


_MP4_VIDEO = frozenset({"h264", "av1", "vp9"})
_MP4_AUDIO: frozenset[str | None] = frozenset({None, "aac", "mp3", "opus", "flac"})
_WEBM_VIDEO = frozenset({"vp8", "vp9", "av1"})
_WEBM_AUDIO: frozenset[str | None] = frozenset({None, "opus", "vorbis"})
#: (container, video codecs, audio codecs) that Chromium and Firefox both play natively;
#: ``None`` in the audio set means "no audio stream". The Matroska and QuickTime verdicts
#: below reuse the same sets, so the table and the advice cannot drift apart.
PLAYS_EVERYWHERE: tuple[tuple[str, frozenset[str], frozenset[str | None]], ...] = (
    ("mp4", _MP4_VIDEO, _MP4_AUDIO),
    ("webm", _WEBM_VIDEO, _WEBM_AUDIO),
)

CODEC_NOTES: dict[str, str] = {
    "hevc": "HEVC (H.265) plays in Safari, and in Chromium only with a hardware decoder",
    "mpeg4": "MPEG-4 Part 2 (DivX/Xvid) plays in no browser",
    "msmpeg4v3": "MS MPEG-4 v3 (DivX 3) plays in no browser",
    "wmv1": "Windows Media Video plays in no browser",
    "wmv2": "Windows Media Video plays in no browser",
    "wmv3": "Windows Media Video plays in no browser",
    "vc1": "VC-1 plays in no browser",
    "mpeg2video": "MPEG-2 video plays in no browser",
    "mpeg1video": "MPEG-1 video plays in no browser",
    "theora": "Theora no longer plays in Chromium",
    "ac3": "AC-3 audio does not play in Chromium or Firefox",
    "eac3": "E-AC-3 audio does not play in Chromium or Firefox",
    "dts": "DTS audio plays in no browser",
}

TRANSCODE = "transcode to H.264/AAC in MP4 (or VP9/Opus in WebM)"
#: the fix when mediaserve converts the file itself as it plays
CONVERTED = ("none needed: mediaserve converts it as it plays (`mediaserve prepare` does it "
             "ahead of time)")
_REMUX_MP4 = ("remux to MP4 without re-encoding "
              "(e.g. ffmpeg -i IN -c copy -movflags +faststart OUT.mp4)")
_REMUX_WEBM = "remux to .webm without re-encoding (e.g. ffmpeg -i IN -c copy OUT.webm)"


def with_plan(verdict: PlaybackVerdict, facts: MediaFacts) -> PlaybackVerdict:
    """The verdict completed with how mediaserve plays the file in the default browser
    (desktop Chromium): the mode it needs and why, and no "transcode it yourself" when
    mediaserve converts it."""
    plan = decide(facts)
    if plan.mode is Mode.DIRECT:
        return PlaybackVerdict(verdict.playback, f"{verdict.reason}; mediaserve plays it "
                               "directly in Chromium and repackages it (HLS) for the others",
                               verdict.fix)
    if plan.hls:
        why = "; ".join(plan.reasons)
        return PlaybackVerdict(verdict.playback, f"{verdict.reason}; mediaserve plays it in "
                               f"Chromium as {plan.mode} ({why})", CONVERTED)
    return verdict


def playable_everywhere(container: str | None, video: str | None, audio: str | None) -> bool:
    """True when Chromium and Firefox both play this container/codec combination natively."""
    return any(container == c and video in vs and audio in aus
               for c, vs, aus in PLAYS_EVERYWHERE)


def playback(container: str | None, video: str | None,
             audio: str | None) -> PlaybackVerdict | None:
    """The verdict for a file that does not play everywhere; None when it does, or when the
    container or video codec is unknown (nothing to judge)."""
    if container is None or video is None or playable_everywhere(container, video, audio):
        return None
    pair = f"{video}" + (f"/{audio}" if audio else "") + f" in {container}"
    if container == "matroska" and video in _WEBM_VIDEO and audio in _WEBM_AUDIO:
        return PlaybackVerdict(
            Playback.CHROMIUM_ONLY,
            f"{pair}: plays in Chromium; other browsers expect these codecs in WebM",
            _REMUX_WEBM)
    if container == "matroska" and video == "h264" and audio in _MP4_AUDIO:
        return PlaybackVerdict(
            Playback.CHROMIUM_ONLY,
            f"{pair}: plays in Chromium only (Safari never; Firefox only in recent versions)",
            _REMUX_MP4)
    if container == "mov" and video == "h264" and audio in _MP4_AUDIO:
        return PlaybackVerdict(
            Playback.CHROMIUM_ONLY,
            f"{pair}: QuickTime plays in Chromium and Safari; Firefox refuses video/quicktime",
            _REMUX_MP4)
    notes = [CODEC_NOTES[c] for c in (video, audio) if c is not None and c in CODEC_NOTES]
    reason = "; ".join(notes) if notes else "not natively playable in Chromium and Firefox"
    return PlaybackVerdict(Playback.UNPLAYABLE, f"{pair}: {reason}", TRANSCODE)


__all__ = [
    "CODEC_NOTES",
    "CONVERTED",
    "PLAYS_EVERYWHERE",
    "TRANSCODE",
    "Playback",
    "PlaybackVerdict",
    "playable_everywhere",
    "playback",
    "with_plan",
]
