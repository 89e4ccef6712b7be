"""Which HLS variants a video has, and the producer job of each: shared by the routes and
``mediaserve prepare`` so both make the same files in the same folders.

Variants are named the same for every browser: ``remux`` (stream copy), ``audio`` (picture
copied, sound to AAC) and one per rendition (``720p``...). The timeline of a copy is cut at
the keyframes the analysis found; a transcode's is fixed.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Any

from mediaserve.adapters.playback.jobs import Job, rendition_json
from mediaserve.core.library.index import MediaFacts
from mediaserve.core.playback.decide import (
    COPYABLE_VIDEO,
    UNIVERSAL_AUDIO,
    Mode,
    PlaybackPlan,
    audio_copyable,
    audio_tracks,
)
from mediaserve.core.playback.hls import AAC_LC, TRANSCODE_VIDEO_CODECS
from mediaserve.core.playback.segments import (
    FIRST_SEGMENT_SECONDS,
    TRANSCODE_SEGMENT_SECONDS,
    Rendition,
    Timeline,
    copy_timeline,
    fixed_timeline,
    ladder,
)


class NoVariant(LookupError):
    """The video has no such variant (a name that is not its, or a copy it cannot do)."""


def _codecs(analysis: dict[str, Any], track: int | None) -> str | None:
    audio = analysis.get("audio_codecs") or []
    return audio[track] if track is not None and track < len(audio) else None


def master_variants(facts: MediaFacts, analysis: dict[str, Any], plan: PlaybackPlan
              ) -> list[tuple[str, int, str, int | None, int | None]]:
    """(name, bandwidth, codecs, width, height) of the variants the plan's master lists."""
    tracks = audio_tracks(facts)
    sound = tracks[0].codec if tracks else None
    if plan.mode is Mode.TRANSCODE:
        audio = AAC_LC if plan.audio != "copy" else _codecs(analysis, plan.audio_track)
        codecs = ",".join(c for c in (TRANSCODE_VIDEO_CODECS, audio if sound else None) if c)
        return [(r.name, r.bandwidth, codecs, r.width, r.height)
                for r in ladder(facts.width, facts.height)]
    video = analysis.get("video_codecs") if facts.video_codec else None
    audio = (_codecs(analysis, plan.audio_track) if plan.audio == "copy" else AAC_LC) \
        if sound else None
    codecs = ",".join(c for c in (video, audio) if c)
    bandwidth = int((facts.bit_rate or 2_000_000) * 1.2)
    return [(str(plan.mode), bandwidth, codecs, facts.width, facts.height)]


def _timeline(analysis: dict[str, Any], facts: MediaFacts, copy: bool) -> Timeline:
    duration = analysis.get("duration") or facts.duration or 0.0
    if copy and analysis.get("keyframes"):
        return copy_timeline(analysis["keyframes"], Fraction(*analysis["time_base"]),
                             int(analysis["end"]))
    return fixed_timeline(max(duration, 0.04), TRANSCODE_SEGMENT_SECONDS,
                          first=FIRST_SEGMENT_SECONDS)


def variant_job(facts: MediaFacts, analysis: dict[str, Any], variant: str,
                source: tuple[str, ...], folder: Path) -> Job:
    """The producer job for ``variant`` of this video (NoVariant when it has none): every
    segment, from 0; a producer is started at another segment with ``dataclasses.replace``."""
    tracks = audio_tracks(facts)
    sound = tracks[0].codec if tracks else None
    picture = facts.video_codec
    copyable = picture is None or (picture in COPYABLE_VIDEO and bool(analysis.get(
        "video_codecs")))
    rendition: Rendition | None = None
    if variant == "remux" and copyable and (sound is None or audio_copyable(facts, sound)):
        kind, convert = "remux", False
    elif variant == "audio" and copyable and sound is not None:
        kind, convert = "audio", True
    else:
        rendition = next((r for r in ladder(facts.width, facts.height) if r.name == variant),
                         None)
        if rendition is None or picture is None:
            raise NoVariant(f"this video has no variant {variant!r}")
        kind, convert = "transcode", sound is not None and sound not in UNIVERSAL_AUDIO
    line = _timeline(analysis, facts, kind != "transcode" and picture is not None)
    return Job(
        source=source, kind=kind, out=str(folder / variant), starts=line.starts,
        time_base=(line.time_base.numerator, line.time_base.denominator), end=line.end,
        key=str(analysis.get("key", "dts")), audio_track=0 if sound else None,
        convert_audio=convert, rendition=rendition_json(rendition) if rendition else None,
        rotation=facts.rotation or 0, threads=0)
