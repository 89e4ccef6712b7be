"""Peak memory of a whole ``mediaserve serve`` process tree while it makes posters and sprites.

    python -m benchmarks.frame_memory                 # the 16000x16000 PNG bomb
    python -m benchmarks.frame_memory --real 8k       # and a real 8K H.264 and HEVC clip
    python -m benchmarks.frame_memory --heavy         # and an 8K 16-bit RGBA PNG file
    python -m benchmarks.frame_memory --workers       # one fresh worker per real clip

Issue 17 (finding 4): a 2 MB file of three 16000 x 16000 PNG frames drove the server's
processes to gigabytes for one poster request. This builds such a file (:func:`png_bomb`, in
a second, without ever holding a picture in memory), scans it in a separate process, starts a
real server, asks for its poster and its sprite at once (and, with ``--real``, for those of
real 4K/8K clips too), and reports the peak of the sum of the RSS of the server and all its
descendants, sampled every 5 ms by :class:`TreePeak` from ``/proc``, and the sum of their
own peaks (``VmHWM``), an upper bound that no sampling can miss. ``--workers`` measures what
one frame worker needs for each real clip (``VmPeak``, the address space ``RLIMIT_AS``
counts, and ``VmHWM``): how ``core.web.decoding.WORKER_MEMORY_LIMIT`` was chosen.
tests/web/test_frame_limits.py runs the bomb scenario with these same tools.
"""

from __future__ import annotations

import argparse
import json
import os
import struct
import subprocess
import sys
import tempfile
import threading
import urllib.error
import urllib.request
import zlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from fractions import Fraction
from pathlib import Path
from typing import Any

MiB = 1024 * 1024


# --------------------------------------------------------------------------- the bomb


def _chunk(kind: bytes, data: bytes) -> bytes:
    return (struct.pack(">I", len(data)) + kind + data
            + struct.pack(">I", zlib.crc32(kind + data)))


def black_png(width: int, height: int, deep: bool = False) -> bytes:
    """A valid PNG of ``width`` x ``height`` black pixels, ~1/1000 of its pixel bytes: 8-bit
    RGB, or with ``deep`` 16-bit RGBA (8 bytes a pixel, the heaviest format FFmpeg decodes).

    Built without the picture: one row (filter byte and zeros) is deflated with a full flush,
    which makes its compressed bytes independent of anything before them, so the IDAT is that
    block repeated once per row between a zlib header and trailer. The Adler-32 of n zero
    bytes is ``(n mod 65521) << 16 | 1``."""
    row = bytes(1 + (8 if deep else 3) * width)
    raw = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = raw.compress(row) + raw.flush(zlib.Z_FULL_FLUSH)
    tail = raw.flush(zlib.Z_FINISH)
    adler = ((len(row) * height) % 65521) << 16 | 1
    idat = b"\x78\xda" + block * height + tail + struct.pack(">I", adler)
    header = struct.pack(">IIBBBBB", width, height, *((16, 6) if deep else (8, 2)), 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", idat)
            + _chunk(b"IEND", b""))


def png_bomb(path: Path, side: int = 16000, frames: int = 3, height: int | None = None,
             deep: bool = False) -> Path:
    """A QuickTime file of ``frames`` black ``side`` x ``height`` (default: square) PNG
    frames, one a second (:func:`black_png`).

    FFmpeg's Matroska muxer refuses PNG, so the container is MOV (the demuxers treat the
    frames alike). 16000 x 16000 RGB is 768 MB per decoded frame, 3 MB on disk; 8192 x 4320
    16-bit RGBA, within the pixel budget, is 283 MB per frame."""
    import av

    height = height or side
    data = black_png(side, height, deep)
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("png", rate=1)
        stream.width, stream.height = side, height
        stream.pix_fmt = "rgba64be" if deep else "rgb24"
        stream.time_base = Fraction(1, 1000)
        for index in range(frames):
            packet = av.Packet(data)
            packet.stream = stream
            packet.pts = packet.dts = index * 1000
            packet.duration = 1000
            packet.time_base = Fraction(1, 1000)
            packet.is_keyframe = True
            out.mux(packet)
    return path


# --------------------------------------------------------------------------- measuring


def _status_kib(pid: int, field: str) -> int:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith(field):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def tree_pids(root: int) -> list[int]:
    """``root`` and every live descendant (read from /proc: no third-party module)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                ppid = int(stat.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, ()))
    return found


def tree_rss(root: int) -> int:
    """The RSS of ``root`` and its descendants, in bytes."""
    return sum(_status_kib(pid, "VmRSS:") for pid in tree_pids(root)) * 1024


def tree_hwm(root: int) -> int:
    """The sum of each live process's own peak RSS (``VmHWM``), in bytes: at least the tree's
    peak while they all lived, whatever a sampler missed."""
    return sum(_status_kib(pid, "VmHWM:") for pid in tree_pids(root)) * 1024


class TreePeak:
    """Samples :func:`tree_rss` every ``interval`` seconds in a thread; ``peak`` is the
    largest sum seen, ``processes`` the most processes seen at once."""

    def __init__(self, root: int, interval: float = 0.005) -> None:
        self.root, self.interval = root, interval
        self.peak = 0
        self.processes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            pids = tree_pids(self.root)
            self.processes = max(self.processes, len(pids))
            self.peak = max(self.peak, sum(_status_kib(p, "VmRSS:") for p in pids) * 1024)
            self._stop.wait(self.interval)

    def __enter__(self) -> TreePeak:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()


def fetch(url: str, timeout: float = 330) -> tuple[int, dict[str, str], bytes]:
    """GET ``url``: status, headers, body (an HTTP error is an answer, not an exception;
    no answer in ``timeout`` seconds, more than a sprite job may take, is status 0)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as reply:
            return reply.status, dict(reply.headers), reply.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()
    except (TimeoutError, urllib.error.URLError):
        return 0, {}, b""


@contextmanager
def served(root: Path, data_dir: Path) -> Iterator[tuple[Any, dict[str, dict[str, Any]]]]:
    """``root`` scanned by ``mediaserve scan`` (its own process), then served; yields the
    peer and the listing by path."""
    from benchmarks.peers import start_mediaserve

    env = {"MEDIASERVE_DATA_DIR": str(data_dir)}
    subprocess.run([sys.executable, "-m", "mediaserve", "scan", str(root), "--json"],
                   check=True, capture_output=True, env={**os.environ, **env}, timeout=300)
    with start_mediaserve(root, env=env) as peer:
        _status, _headers, body = fetch(peer.base + "/api/videos")
        videos = {video["path"]: video for video in json.loads(body)["videos"]}
        yield peer, videos


def pictures(base: str, video: dict[str, Any]) -> list[str]:
    """The poster and sprite URLs of a listed video."""
    prefix = f"{base}/api/videos/{video['id']}"
    return [base + video["poster_url"], prefix + "/thumbnails.jpg"]


# --------------------------------------------------------------------------- scenarios

_WORKER = """
import json, sys
from mediaserve.adapters.web import framegen
from mediaserve.core.web.decoding import WORKER_MEMORY_LIMIT
from mediaserve.core.web.sprites import plan_sprite
import av
def kib(field):
    with open("/proc/self/status") as status:
        return next(int(l.split()[1]) for l in status if l.startswith(field))
framegen.limit_memory(WORKER_MEMORY_LIMIT)
kind, path, dest, duration, width, height = sys.argv[1:7]
try:
    if kind == "poster":
        made = framegen.make_poster([path], dest, [float(duration) * s for s in (.1, .25, .4)])
    else:
        lay = plan_sprite(float(duration), int(width), int(height))
        made = framegen.make_sprite([path], dest, [lay.sample_time(i) for i in range(lay.count)],
                                    (lay.tile_width, lay.tile_height), lay.columns)
except Exception as exc:
    made = repr(exc)
print(json.dumps({"made": made, "vm_peak_mib": kib("VmPeak:") // 1024,
                  "vm_hwm_mib": kib("VmHWM:") // 1024}))
"""

REAL = {  # name: (codec, width, height, pixel format, encoder options)
    "4k": [("h264-4k.mp4", "libx264", 3840, 2160, "yuv420p", {"preset": "ultrafast"}),
           ("hevc-4k-10bit.mp4", "libx265", 3840, 2160, "yuv420p10le",
            {"preset": "faster", "x265-params": "log-level=none:ref=4:bframes=4:keyint=20"})],
    "8k": [("h264-8k-ref4.mp4", "libx264", 7680, 4320, "yuv420p",
            {"preset": "faster", "refs": "4", "bf": "3", "g": "20"}),
           ("hevc-8k-10bit.mp4", "libx265", 7680, 4320, "yuv420p10le",
            {"preset": "faster", "x265-params": "log-level=none:ref=4:bframes=4:keyint=20"})],
}


def real_clip(folder: Path, name: str, codec: str, width: int, height: int, pix_fmt: str,
              options: dict[str, str], frames: int = 20, fps: int = 10) -> Path:
    """A real clip with reference frames and B-frames (what a camera or a film has)."""
    import av

    from mediaserve.adapters.media.clips import _luma

    path = folder / name
    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
        stream.options = options
        chroma = bytes([128]) * ((width // 2) * (height // 2))
        for index in range(frames):
            frame = av.VideoFrame(width, height, "yuv420p")
            frame.planes[0].update(_luma(width, height, index, frames))
            frame.planes[1].update(chroma)
            frame.planes[2].update(chroma)
            if pix_fmt != "yuv420p":
                frame = frame.reformat(format=pix_fmt)
            frame.pts, frame.time_base = index, Fraction(1, fps)
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


def measure_workers(folder: Path, sizes: list[str]) -> list[dict[str, Any]]:
    """One fresh worker process (with the memory cap) per real clip and picture kind."""
    rows = []
    for size in sizes:
        for name, codec, width, height, pix_fmt, options in REAL[size]:
            clip = real_clip(folder, name, codec, width, height, pix_fmt, options)
            for kind in ("poster", "sprite"):
                done = subprocess.run(
                    [sys.executable, "-c", _WORKER, kind, str(clip),
                     str(folder / f"{name}.{kind}.jpg"), "2", str(width), str(height)],
                    capture_output=True, text=True, timeout=600, check=True)
                rows.append({"clip": name, "kind": kind,
                             **json.loads(done.stdout.strip().splitlines()[-1])})
    return rows


def bomb_scenario(folder: Path, sizes: list[str], side: int, heavy: bool = False
                  ) -> dict[str, Any]:
    """Serve the bomb (and real clips): ask for every picture at once, measure the tree."""
    root = folder / "library"
    png_bomb(root / "bomb.mov", side)
    if heavy:
        png_bomb(root / "heavy.mov", 8192, 10, height=4320, deep=True)
    for size in sizes:
        for name, codec, width, height, pix_fmt, options in REAL[size]:
            real_clip(root, name, codec, width, height, pix_fmt, options)
    with served(root, folder / "data") as (peer, videos):
        idle = tree_rss(peer.pid)
        urls = [url for video in videos.values() for url in pictures(peer.base, video)]
        with TreePeak(peer.pid) as peak, ThreadPoolExecutor(len(urls)) as pool:
            answers = list(pool.map(fetch, urls))
        hwm = tree_hwm(peer.pid)
        status, _headers, _body = fetch(peer.base + "/api/videos")
    return {
        "bomb_bytes": (root / "bomb.mov").stat().st_size,
        "idle_tree_mib": round(idle / MiB), "peak_tree_mib": round(peak.peak / MiB),
        "sum_of_peaks_mib": round(hwm / MiB), "processes": peak.processes,
        "answers": [{"url": url.split("/api/")[1].split("?")[0], "status": code,
                     "placeholder": headers.get("X-Mediaserve-Placeholder") == "1"}
                    for url, (code, headers, _body) in zip(urls, answers, strict=True)],
        "alive_after": status == 200,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--real", action="append", choices=sorted(REAL), default=[],
                        help="also serve real clips of this size (repeatable)")
    parser.add_argument("--side", type=int, default=16000, help="the bomb's width and height")
    parser.add_argument("--heavy", action="store_true",
                        help="also an 8K file of 16-bit RGBA PNG frames (within the pixels)")
    parser.add_argument("--workers", action="store_true",
                        help="measure one worker per real clip instead (default: 4k and 8k)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        if args.workers:
            result: Any = measure_workers(Path(folder), args.real or sorted(REAL))
        else:
            result = bomb_scenario(Path(folder), args.real, args.side, args.heavy)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
