"""A broken library, generated with PyAV at test time, and what the audit must say about it.

``audit_sources`` encodes the clips once per session (~0.5 s) and derives the broken files
from them; ``audit_lib`` copies them into a private folder, scans it (so the index holds the
facts recorded at scan time), then breaks it the ways a library rots after a scan: a file
deleted, a file touched. Each file carries the finding codes the audit must report for it,
with and without ``--deep``: the tests compare the whole mapping, so a rule that fires where
it should not fails as surely as one that does not fire.

Every clip has its own length so no two are byte-identical by accident (x264 is
deterministic): only the files meant to be duplicates are.
"""

from __future__ import annotations

import hashlib
import os
import random
import shutil
from dataclasses import dataclass
from pathlib import Path

import av
import pytest

from mediaserve.adapters.library.scanner import scan
from mediaserve.adapters.library.store import INDEX_NAME, save_index
from mediaserve.adapters.media.clips import ClipSpec, encode_clip
from mediaserve.core.library.index import LibraryIndex


@dataclass(frozen=True, slots=True)
class Expect:
    shallow: tuple[str, ...]  # codes without --deep
    deep: tuple[str, ...] | None = None  # codes with --deep, when they differ


#: file name -> (what it is, expected codes). Filled in by ``_build`` as files are made.
EXPECTED: dict[str, Expect] = {
    "good.mp4": Expect(()),
    "good.webm": Expect(()),
    "sub/nested good.mp4": Expect(()),
    "moov-at-end.mp4": Expect(("not-faststart",)),
    "three-frames.mp4": Expect(("too-few-frames",)),
    "audio-only.mp4": Expect(("no-video",)),
    "hevc.mp4": Expect(("unplayable",)),
    "h264.mkv": Expect(("chromium-only",)),
    "mpeg4.avi": Expect(("unplayable",)),
    "truncated-faststart.mp4": Expect(("truncated",)),
    "truncated-moov-at-end.mp4": Expect(("truncated",)),
    "truncated.webm": Expect(("truncated",)),
    "truncated.mkv": Expect(("truncated",)),
    # a preallocated download that stopped: full size, zeros at the end; only --deep sees it
    "zeroed-tail.webm": Expect((), deep=("truncated",)),
    "empty.mp4": Expect(("empty",)),
    "random-bytes.mp4": Expect(("not-media",)),
    "missing.mp4": Expect(("missing",)),
    "stale.mp4": Expect(("stale",)),
    "dup-a.mp4": Expect(("duplicate",)),
    "dup-b.mp4": Expect(("duplicate",)),
    # same size as the dups, one byte different: hashed, and not a duplicate
    "near-dup.mp4": Expect(()),
}

ERROR_CODES = frozenset({"missing", "not-regular", "empty", "unreadable", "not-media",
                         "truncated", "corrupt", "no-video", "too-few-frames"})

CLIPS: dict[str, ClipSpec] = {
    "good.mp4": ClipSpec("good.mp4", seconds=3.0),
    "good.webm": ClipSpec("good.webm", video_codec="libvpx-vp9", audio_codec="libopus",
                          seconds=2.0),
    "sub/nested good.mp4": ClipSpec("sub/nested good.mp4", seconds=2.2),
    "moov-at-end.mp4": ClipSpec("moov-at-end.mp4", seconds=2.0, faststart=False),
    "three-frames.mp4": ClipSpec("three-frames.mp4", frames=3),
    "audio-only.mp4": ClipSpec("audio-only.mp4", video_codec=None, seconds=1.0),
    "hevc.mp4": ClipSpec("hevc.mp4", video_codec="libx265", seconds=2.0),
    "h264.mkv": ClipSpec("h264.mkv", seconds=2.4),
    "mpeg4.avi": ClipSpec("mpeg4.avi", video_codec="mpeg4", audio_codec="libmp3lame",
                          seconds=2.0),
    "stale.mp4": ClipSpec("stale.mp4", seconds=3.2),
    "dup-a.mp4": ClipSpec("dup-a.mp4", seconds=2.6),
    # sources of derived files (not in the library themselves)
    "_src-faststart.mp4": ClipSpec("_src-faststart.mp4", seconds=4.0),
    "_src-moov-at-end.mp4": ClipSpec("_src-moov-at-end.mp4", seconds=4.0, faststart=False),
    "_src.webm": ClipSpec("_src.webm", video_codec="libvpx-vp9", audio_codec="libopus",
                          seconds=4.0),
    "_src-zero.webm": ClipSpec("_src-zero.webm", video_codec="libvpx-vp9",
                               audio_codec="libopus", seconds=4.4),
    "_src.mkv": ClipSpec("_src.mkv", seconds=4.0),
}


@dataclass(slots=True)
class Sources:
    folder: Path
    names: list[str]  # library files that exist in ``folder``
    skipped: dict[str, str]  # library file -> why it could not be made


def _cut(src: Path, dst: Path, fraction: float) -> None:
    data = src.read_bytes()
    dst.write_bytes(data[: int(len(data) * fraction)])


def _zero_tail(src: Path, dst: Path, fraction: float) -> None:
    data = bytearray(src.read_bytes())
    start = int(len(data) * fraction)
    data[start:] = bytes(len(data) - start)
    dst.write_bytes(bytes(data))


def _build(folder: Path) -> Sources:
    skipped: dict[str, str] = {}
    for name, spec in CLIPS.items():
        missing = [c for c in (spec.video_codec, spec.audio_codec)
                   if c and c not in av.codecs_available]
        if missing:
            skipped[name] = f"encoder {', '.join(missing)} not in this PyAV build"
            continue
        encode_clip(folder, spec)
    derived = {
        "truncated-faststart.mp4": ("_src-faststart.mp4", _cut, 0.5),
        "truncated-moov-at-end.mp4": ("_src-moov-at-end.mp4", _cut, 0.5),
        "truncated.webm": ("_src.webm", _cut, 0.5),
        "truncated.mkv": ("_src.mkv", _cut, 0.5),
        "zeroed-tail.webm": ("_src-zero.webm", _zero_tail, 0.5),
    }
    for name, (src, make, fraction) in derived.items():
        if src in skipped:
            skipped[name] = skipped[src]
        else:
            make(folder / src, folder / name, fraction)
    (folder / "empty.mp4").write_bytes(b"")
    (folder / "random-bytes.mp4").write_bytes(random.Random(7).randbytes(48 * 1024))
    shutil.copy2(folder / "good.mp4", folder / "missing.mp4")  # deleted after the scan
    shutil.copyfile(folder / "dup-a.mp4", folder / "dup-b.mp4")
    near = bytearray((folder / "dup-a.mp4").read_bytes())
    near[-200] ^= 0xFF  # inside the last packet's payload: still demuxes the same
    (folder / "near-dup.mp4").write_bytes(bytes(near))
    names = [n for n in EXPECTED if n not in skipped]
    return Sources(folder, names, skipped)


@pytest.fixture(scope="session")
def audit_sources(tmp_path_factory: pytest.TempPathFactory) -> Sources:
    """The generated files, shared by the session: read only."""
    return _build(tmp_path_factory.mktemp("audit-sources"))


@dataclass(slots=True)
class AuditLib:
    root: Path
    index_path: Path
    index: LibraryIndex
    names: list[str]  # files in the index
    skipped: dict[str, str]

    def expected(self, deep: bool = False) -> dict[str, tuple[str, ...]]:
        out = {}
        for name in self.names:
            expect = EXPECTED[name]
            out[name] = expect.deep if deep and expect.deep is not None else expect.shallow
        return out

    def media_state(self) -> dict[str, tuple[str, int]]:
        """(sha256, mtime_ns) of every file under the root except the index and backup."""
        state = {}
        for path in sorted(self.root.rglob("*")):
            if path.is_file() and not path.name.startswith(INDEX_NAME):
                data = path.read_bytes()
                state[path.relative_to(self.root).as_posix()] = (
                    hashlib.sha256(data).hexdigest(), path.stat().st_mtime_ns)
        return state


def make_library(sources: Sources, folder: Path, names: list[str] | None = None) -> AuditLib:
    """Copy ``names`` (default: all) into ``folder``, scan, then break it as a library rots."""
    names = [n for n in (names if names is not None else sources.names)
             if n not in sources.skipped]
    for name in names:
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(sources.folder / name, target)
    index, _ = scan(folder, None, workers=1)
    index_path = folder / INDEX_NAME
    save_index(index_path, index)
    if "missing.mp4" in names:
        (folder / "missing.mp4").unlink()
    if "stale.mp4" in names:
        st = (folder / "stale.mp4").stat()
        os.utime(folder / "stale.mp4", ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))
    return AuditLib(folder.resolve(), index_path, index, names, sources.skipped)


@pytest.fixture
def audit_lib(audit_sources: Sources, tmp_path: Path) -> AuditLib:
    """A scanned private library holding every case in EXPECTED (minus skipped encoders)."""
    return make_library(audit_sources, tmp_path / "lib")
