"""Clean titles from file names.

People name files ``The.Grand.Budapest.Hotel.2014.1080p.BluRay.x264-GRP.mkv`` or
``IMG_0001.mp4``; a card should say *The Grand Budapest Hotel (2014)* and *IMG 0001*. The
rules are deliberately conservative: separators become spaces, release-group noise after the
year or the first quality tag is dropped, and anything we are unsure about is kept, because
a title that loses a real word is worse than one that keeps a tag.
"""

from __future__ import annotations

import re

#: tags that mark the end of the human part of a release name
_NOISE = re.compile(
    r"""(?ix)\b(
        \d{3,4}p | 4k | uhd | hdr10?\+? | dv | sdr
      | blu-?ray | bdrip | brrip | web-?dl | web-?rip | webrip | hdtv | dvdrip | hdrip | remux
      | [xh][ .]?26[45] | hevc | avc | av1 | vp9 | xvid | divx
      | aac(?:2[ .]0)? | ac3 | eac3 | dts(?:-hd)? | truehd | atmos | ddp?5[ .]1 | flac
      | proper | repack | extended | unrated | remastered | imax
    )\b""")
_SEPARATORS = re.compile(r"[ (\[]+")  # one character class: each run found once, linearly
_EPISODE = re.compile(r"(?i)\bS(\d{1,2})[ .]?E(\d{1,3})\b")
_BRACKETED_GROUP = re.compile(r"^\[[^\]]*\]\s*")  # "[Group] Title - 01"
_SPACES = re.compile(r"\s+")


def _year(text: str) -> tuple[str, str] | None:
    """(head, year) of ``Title (1999)``, ``Title [2001] extra``, ``Title 2014 1080p``: what
    ``^(?P<head>.+?)[ (\\[]+(?P<year>(?:19|20)\\d\\d)[)\\]]?(?:\\s|$)`` matches, without
    its backtracking (quadratic in a name of spaces or brackets: ~0.8 ms for 255 of them).
    The year follows a whole run of separators, so one look per run finds the shortest head;
    the head holds no newline (``.`` does not match one)."""
    newline = text.find("\n")
    for run in _SEPARATORS.finditer(text):
        start, end = max(run.start(), 1), run.end()
        if newline != -1 and start > newline:
            return None
        if start >= end:
            continue
        year = text[end:end + 4]
        if len(year) == 4 and year[:2] in ("19", "20") and year[2:].isdecimal():
            after = end + 4
            if text[after:after + 1] in (")", "]"):
                after += 1
            if after == len(text) or text[after].isspace():
                return text[:start], year
    return None


def stem(name: str) -> str:
    """The file name without its folder and its last extension."""
    base = name.rsplit("/", 1)[-1]
    dot = base.rfind(".")
    return base[:dot] if dot > 0 else base


def clean_title(name: str) -> str:
    """A human title for the file ``name`` (a path or a bare name); never empty."""
    raw = stem(name)
    text = raw
    if text.count(" ") == 0 and (text.count(".") >= 2 or text.count("_") >= 1):
        text = text.replace(".", " ").replace("_", " ")
    else:
        text = text.replace("_", " ")
    text = _BRACKETED_GROUP.sub("", text)
    noise = _NOISE.search(text)
    if noise and noise.start() > 0:
        text = text[: noise.start()]
    episode = _EPISODE.search(text)
    if episode:
        season, number = int(episode.group(1)), int(episode.group(2))
        head = text[: episode.start()].strip(" -.")
        text = f"{head} S{season:02d}E{number:02d}".strip()
    else:
        year = _year(text.strip())
        if year and year[0].strip(" -."):
            text = f"{year[0].strip(' -.')} ({year[1]})"
    text = _SPACES.sub(" ", text).lstrip(" -_").rstrip(" -._[(")
    return text or raw or name
