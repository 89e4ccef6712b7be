"""Shared fixtures: a media corpus generated with PyAV at test time, and a free TCP port.

No media is committed: the ``corpus`` fixture encodes a handful of tiny clips (160x120, 2 s)
once per test session (well under a second) and derives the broken files from them. Every
file comes with a ``CorpusFile`` that says what it is and what probing it must report, so
tests in every area (scan, probe, audit, server) compare against what was generated rather
than against numbers copied from a previous run.

Usage::

    def test_something(corpus):
        clip = corpus.require("h264_aac_faststart.mp4")   # skips if its encoder is missing
        path = corpus.path(clip.name)
        assert probe(path).facts.width == clip.expected["width"]

The corpus folder is shared by the whole session: never write into it. Use ``library``
(a private copy of the indexable files) or ``corpus.copy_to(folder)`` to get files you may
rename, touch, delete or index.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import av
import hypothesis
import pytest

from benchmarks import peers
from mediaserve.adapters.media.clips import ClipSpec, encode_clip
from mediaserve.core.library.facts import AudioTrack
from mediaserve.core.library.formats import is_video_name

# Hypothesis's per-example deadline (200 ms) is a timing assert in disguise: on a loaded
# 2-core machine it fails examples that are merely slow. Complexity is checked by counting
# calls (tests/complexity.py), so the deadline is off for every property test, and so is the
# health check that fails a test whose example *generation* is slow (the same disguise).
hypothesis.settings.register_profile("mediaserve", deadline=None,
                                     suppress_health_check=[hypothesis.HealthCheck.too_slow])
hypothesis.settings.load_profile("mediaserve")

#: encoder name -> the codec name the prober records (``codec.canonical_name``)
CANONICAL = {"libx264": "h264", "libx265": "hevc", "libvpx-vp9": "vp9", "libvpx": "vp8",
             "libsvtav1": "av1", "aac": "aac", "libopus": "opus", "libmp3lame": "mp3",
             "mpeg4": "mpeg4", "flac": "flac"}

#: encoder name -> the profile FFmpeg reports for what ``encode_clip`` makes with it
PROFILES = {"libx264": "Constrained Baseline", "libx265": "Main", "libvpx-vp9": "Profile 0",
            "libvpx": None, "libsvtav1": "Main", "mpeg4": "Simple Profile"}

RANDOM_SEED = 20240601


@dataclass(frozen=True, slots=True)
class CorpusFile:
    """One file of the corpus and what probing it must say.

    ``expected`` has an entry for every ``MediaFacts`` field. ``duration`` and ``bit_rate``
    are approximate (compare with ``pytest.approx(..., rel=DURATION_TOLERANCE)`` etc.); the
    others are exact. ``probe_error`` is None when the probe must succeed, else a substring
    of the error it must report.
    """

    name: str  # relative path inside the corpus folder
    what: str  # one line for humans and test ids
    spec: ClipSpec | None  # the clip as encoded (for derived files: the clip it came from)
    indexed: bool  # has a video extension, so the scanner lists it
    expected: dict[str, Any] = field(default_factory=dict)
    probe_error: str | None = None
    needs: tuple[str, ...] = ()  # encoders it needs

    @property
    def playable(self) -> bool:
        return self.probe_error is None


#: relative tolerance for durations (AAC/Opus priming adds a few ms) and bit rates
DURATION_TOLERANCE = 0.05
BIT_RATE_TOLERANCE = 0.05


def _clip_expectation(spec: ClipSpec, container: str) -> dict[str, Any]:
    return {
        "container": container,
        "duration": spec.frame_count / spec.fps,
        "video_codec": CANONICAL[spec.video_codec] if spec.video_codec else None,
        "width": spec.width if spec.video_codec else None,
        "height": spec.height if spec.video_codec else None,
        "frame_rate": float(spec.fps) if spec.video_codec else None,
        "frames": spec.frame_count if spec.video_codec else None,
        "audio_codec": CANONICAL[spec.audio_codec] if spec.audio_codec else None,
        "bit_rate": None,  # filled in from the file size once it exists
        "faststart": spec.faststart if container in ("mp4", "mov") else None,
        "truncated": False,
        "video_profile": PROFILES[spec.video_codec] if spec.video_codec else None,
        "pixel_format": "yuv420p" if spec.video_codec else None,
        "bit_depth": 8 if spec.video_codec else None,
        "rotation": (0 if spec.video_codec and container in ("mp4", "mov", "matroska", "webm")
                     else None),
        "audio_tracks": (AudioTrack(CANONICAL[spec.audio_codec], 2, None),)
        if spec.audio_codec else (),
    }


NO_FACTS: dict[str, Any] = {**dict.fromkeys(
    ("container", "duration", "video_codec", "width", "height", "frame_rate", "frames",
     "audio_codec", "bit_rate", "faststart", "truncated", "video_profile", "pixel_format",
     "bit_depth", "rotation")), "audio_tracks": ()}

#: the clips, by file name, with the container name the prober must record
CLIPS: dict[str, tuple[ClipSpec, str, str]] = {
    "h264_aac_faststart.mp4": (
        ClipSpec("h264_aac_faststart.mp4"), "mp4", "H.264/AAC MP4, moov before mdat"),
    "h264_aac_moov_at_end.mp4": (
        ClipSpec("h264_aac_moov_at_end.mp4", faststart=False), "mp4",
        "H.264/AAC MP4, moov after mdat"),
    "vp9_opus.webm": (
        ClipSpec("vp9_opus.webm", video_codec="libvpx-vp9", audio_codec="libopus"), "webm",
        "VP9/Opus WebM"),
    "h264_aac.mkv": (ClipSpec("h264_aac.mkv"), "matroska", "H.264/AAC Matroska"),
    "three_frames.mp4": (
        ClipSpec("three_frames.mp4", audio_codec=None, frames=3), "mp4",
        "3-frame H.264 MP4 without audio"),
}

#: the files derived from clips or written by hand
EMPTY = "empty.mp4"
RANDOM = "random_bytes.mp4"
TRUNCATED = "truncated.mp4"  # h264_aac_faststart.mp4 cut in half
NOT_VIDEO = "notes.txt"

ALL_NAMES = (*CLIPS, EMPTY, RANDOM, TRUNCATED, NOT_VIDEO)
#: the names the scanner indexes (video extension)
INDEXED_NAMES = tuple(name for name in ALL_NAMES if is_video_name(name))


def _missing_encoders(spec: ClipSpec) -> list[str]:
    return [c for c in (spec.video_codec, spec.audio_codec) if c and c not in av.codecs_available]


@dataclass(slots=True)
class Corpus:
    """The generated folder and what each file in it is."""

    root: Path
    files: dict[str, CorpusFile]
    skipped: dict[str, str]  # name -> why it was not generated

    def path(self, name: str) -> Path:
        return self.root / name

    def require(self, name: str) -> CorpusFile:
        """The file, or skip the calling test when its encoder is missing in this PyAV."""
        if name in self.skipped:
            pytest.skip(self.skipped[name])
        return self.files[name]

    def indexed(self) -> list[CorpusFile]:
        """The files the scanner lists (video extension), generated ones only."""
        return [f for f in self.files.values() if f.indexed]

    def copy_to(self, folder: Path, names: list[str] | None = None) -> Path:
        """Copy (with mtimes) some or all files into ``folder`` so a test may change them."""
        folder.mkdir(parents=True, exist_ok=True)
        for name in names if names is not None else list(self.files):
            target = folder / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(self.path(name), target)
        return folder


def build_corpus(root: Path) -> Corpus:
    """Generate the corpus into ``root`` (also usable outside pytest, e.g. by benchmarks)."""
    root.mkdir(parents=True, exist_ok=True)
    files: dict[str, CorpusFile] = {}
    skipped: dict[str, str] = {}
    for name, (spec, container, what) in CLIPS.items():
        missing = _missing_encoders(spec)
        if missing:
            skipped[name] = f"{name}: encoder {', '.join(missing)} not in this PyAV build"
            continue
        path = encode_clip(root, spec)
        expected = _clip_expectation(spec, container)
        expected["bit_rate"] = round(path.stat().st_size * 8 / expected["duration"])
        needs = tuple(c for c in (spec.video_codec, spec.audio_codec) if c)
        files[name] = CorpusFile(name, what, spec, True, expected, None, needs)

    (root / EMPTY).write_bytes(b"")
    files[EMPTY] = CorpusFile(EMPTY, "zero-byte .mp4", None, True, dict(NO_FACTS), "empty file")

    (root / RANDOM).write_bytes(random.Random(RANDOM_SEED).randbytes(64 * 1024))
    files[RANDOM] = CorpusFile(RANDOM, "random bytes named .mp4", None, True, dict(NO_FACTS),
                               "cannot open container")

    source = "h264_aac_faststart.mp4"
    if source in files:
        data = (root / source).read_bytes()
        (root / TRUNCATED).write_bytes(data[: len(data) // 2])
        expected = dict(files[source].expected)
        # the index (moov) sits in the first half: everything but the size still reads;
        # FFmpeg derives the bit rate from the (halved) size and the declared duration
        expected["bit_rate"] = round(len(data) // 2 * 8 / expected["duration"])
        expected["truncated"] = True
        # the first frames lie in the missing half: FFmpeg cannot tell the pixel format
        expected.update(pixel_format=None, bit_depth=None)
        files[TRUNCATED] = CorpusFile(TRUNCATED, "faststart MP4 cut in half",
                                      files[source].spec, True, expected, None,
                                      files[source].needs)
    else:
        skipped[TRUNCATED] = f"{TRUNCATED}: needs {source}, which was skipped"

    (root / NOT_VIDEO).write_text("not a video: the scanner must not list this file\n")
    files[NOT_VIDEO] = CorpusFile(NOT_VIDEO, "a text file", None, False, dict(NO_FACTS),
                                  "cannot open container")
    assert set(files) | set(skipped) == set(ALL_NAMES)
    for name in files:
        assert is_video_name(name) == files[name].indexed
    return Corpus(root, files, skipped)


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    """The generated corpus, shared by the session: read only."""
    return build_corpus(tmp_path_factory.mktemp("corpus"))


@pytest.fixture
def library(corpus: Corpus, tmp_path: Path) -> Path:
    """A private copy of the corpus's indexable files: a library a test may change."""
    return corpus.copy_to(tmp_path / "library", [f.name for f in corpus.indexed()])


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point MEDIASERVE_DATA_DIR at a temp folder so nothing is written under $HOME."""
    folder = tmp_path / "data"
    monkeypatch.setenv("MEDIASERVE_DATA_DIR", str(folder))
    return folder


@pytest.fixture
def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (bind it soon)."""
    return peers.free_port()


def without_dac_override(cmd: list[str]) -> list[str] | None:
    """``cmd`` run so that file permissions apply even to root, or None when impossible.

    As root, chmod 000 stops nothing: CAP_DAC_OVERRIDE reads through it. ``setpriv`` drops
    that capability (and CAP_DAC_READ_SEARCH) from the bounding set of the child, so tests of
    unreadable files and folders run for real instead of being skipped.
    """
    if os.geteuid() != 0:
        return cmd
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        return None
    return [setpriv, "--bounding-set", "-dac_override,-dac_read_search", *cmd]


def unprivileged_python(code: str, *args: str | Path) -> Any:
    """Run ``python -c code ARGS`` where file permissions apply (see
    :func:`without_dac_override`) and return the JSON it printed on stdout.

    For tests whose check must meet a real permission denial: the part under test runs in
    the child, the test asserts on what it printed. Skips as root without ``setpriv``.
    """
    cmd = without_dac_override([sys.executable, "-c", code, *map(str, args)])
    if cmd is None:
        pytest.skip("root without setpriv: permissions cannot be enforced")
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)
