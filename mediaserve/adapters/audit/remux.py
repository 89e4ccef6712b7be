"""The faststart remux: rewrite an MP4 with its ``moov`` box first, by stream copy.

The only code in the audit that writes media, and only when asked (``--remux-faststart``):
the copy is verified packet for packet before it replaces anything, and any failure leaves
the original untouched.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import av

from mediaserve.adapters.audit.deep import describe_error
from mediaserve.adapters.media.containers import mp4_boxes


class RemuxError(RuntimeError):
    """The remux failed or did not verify; the original file is untouched."""


@dataclass(frozen=True, slots=True)
class RemuxResult:
    source: Path
    output: Path  # the new file: the source itself when replaced in place
    in_place: bool


def faststart_name(path: Path) -> Path:
    """``clip.mp4`` → ``clip.faststart.mp4``, beside the original."""
    return path.with_name(f"{path.stem}.faststart{path.suffix}")


def _packet_signature(path: Path) -> tuple[dict[int, tuple[str | None, int, int, int]],
                                            float | None]:
    """Per stream (codec, packet count, total bytes, CRC-32 of all payloads), and the
    container duration: what must survive a stream copy unchanged."""
    codecs: dict[int, str | None] = {}
    counts: dict[int, list[int]] = {}  # packets, bytes, CRC-32
    with av.open(str(path), metadata_errors="ignore") as container:
        for stream in container.streams:
            codecs[stream.index] = stream.codec_context.name if stream.codec_context else None
            counts[stream.index] = [0, 0, 0]
        for packet in container.demux():
            if not packet.size or packet.dts is None:
                continue
            entry = counts[packet.stream.index]
            payload = bytes(packet)
            entry[0] += 1
            entry[1] += len(payload)
            entry[2] = zlib.crc32(payload, entry[2])
        duration = container.duration / av.time_base if container.duration else None
    return {k: (codecs[k], counts[k][0], counts[k][1], counts[k][2]) for k in codecs}, duration


def _stream_copy(source: Path, target: Path, fmt: str) -> None:
    with av.open(str(source), metadata_errors="ignore") as inp, \
            av.open(str(target), "w", format=fmt, options={"movflags": "+faststart"}) as out:
        mapping = {s.index: out.add_stream_from_template(s) for s in inp.streams}
        for packet in inp.demux():
            if packet.dts is None:  # flush packets carry no data
                continue
            packet.stream = mapping[packet.stream.index]
            out.mux(packet)


def _verify(source: Path, target: Path) -> None:
    before, before_duration = _packet_signature(source)
    after, after_duration = _packet_signature(target)
    if before != after:
        raise RemuxError(f"verification failed: streams or packets differ ({before} vs {after})")
    if (before_duration is None) != (after_duration is None) or (
            before_duration is not None and after_duration is not None
            and abs(before_duration - after_duration) > 0.05):
        raise RemuxError(f"verification failed: duration {before_duration} → {after_duration}")
    size = target.stat().st_size
    with open(target, "rb") as handle:
        layout = mp4_boxes(handle, size)
    if not layout.faststart or layout.overrun:
        raise RemuxError("verification failed: the new file is not faststart")


def remux_faststart(path: Path, in_place: bool = False) -> RemuxResult:
    """Rewrite ``path`` with its ``moov`` box first, by stream copy (no re-encoding).

    The copy is written to a hidden temp file in the same folder, verified (same streams,
    same packets byte for byte, same duration, faststart), and only then renamed: over the
    original with ``in_place``, else to ``NAME.faststart.EXT`` (never over an existing
    file). Any failure removes the temp file and leaves the original untouched. The caller
    updates the index.
    """
    path = Path(path)
    target = path if in_place else faststart_name(path)
    if not in_place and target.exists():
        raise RemuxError(f"{target.name} already exists; not overwriting it")
    fmt = "mov" if path.suffix.lower() == ".mov" else "mp4"
    try:
        before = path.stat()
    except OSError as exc:  # gone since the audit
        raise RemuxError(f"cannot stat: {exc.strerror or exc}") from None
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".remux.tmp",
                                        dir=path.parent)
    except OSError as exc:  # a folder we cannot write to
        raise RemuxError(f"cannot write a copy beside it: {exc.strerror or exc}") from None
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        try:
            _stream_copy(path, tmp, fmt)
        except (av.error.FFmpegError, OSError, ValueError) as exc:
            raise RemuxError(f"cannot remux: {describe_error(exc)}") from None
        try:
            _verify(path, tmp)
        except (av.error.FFmpegError, OSError, ValueError) as exc:
            raise RemuxError(f"cannot verify the new file: {describe_error(exc)}") from None
        now = path.stat()
        if (now.st_size, now.st_mtime_ns) != (before.st_size, before.st_mtime_ns):
            raise RemuxError("the original changed during the remux; left as it was")
        shutil.copymode(path, tmp)
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        if in_place:
            os.replace(tmp, target)
        else:
            _rename_no_replace(tmp, target)
        _fsync_dir(path.parent)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return RemuxResult(path, target, in_place)


def _rename_no_replace(tmp: Path, target: Path) -> None:
    """Rename, but never over an existing file (a hard link fails if the name is taken;
    file systems without hard links fall back to a check, with a tiny race)."""
    try:
        os.link(tmp, target)
    except FileExistsError:
        raise RemuxError(f"{target.name} already exists; not overwriting it") from None
    except OSError:
        if target.exists():
            raise RemuxError(f"{target.name} already exists; not overwriting it") from None
        os.replace(tmp, target)
    else:
        tmp.unlink()


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


__all__ = ["RemuxError", "RemuxResult", "faststart_name", "remux_faststart"]
