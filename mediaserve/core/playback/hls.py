"""HLS (RFC 8216) playlist text for VOD with fragmented MP4 (CMAF) segments, and the RFC 6381
codec strings the master playlist's CODECS attribute carries.

Pure text: the adapters decide the numbers (boundaries, renditions) and serve the result.
Version 7 because fMP4 segments need ``EXT-X-MAP`` in a media playlist without
I-frames-only (RFC 8216 §7: version 6 or later for EXT-X-MAP there; 7 for the attributes
players such as Safari want with fMP4).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

CONTENT_TYPE = "application/vnd.apple.mpegurl"
INIT_NAME = "init.mp4"


def segment_name(number: int) -> str:
    return f"seg-{number}.m4s"


_VERSION = re.compile(r"[0-9a-f]{1,32}", re.ASCII)


def media_playlist(durations: Sequence[float], version: str = "") -> str:
    """The whole VOD playlist: every segment listed, ``EXT-X-ENDLIST`` at the end. The
    target duration is the longest segment rounded to the nearest integer (§4.3.3.1: each
    EXTINF rounded must not exceed it), so it is rounded up from .5 on.

    ``version`` (the source file's version key) is added to every segment URI as ``?v=``:
    a segment URL then names bytes that never change, so a cache in front (nginx) may keep
    it as long as it likes, and a replaced file's segments get new URLs."""
    if version and not _VERSION.fullmatch(version):
        raise ValueError("a version key is lowercase hex")
    query = f"?v={version}" if version else ""
    target = max(1, max((math.floor(d + 0.5) for d in durations), default=1))
    lines = ["#EXTM3U", "#EXT-X-VERSION:7", f"#EXT-X-TARGETDURATION:{target}",
             "#EXT-X-MEDIA-SEQUENCE:0", "#EXT-X-PLAYLIST-TYPE:VOD",
             "#EXT-X-INDEPENDENT-SEGMENTS", f'#EXT-X-MAP:URI="{INIT_NAME}{query}"']
    for number, duration in enumerate(durations):
        lines.append(f"#EXTINF:{duration:.6f},")
        lines.append(segment_name(number) + query)
    lines.append("#EXT-X-ENDLIST")
    return "\n".join(lines) + "\n"


@dataclass(frozen=True, slots=True)
class Variant:
    """One entry of the master playlist."""

    uri: str  # relative: "720p/index.m3u8"
    bandwidth: int
    codecs: str  # "avc1.640029,mp4a.40.2"
    width: int | None = None
    height: int | None = None
    frame_rate: float | None = None


def master_playlist(variants: Sequence[Variant]) -> str:
    """``EXT-X-STREAM-INF`` per variant, in the order given (players sort by BANDWIDTH)."""
    lines = ["#EXTM3U", "#EXT-X-VERSION:7", "#EXT-X-INDEPENDENT-SEGMENTS"]
    for variant in variants:
        attributes = [f"BANDWIDTH={max(1, variant.bandwidth)}", f'CODECS="{variant.codecs}"']
        if variant.width and variant.height:
            attributes.append(f"RESOLUTION={variant.width}x{variant.height}")
        if variant.frame_rate:
            attributes.append(f"FRAME-RATE={variant.frame_rate:.3f}")
        lines.append("#EXT-X-STREAM-INF:" + ",".join(attributes))
        lines.append(variant.uri)
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- codec strings

#: what libx264 is told to write (profile High, level 4.1): avc1.PPCCLL
TRANSCODE_VIDEO_CODECS = "avc1.640029"
AAC_LC = "mp4a.40.2"


#: an Annex B sequence parameter set: a start code, then a NAL header of type 7
_ANNEX_B_SPS = re.compile(rb"\x00\x00\x01[\x07\x27\x47\x67](...)", re.DOTALL)


def avc_codecs(extradata: bytes) -> str | None:
    """``avc1.PPCCLL`` from an avcC record (version 1, then profile, compatibility, level),
    or from the first SPS of Annex B extradata (MPEG-TS carries no avcC: its parameter sets
    are in-band, and FFmpeg hands them over as start-code-prefixed NAL units)."""
    if len(extradata) >= 4 and extradata[0] == 1:
        return f"avc1.{extradata[1]:02x}{extradata[2]:02x}{extradata[3]:02x}"
    match = _ANNEX_B_SPS.search(extradata[:4096])
    if match is not None:
        return "avc1." + match.group(1).hex()
    return None


def hevc_codecs(extradata: bytes) -> str | None:
    """``hvc1.P.C.TL.B`` (ISO/IEC 14496-15 annex E) from an hvcC record."""
    if len(extradata) < 13 or extradata[0] != 1:
        return None
    space = "ABC"[(extradata[1] >> 6) - 1] if extradata[1] >> 6 else ""
    tier = "H" if extradata[1] & 0x20 else "L"
    profile = extradata[1] & 0x1F
    compat = int.from_bytes(extradata[2:6], "big")
    compat_reversed = int(f"{compat:032b}"[::-1], 2)
    constraints = list(extradata[6:12])
    while constraints and constraints[-1] == 0:
        constraints.pop()
    tail = "".join(f".{byte:X}" for byte in constraints)
    return f"hvc1.{space}{profile}.{compat_reversed:X}.{tier}{extradata[12]}{tail}"


def av1_codecs(extradata: bytes) -> str | None:
    """``av01.P.LLT.DD`` from an av1C record."""
    if len(extradata) < 4 or extradata[0] != 0x81:
        return None
    profile, level = extradata[1] >> 5, extradata[1] & 0x1F
    tier = "H" if extradata[2] & 0x80 else "M"
    depth = 12 if extradata[2] & 0x20 else 10 if extradata[2] & 0x40 else 8
    return f"av01.{profile}.{level:02d}{tier}.{depth:02d}"


def aac_codecs(extradata: bytes) -> str:
    """``mp4a.40.N`` with N the AudioSpecificConfig's object type (2 = AAC-LC)."""
    kind = extradata[0] >> 3 if extradata else 2
    return f"mp4a.40.{kind or 2}"


def codec_string(codec: str | None, extradata: bytes = b"", bit_depth: int | None = None
                 ) -> str | None:
    """The RFC 6381 string for one copied stream, None when we cannot tell."""
    if codec == "h264":
        return avc_codecs(extradata)
    if codec == "hevc":
        return hevc_codecs(extradata)
    if codec == "av1":
        return av1_codecs(extradata)
    if codec == "vp9":
        return f"vp09.00.10.{bit_depth or 8:02d}"
    if codec == "aac":
        return aac_codecs(extradata)
    return {"mp3": "mp4a.40.34", "opus": "opus", "flac": "fLaC", "alac": "alac"}.get(
        codec or "")
