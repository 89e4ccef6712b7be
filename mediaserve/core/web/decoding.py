"""How much picture a poster or sprite worker may decode, decided before it decodes.

Why: a video names its picture size in a few header bytes, and whoever made the file chose
them. A 3 MB file of three 16000 x 16000 PNG frames made one frame worker allocate 768 MB per
frame and about 5 GB in all, for one poster (issue 17). Every real camera or film frame fits
in DCI 8K, so anything larger is refused from the stream's parameters, and FFmpeg's own
``max_pixels`` makes the decoder refuse a larger frame before it allocates it (a file can
claim one size in its header and carry another in its frames). Where the format is known a
picture's bytes are budgeted too (an 8K picture of 16-bit RGBA is 283 MB). What is decoded
is decoded small where the decoder can do that itself (``lowres``: JPEG, MPEG-1/2/4 and a
few others halve the picture per level while decoding), with few threads (a frame-threaded
decoder keeps a picture per thread), one big picture at a time across all workers
(:func:`decodes_heavy`), and in a worker whose address space is capped
(:data:`WORKER_MEMORY_LIMIT`), so whatever slips past these costs that worker's job and a
placeholder, never the machine's memory.
"""

from __future__ import annotations

from dataclasses import dataclass

#: DCI 8K, 8192 x 4320 (35.4 MP): the largest picture a poster or sprite is made from
MAX_PIXELS = 8192 * 4320
#: the largest decoded picture in bytes: DCI 8K at 24 bits a pixel as stored (4:2:0 at 10 to
#: 16 bits, or 8-bit RGB), 106 MB. An 8K picture in a heavier format (4:2:2 or 4:4:4 at high
#: bit depth, 16-bit RGBA: up to 283 MB) is refused; 4K fits in any format
MAX_FRAME_BYTES = MAX_PIXELS * 3
#: above this (DCI 4K, 8.8 MP) a picture is decoded one at a time (:func:`decodes_heavy`)
HEAVY_PIXELS = 4096 * 2160
#: decoder threads per job: each frame thread holds a picture (50-100 MB at 8K)
DECODE_THREADS = 2
#: the deepest ``lowres`` level FFmpeg offers (1/8 of each side); decoders clamp to theirs
MAX_LOWRES = 3
#: a frame worker's address-space cap (``RLIMIT_AS``). Measured (benchmarks/frame_memory.py)
#: on 8K 10-bit HEVC with 4 reference frames, the heaviest real poster, with the thread count
#: above; the figure holds FFmpeg's and Python's mappings and thread stacks, not only the heap
WORKER_MEMORY_LIMIT = 1536 * 1024 * 1024


def decodes_heavy(width: int | None, height: int | None) -> bool:
    """Whether a picture must wait for the single big-decode turn: larger than DCI 4K, or of
    a size the scan could not read (a file FFmpeg refused while probing, or a broken one).
    One such decode at a time bounds what all frame workers hold together, whatever files
    a client asks for at once; pictures up to 4K (the most a worker needs is ~0.5 GB for
    10-bit HEVC) are made in parallel."""
    if not width or not height or width <= 0 or height <= 0:
        return True
    return width * height > HEAVY_PIXELS


def open_options(budget: int = MAX_PIXELS) -> dict[str, str]:
    """Options for opening a library file with FFmpeg: while it reads the streams'
    parameters it decodes a frame or two, and a decoder told ``max_pixels`` refuses an
    over-budget frame before allocating it (the stream's size then reads as unknown)."""
    return {"max_pixels": str(budget)}


@dataclass(frozen=True, slots=True)
class DecodePlan:
    """The FFmpeg decoder options for one stream."""

    lowres: int = 0
    threads: int = DECODE_THREADS
    max_pixels: int = MAX_PIXELS

    def codec_options(self) -> dict[str, str]:
        """As ``AVCodecContext`` options (all strings, as FFmpeg's dictionaries take them)."""
        return {"max_pixels": str(self.max_pixels), "threads": str(self.threads),
                "lowres": str(self.lowres)}


def pixel_refusal(width: int | None, height: int | None, budget: int = MAX_PIXELS,
                  bits_per_pixel: int | None = None) -> str | None:
    """Why a stream of ``width`` x ``height`` must not be decoded, or None when it may be.

    ``bits_per_pixel`` (as stored, padding included), when the format is known, also
    bounds the bytes of a decoded picture (:data:`MAX_FRAME_BYTES`, scaled with ``budget``).
    An unknown size (None or 0: FFmpeg could not read it, or refused it while probing) is
    not refused here: the decoder's ``max_pixels`` still refuses a frame over the budget
    before allocating it."""
    if not width or not height or width <= 0 or height <= 0:
        return None
    pixels = width * height
    if pixels > budget:
        return (f"{width}x{height} is {pixels / 1e6:.0f} MP, over the "
                f"{budget / 1e6:.1f} MP budget for posters and previews")
    if bits_per_pixel is not None and bits_per_pixel > 0:
        size, limit = pixels * bits_per_pixel // 8, budget * MAX_FRAME_BYTES // MAX_PIXELS
        if size > limit:
            return (f"{width}x{height} at {bits_per_pixel} bits a pixel is "
                    f"{size / 1e6:.0f} MB a picture, over the {limit / 1e6:.0f} MB budget "
                    "for posters and previews")
    return None


def lowres_level(width: int | None, wanted_width: int) -> int:
    """The deepest ``lowres`` level (each halves both sides) whose picture is still at least
    ``wanted_width`` wide: a 7680-wide JPEG becomes 960 wide for a 480 px poster."""
    if not width or width <= 0 or wanted_width <= 0:
        return 0
    level = 0
    while level < MAX_LOWRES and width >> (level + 1) >= wanted_width:
        level += 1
    return level


def plan_decode(width: int | None, height: int | None, wanted_width: int,
                budget: int = MAX_PIXELS, bits_per_pixel: int | None = None
                ) -> DecodePlan | str:
    """How to decode a stream for a picture ``wanted_width`` wide, or why not to."""
    refusal = pixel_refusal(width, height, budget, bits_per_pixel)
    if refusal is not None:
        return refusal
    return DecodePlan(lowres=lowres_level(width, wanted_width), max_pixels=budget)
