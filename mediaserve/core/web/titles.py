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
_YEAR = re.compile(r"^(?P<head>.+?)[ (\[]+(?P<year>(?:19|20)\d\d)[)\]]?(?:\s|$)")
_EPISODE = re.compile(r"(?i)\bS(\d{1,2})[ .]?E(\d{1,3})\b")
_BRACKETED_GROUP = re.compile(r"^\[[^\]]*\]\s*")  # "[Group] Title - 01"
_SPACES = re.compile(r"\s+")


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
        year = _YEAR.match(text.strip())
        if year and year.group("head").strip(" -."):
            text = f"{year.group('head').strip(' -.')} ({year.group('year')})"
    text = _SPACES.sub(" ", text).lstrip(" -_").rstrip(" -._[(")
    return text or raw or name
