"""What probing a file records (:class:`MediaFacts`) and its TOML form, field by field.

Kept apart from the index document (``index.py``) because the facts grow with every feature
that needs to know more about a file (the playback decision needs the profile, the bit depth
and every audio track; posters need the rotation), while the document's shape does not.

``PROBE_VERSION`` says what a probe records. An entry probed by an older mediaserve carries a
lower ``probe_version`` (absent in the TOML means 1), and the next scan probes it again even
though the file did not change, so new facts reach old indexes without a schema bump: the
index stays loadable by the same reader, old entries simply lack the new keys until then.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, cast

#: 1: the first facts; 2: video profile, pixel format, bit depth, rotation, audio tracks;
#: 3: the rotation of Matroska and WebM files (see :func:`probe_is_stale`)
PROBE_VERSION = 3
#: the containers whose facts grew in version 3; every other entry is current at 2
_GREW_IN_3 = frozenset({"matroska", "webm"})

#: more audio tracks than this are not recorded (a hostile file may declare thousands)
MAX_AUDIO_TRACKS = 32


@dataclass(frozen=True, slots=True)
class AudioTrack:
    """One audio stream, in file order: what the playback decision chooses among."""

    codec: str | None = None
    channels: int | None = None
    language: str | None = None  # ISO 639-2 as the container says ("eng"); None if unsaid


@dataclass(frozen=True, slots=True)
class MediaFacts:
    """What probing a file told us. Every field is optional: a broken file yields few."""

    container: str | None = None
    duration: float | None = None  # seconds
    video_codec: str | None = None
    width: int | None = None
    height: int | None = None
    frame_rate: float | None = None
    frames: int | None = None
    audio_codec: str | None = None  # the first audio track's (kept for older readers)
    bit_rate: int | None = None  # bits per second, whole file
    faststart: bool | None = None  # MP4 family only: moov before mdat
    truncated: bool | None = None  # a top-level box/segment runs past the end of the file
    video_profile: str | None = None  # FFmpeg's profile name: "High", "Main 10", ...
    pixel_format: str | None = None  # "yuv420p", "yuv420p10le", ...
    bit_depth: int | None = None  # bits per colour sample of the picture
    rotation: int | None = None  # degrees clockwise to turn the picture for display
    audio_tracks: tuple[AudioTrack, ...] = ()  # every audio stream, in file order


def probe_is_stale(probe_version: int, container: str | None) -> bool:
    """Whether an entry probed by ``probe_version`` lacks facts a probe records now. Version 3
    only added what Matroska and WebM files say, so other entries stay current at 2: a new
    fact of one container costs the next scan a re-probe of those files, not of the whole
    library (a probe also hashes the first and last MiB of each file)."""
    needed = PROBE_VERSION if container in _GREW_IN_3 else 2
    return probe_version < needed


def quarter_turn(rotation: int | None) -> int:
    """``rotation`` as 0, 90, 180 or 270 (the nearest quarter turn; None = 0). The index is
    edited by people, so any whole number may come in."""
    if rotation is None:
        return 0
    return (rotation + 45) // 90 * 90 % 360


def display_size(facts: MediaFacts) -> tuple[int | None, int | None]:
    """(width, height) as the picture is shown: a phone's portrait video is stored as
    landscape plus a quarter turn, and shows as portrait."""
    if quarter_turn(facts.rotation) in (90, 270):
        return facts.height, facts.width
    return facts.width, facts.height


FACT_FIELDS = tuple(f.name for f in dataclasses.fields(MediaFacts))

#: the scalar facts and the TOML types each accepts
FACT_TYPES: dict[str, tuple[type, ...]] = {
    "container": (str,),
    "duration": (float, int),
    "video_codec": (str,),
    "width": (int,),
    "height": (int,),
    "frame_rate": (float, int),
    "frames": (int,),
    "audio_codec": (str,),
    "bit_rate": (int,),
    "faststart": (bool,),
    "truncated": (bool,),
    "video_profile": (str,),
    "pixel_format": (str,),
    "bit_depth": (int,),
    "rotation": (int,),
}
FACT_KEYS = frozenset((*FACT_TYPES, "audio_tracks"))

#: ``fail(key, message)`` builds the error naming the line of ``key`` (see ``index.loads``)
Fail = Callable[[str, str], Exception]


def facts_to_table(facts: MediaFacts, table: dict[str, Any]) -> None:
    """Add the known facts to an entry's TOML table (TOML has no null: absent = unknown)."""
    for name in FACT_TYPES:
        value = getattr(facts, name)
        if value is not None:
            table[name] = value
    if facts.audio_tracks:
        table["audio_tracks"] = [
            {key: value for key, value in (("codec", track.codec),
                                           ("channels", track.channels),
                                           ("language", track.language)) if value is not None}
            for track in facts.audio_tracks]


def facts_from_table(vid: str, table: Mapping[str, Any], fail: Fail) -> MediaFacts:
    """The facts of one entry's table, every value type-checked (people edit the index)."""
    facts: dict[str, Any] = {}
    for key, types in FACT_TYPES.items():
        if key not in table:
            continue
        value = table[key]
        if not isinstance(value, types) or (bool not in types and isinstance(value, bool)):
            kind = " or ".join(t.__name__ for t in types)
            raise fail(key, f"video {vid}: '{key}' must be {kind}")
        try:
            facts[key] = float(cast("float", value)) if float in types else value
        except OverflowError:  # a hand-typed 400-digit integer
            raise fail(key, f"video {vid}: '{key}' is out of range") from None
    if "audio_tracks" in table:
        facts["audio_tracks"] = _tracks(vid, table["audio_tracks"], fail)
    return MediaFacts(**facts)


def _tracks(vid: str, raw: Any, fail: Fail) -> tuple[AudioTrack, ...]:
    message = (f"video {vid}: 'audio_tracks' must be a list of tables with codec (text), "
               "channels (integer) and language (text)")
    if not isinstance(raw, list) or len(raw) > MAX_AUDIO_TRACKS:
        raise fail("audio_tracks", message)
    tracks = []
    for item in raw:
        if not isinstance(item, dict) or set(item) - {"codec", "channels", "language"}:
            raise fail("audio_tracks", message)
        codec, channels, language = item.get("codec"), item.get("channels"), item.get("language")
        if (not isinstance(codec, str | None) or not isinstance(language, str | None)
                or isinstance(channels, bool) or not isinstance(channels, int | None)):
            raise fail("audio_tracks", message)
        tracks.append(AudioTrack(codec, channels, language))
    return tuple(tracks)


def facts_json(facts: MediaFacts) -> dict[str, Any]:
    """Every fact by name, JSON-ready (audio tracks as objects), for the API. ``width`` and
    ``height`` are the picture as shown (rotation applied); ``coded_width`` and
    ``coded_height`` as the stream stores it."""
    doc: dict[str, Any] = {name: getattr(facts, name) for name in FACT_TYPES}
    doc["width"], doc["height"] = display_size(facts)
    doc["coded_width"], doc["coded_height"] = facts.width, facts.height
    doc["audio_tracks"] = [{"codec": t.codec, "channels": t.channels, "language": t.language}
                           for t in facts.audio_tracks]
    return doc
