"""Subtitle files next to a video: which belong to it, how to label them, SRT to WebVTT.

Browsers only read WebVTT in a ``<track>``; most subtitles people have are SubRip (.srt).
The two differ in little (a header, ``,`` versus ``.`` before the milliseconds, no cue
settings in SRT), so the conversion is done on the fly when the track is requested, and the
file on disk is never touched.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from mediaserve.core.web.titles import stem

SUBTITLE_EXTENSIONS = (".vtt", ".srt")

_LANGUAGES = {
    "en": "English", "eng": "English", "fr": "Français", "fre": "Français", "fra": "Français",
    "de": "Deutsch", "ger": "Deutsch", "deu": "Deutsch", "es": "Español", "spa": "Español",
    "it": "Italiano", "ita": "Italiano", "pt": "Português", "por": "Português",
    "nl": "Nederlands", "dut": "Nederlands", "sv": "Svenska", "swe": "Svenska",
    "da": "Dansk", "no": "Norsk", "nb": "Norsk", "fi": "Suomi", "pl": "Polski",
    "cs": "Čeština", "ru": "Русский", "rus": "Русский", "uk": "Українська", "el": "Ελληνικά",
    "tr": "Türkçe", "ar": "العربية", "he": "עברית", "hi": "हिन्दी", "ja": "日本語",
    "jpn": "日本語", "ko": "한국어", "kor": "한국어", "zh": "中文", "chi": "中文", "zho": "中文",
}
_FLAGS = {"forced": "forced", "sdh": "SDH", "cc": "CC", "hi": "SDH"}
_LANG_TAG = re.compile(r"^[a-z]{2,3}(?:-[a-z0-9]{2,8})*$", re.IGNORECASE)


def is_subtitle_name(name: str) -> bool:
    return name.lower().endswith(SUBTITLE_EXTENSIONS) and not name.startswith(".")


def match_subtitles(videos: Iterable[str], others: Iterable[str]) -> dict[str, tuple[str, ...]]:
    """Subtitle files of one folder, by the video they belong to.

    ``movie.vtt``, ``movie.srt`` and ``movie.en.srt`` belong to ``movie.mp4``. A subtitle
    that could belong to two videos (``movie.part2.srt`` beside ``movie.mp4`` and
    ``movie.part2.mp4``) goes to the one with the longest matching name. Names are compared
    case-insensitively; the result keeps the names as they are on disk, sorted.
    """
    stems = sorted(((stem(v).lower(), v) for v in videos), key=lambda s: -len(s[0]))
    found: dict[str, list[str]] = {}
    for name in others:
        if not is_subtitle_name(name):
            continue
        sub = stem(name).lower()
        for video_stem, video in stems:
            if sub == video_stem or sub.startswith(video_stem + "."):
                found.setdefault(video, []).append(name)
                break
    return {video: tuple(sorted(names)) for video, names in found.items()}


@dataclass(frozen=True, slots=True)
class TrackInfo:
    """What a ``<track>`` needs: a BCP 47 ``srclang`` (or empty) and a label."""

    srclang: str
    label: str


def track_info(video_name: str, subtitle_name: str) -> TrackInfo:
    """Language and label from the tags between the video's name and the extension."""
    video_stem = stem(video_name)
    sub_stem = stem(subtitle_name)
    tags = [t for t in sub_stem[len(video_stem):].split(".") if t] if (
        sub_stem.lower().startswith(video_stem.lower())) else []
    srclang, words, flags = "", [], []
    for tag in tags:
        low = tag.lower()
        if low in _FLAGS:
            flags.append(_FLAGS[low])
        elif not srclang and _LANG_TAG.match(tag) and (low.split("-")[0] in _LANGUAGES
                                                       or len(low) == 2):
            srclang = low
            words.append(_LANGUAGES.get(low.split("-")[0], tag.upper()))
        else:
            words.append(tag)
    label = " ".join(words) or "Subtitles"
    if flags:
        label += f" ({', '.join(flags)})"
    return TrackInfo(srclang, label)


_SRT_TIME = re.compile(
    r"^\s*(\d{1,3}):(\d{1,2}):(\d{1,2})(?:[,.](\d{1,3}))?\s*-->\s*"
    r"(\d{1,3}):(\d{1,2}):(\d{1,2})(?:[,.](\d{1,3}))?")
_FONT_TAG = re.compile(r"</?font[^>]*>", re.IGNORECASE)
_ASS_TAG = re.compile(r"\{\\[^}]*\}")


def _stamp(h: str, m: str, s: str, ms: str | None) -> str:
    millis = (ms or "0").ljust(3, "0")
    return f"{int(h):02d}:{int(m):02d}:{int(s):02d}.{millis}"


def srt_to_vtt(text: str) -> str:
    """WebVTT for SubRip ``text``: blocks without a valid timing line are dropped, cue
    numbers are kept as identifiers, ``<font>`` and ``{\\an8}`` tags are removed (WebVTT
    has neither), and ``-->`` inside the text (not allowed in a cue) becomes an arrow."""
    text = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    out = ["WEBVTT", ""]
    for block in re.split(r"\n\s*\n", text):
        lines = [line for line in block.split("\n") if line.strip() != "" or False]
        timing_at = next((i for i, line in enumerate(lines) if _SRT_TIME.match(line)), None)
        if timing_at is None:
            continue
        match = _SRT_TIME.match(lines[timing_at])
        assert match is not None
        g = match.groups()
        cue: list[str] = []
        ident = " ".join(lines[:timing_at]).strip()
        if ident and "-->" not in ident:
            cue.append(ident)
        cue.append(f"{_stamp(*g[0:4])} --> {_stamp(*g[4:8])}")
        for line in lines[timing_at + 1:]:
            line = _ASS_TAG.sub("", _FONT_TAG.sub("", line)).replace("-->", "→")
            if line.strip():
                cue.append(line)
        out.extend([*cue, ""])
    return "\n".join(out)


def normalise_vtt(text: str) -> str:
    """A ``.vtt`` file as served: no BOM, LF line ends, and a ``WEBVTT`` header even when
    the file forgot it (browsers drop the whole track without one)."""
    text = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    if not text.startswith("WEBVTT"):
        text = "WEBVTT\n\n" + text
    return text
