"""Titles for library cards, from file names.

People name files ``The.Grand.Budapest.Hotel.2014.1080p.BluRay.x264-GRP.mkv`` or
``IMG_0001.mp4``; a card should say *The Grand Budapest Hotel (2014)* and *IMG 0001*. The
reading itself is :mod:`mediaserve.core.naming` (episodes, films, years, release noise);
this module keeps the two small helpers the web side has always used.
"""

from __future__ import annotations

from mediaserve.core.naming import parse_path


def stem(name: str) -> str:
    """The file name without its folder and its last extension."""
    base = name.rsplit("/", 1)[-1]
    dot = base.rfind(".")
    return base[:dot] if dot > 0 else base


def clean_title(name: str, this_year: int | None = None) -> str:
    """A human title for the file ``name`` (a path or a bare name); never empty."""
    return parse_path(name, this_year).title
