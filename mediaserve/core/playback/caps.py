"""What a browser decodes: the client capability descriptor, its strict parser and a default.

The player page computes the descriptor once, from ``canPlayType`` asked with the MIME type
of each container the server sends (``video/mp4``, ``video/webm``, ``video/x-matroska``,
``video/quicktime``: asking ``video/webm; codecs="avc1"`` about a Matroska file is the wrong
question, see issue 19) and from ``MediaSource.isTypeSupported`` for fragmented MP4, and
passes it as ``?caps=``. The text is compact and line-free::

    v1;mp4=h264,h264.10,av1,aac,mp3;mkv=h264,aac;webm=vp9,opus;mse=h264,aac;hls=0

* ``v1`` first: the format's version.
* ``mp4``, ``mov``, ``webm``, ``mkv``: the codecs the browser decodes *in that container*
  played as a file (``<video src>``); a container left out is one it does not play.
* ``mse``: the codecs Media Source Extensions accept in fragmented MP4; absent = no MSE.
* ``hls``: ``1`` when the browser plays HLS itself (Safari), else ``0``.

Codec tokens are our canonical names (``h264``, ``hevc``, ``av1``, ``vp9``, ``aac``,
``ac3``, ...), with ``.10`` for a 10-bit picture (``h264.10``: High 10, ``hevc.10``: Main
10). The input is untrusted: the syntax is strict and bounded (length, items, tokens), the
vocabulary lenient (an unknown token is kept and simply never matches, so a newer page
still talks to an older server).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

MAX_LENGTH = 1024
MAX_TOKENS = 32  # per list
CONTAINER_KEYS = ("mp4", "mov", "webm", "mkv")
_KEYS = frozenset((*CONTAINER_KEYS, "mse", "hls"))
_TOKEN = re.compile(r"[a-z0-9][a-z0-9.\-]{0,15}", re.ASCII)
_ITEM = re.compile(r"([a-z0-9]{1,8})=([a-z0-9.,\-]{0,600})", re.ASCII)


class CapsError(ValueError):
    """The descriptor is not valid; the message says what is wrong with it."""


@dataclass(frozen=True, slots=True)
class ClientCaps:
    """What one browser decodes, by container, through MSE, and whether it plays HLS."""

    containers: Mapping[str, frozenset[str]] = field(default_factory=dict)
    mse: frozenset[str] | None = None  # None: no Media Source Extensions
    native_hls: bool = False

    def plays(self, container: str | None, codec: str | None) -> bool:
        """True when a file in ``container`` with ``codec`` plays as it is."""
        return container is not None and codec in self.containers.get(container, ())

    @property
    def hls_codecs(self) -> frozenset[str]:
        """Codecs decodable in fragmented MP4 HLS: what MSE takes, or for native HLS (which
        plays fMP4 with the platform's decoders) what the browser plays in MP4."""
        if self.mse is not None:
            return self.mse
        if self.native_hls:
            return self.containers.get("mp4", frozenset())
        return frozenset()

    @property
    def streams_hls(self) -> bool:
        return self.mse is not None or self.native_hls

    def text(self) -> str:
        """The descriptor, in the form :func:`parse_caps` reads (sorted: one text per set)."""
        items = ["v1"]
        for key in CONTAINER_KEYS:
            if key in self.containers:
                items.append(f"{key}={','.join(sorted(self.containers[key]))}")
        if self.mse is not None:
            items.append(f"mse={','.join(sorted(self.mse))}")
        items.append(f"hls={int(self.native_hls)}")
        return ";".join(items)


def _tokens(key: str, value: str) -> frozenset[str]:
    tokens = value.split(",") if value else []
    if len(tokens) > MAX_TOKENS:
        raise CapsError(f"'{key}' lists more than {MAX_TOKENS} codecs")
    for token in tokens:
        if not _TOKEN.fullmatch(token):
            raise CapsError(f"'{key}' has an invalid codec name {token[:20]!r}")
    return frozenset(tokens)


def parse_caps(text: str) -> ClientCaps:
    """Parse a descriptor. Raises :class:`CapsError` for anything but the documented form;
    linear in the input, which is refused beyond ``MAX_LENGTH`` characters."""
    if len(text) > MAX_LENGTH:
        raise CapsError(f"the descriptor is longer than {MAX_LENGTH} characters")
    items = text.split(";")
    if items[0] != "v1":
        raise CapsError("the descriptor must start with its version, 'v1'")
    containers: dict[str, frozenset[str]] = {}
    mse: frozenset[str] | None = None
    hls = False
    seen: set[str] = set()
    for item in items[1:]:
        match = _ITEM.fullmatch(item)
        if match is None:
            raise CapsError(f"invalid item {item[:20]!r} (expected key=value)")
        key, value = match.groups()
        if key in seen:
            raise CapsError(f"'{key}' is given twice")
        seen.add(key)
        if key not in _KEYS:
            continue  # a newer page's key: ignored, bounded by the length limit
        if key == "hls":
            if value not in ("0", "1"):
                raise CapsError("'hls' must be 0 or 1")
            hls = value == "1"
        elif key == "mse":
            mse = _tokens(key, value)
        else:
            containers[key] = _tokens(key, value)
    return ClientCaps(containers, mse, hls)


_CHROMIUM_MP4 = frozenset({"h264", "h264.10", "av1", "vp9", "aac", "mp3", "opus", "flac"})
#: what a client that sends no descriptor is assumed to decode: desktop Chromium without a
#: hardware HEVC decoder (measured, see shared notes), the most common browser and the one
#: the test suite drives. Safari users get HEVC direct only by sending their descriptor.
#: Chromium's MSE takes no MP3 in fragmented MP4 (measured, Chromium 156), though a plain
#: MP4 file with MP3 plays.
DEFAULT_CAPS = ClientCaps(
    containers={
        "mp4": _CHROMIUM_MP4,
        "mov": frozenset({"h264", "h264.10", "aac", "mp3"}),
        "webm": frozenset({"vp8", "vp9", "av1", "opus", "vorbis"}),
        "mkv": frozenset({"h264", "h264.10", "vp8", "vp9", "av1", "aac", "mp3", "opus",
                          "vorbis", "flac"}),
    },
    mse=_CHROMIUM_MP4 - {"mp3"},
    native_hls=False,
)
