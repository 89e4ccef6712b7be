"""Subtitle files next to a video: which belong to it, how to label them, SRT to WebVTT.

Browsers only read WebVTT in a ``<track>``; most subtitles people have are SubRip (.srt).
The two differ in little (a header, ``,`` versus ``.`` before the milliseconds, no cue
settings in SRT), so the conversion is done on the fly when the track is requested, and the
file on disk is never touched.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
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


# --- SRT to WebVTT ---------------------------------------------------------------------
#
# Written without regular expressions, so that its cost is provably linear: the old patterns
# (``</?font[^>]*>`` and ``\{\\[^}]*\}``) rescanned the rest of a line from every ``<font``
# that had no ``>`` after it, and a 400 KB line of ``<font`` held the event loop for 17 s.
# Every step below touches each character a bounded number of times: a line is cut once
# at its tag openers, each piece is searched once for the closer, and a search that finds
# no closer ends the stripping of that line (no later opener can be closed either). The
# tests count the calls and the characters each call is handed (tests/complexity.py) and
# check that doubling a hostile input at most doubles them; a regular expression, whose
# inside no call count sees, is refused there.

_ARROW = "-->"


def _digit_run(text: str, start: int, most: int) -> int:
    """Where the run of decimal digits at ``start`` ends, looking at ``most`` + 1 of them at
    most (``\\d`` in a ``str`` pattern is exactly ``str.isdecimal``)."""
    end = start
    limit = min(len(text), start + most + 1)
    while end < limit and text[end].isdecimal():
        end += 1
    return end


def _ascii_digits(digits: str) -> str:
    return "".join(str(int(digit)) for digit in digits)


def _stamp(text: str, whole: bool) -> str | None:
    """``H:M:S[,mmm]`` (1-3, 1-2, 1-2 and 1-3 digits) at the start of ``text`` as WebVTT's
    ``HH:MM:SS.mmm``; with ``whole``, nothing may follow it. What the old pattern
    ``(\\d{1,3}):(\\d{1,2}):(\\d{1,2})(?:[,.](\\d{1,3}))?`` matched, and nothing else."""
    parts = []
    pos = 0
    for most in (3, 2):
        end = _digit_run(text, pos, most)
        if not 0 < end - pos <= most or text[end:end + 1] != ":":
            return None
        parts.append(text[pos:end])
        pos = end + 1
    end = _digit_run(text, pos, 2)
    if end == pos:
        return None
    if end - pos > 2:
        if whole:
            return None
        end = pos + 2  # the second stamp is matched as a prefix: a third digit is ignored
    seconds, millis = text[pos:end], "0"
    if text[end:end + 1] in (",", ".") and end + 1 < len(text):
        stop = _digit_run(text, end + 1, 3)
        if stop > end + 1 and (stop - end - 1 <= 3 or not whole):
            millis = text[end + 1:min(stop, end + 4)]
            end = min(stop, end + 4)
    if whole and end != len(text):
        return None
    hours, minutes = (int(part) for part in parts)
    return (f"{hours:02d}:{minutes:02d}:{int(seconds):02d}."
            f"{_ascii_digits(millis).ljust(3, '0')}")


def _timing(line: str) -> str | None:
    """The WebVTT timing line for an SRT timing line (``00:00:01,000 --> 00:00:02,500``,
    possibly followed by SRT position settings, which are dropped), or None. The first
    stamp holds no ``-``, so the first arrow is the one."""
    if _ARROW not in line:
        return None
    first, _, second = line.partition(_ARROW)
    start = _stamp(first.strip(), whole=True)
    end = _stamp(second.lstrip(), whole=False) if start is not None else None
    return f"{start} --> {end}" if end is not None else None


def _is_font(piece: str) -> int:
    """How many characters of ``piece`` (what follows a ``<``) name a font tag: 4 for
    ``font``, 5 for ``/font`` (any case); -1 when it is not one."""
    head = piece[:5].lower()
    if head.startswith("font"):
        return 4
    return 5 if head == "/font" else -1


def _is_ass(_piece: str) -> int:
    return 0  # whatever follows ``{\`` is an override tag up to the next ``}``


def _strip_tags(line: str, opener: str, named: Callable[[str], int], closer: str) -> str:
    """``line`` without the tags that start with ``opener`` (and pass ``named``) and run to
    the first ``closer`` after it: the leftmost-first matches a pattern like
    ``opener[^closer]*closer`` would remove, in one pass over the line."""
    if opener not in line:
        return line
    pieces = line.split(opener)
    kept = [pieces[0]]
    count = len(pieces)
    index = 1
    while index < count:
        piece = pieces[index]
        skip = named(piece)
        if skip < 0:
            kept.append(opener)
            kept.append(piece)
            index += 1
            continue
        last, end = index, piece.find(closer, skip)
        while end < 0 and last + 1 < count:
            last += 1
            end = pieces[last].find(closer)
        if end < 0:  # no closer anywhere after: no later tag can close either
            kept.append(opener)
            kept.append(opener.join(pieces[index:]))
            break
        kept.append(pieces[last][end + 1:])
        index = last + 1
    return "".join(kept)


def _cue_text(line: str) -> str:
    """A cue's text line without ``<font>`` and ``{\\an8}`` tags (WebVTT has neither; the
    font tags go first, as the old converter removed them), ``-->`` made an arrow."""
    line = _strip_tags(_strip_tags(line, "<", _is_font, ">"), "{\\", _is_ass, "}")
    return line.replace(_ARROW, "→")


def _first_timing(block: list[str]) -> tuple[int, str | None]:
    for at, line in enumerate(block):
        timing = _timing(line)
        if timing is not None:
            return at, timing
    return -1, None


def _cue(block: list[str], out: list[str]) -> None:
    """Append the cue of one SRT block (its non-blank lines) to ``out``; a block without a
    timing line is dropped. Lines before the timing are the cue's identifier."""
    at, timing = _first_timing(block)
    if timing is None:
        return
    ident = " ".join(block[:at]).strip()
    if ident and _ARROW not in ident:
        out.append(ident)
    out.append(timing)
    for line in block[at + 1:]:
        text = _cue_text(line)
        if not text.isspace() and text:
            out.append(text)
    out.append("")


def _lines(text: str) -> Iterator[str]:
    """The lines of ``text`` (LF line ends), one at a time: no list of a million empty
    strings for a file of blank lines."""
    start = 0
    while True:
        end = text.find("\n", start)
        if end < 0:
            yield text[start:]
            return
        yield text[start:end]
        start = end + 1


def srt_to_vtt(text: str) -> str:
    """WebVTT for SubRip ``text``: blocks without a valid timing line are dropped, cue
    numbers are kept as identifiers, ``<font>`` and ``{\\an8}`` tags are removed (WebVTT
    has neither), and ``-->`` inside the text (not allowed in a cue) becomes an arrow.
    Blocks are separated by blank (or whitespace-only) lines; a BOM and CR line ends are
    dropped. Linear in the length of ``text`` whatever it holds (see above)."""
    text = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    out = ["WEBVTT", ""]
    block: list[str] = []
    for line in _lines(text):
        if line and not line.isspace():
            block.append(line)
        elif block:
            _cue(block, out)
            block = []
    if block:
        _cue(block, out)
    return "\n".join(out)


def normalise_vtt(text: str) -> str:
    """A ``.vtt`` file as served: no BOM, LF line ends, and a ``WEBVTT`` header even when
    the file forgot it (browsers drop the whole track without one)."""
    text = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    if not text.startswith("WEBVTT"):
        text = "WEBVTT\n\n" + text
    return text
