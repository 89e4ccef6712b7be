"""``--remux-faststart``: a stream copy with moov first, verified before anything is renamed;
a failure leaves the original exactly as it was."""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import av
import pytest

from mediaserve.adapters.audit.remux import RemuxError, faststart_name, remux_faststart
from mediaserve.adapters.library.store import load_index
from mediaserve.adapters.media.clips import ClipSpec, encode_clip
from mediaserve.adapters.media.containers import mp4_boxes
from mediaserve.cli import main
from tests.audit.conftest import Sources, make_library


def packets(path: Path) -> list[tuple[int, int | None, int | None, int | None, bytes]]:
    with av.open(str(path)) as container:
        return [(p.stream.index, p.pts, p.dts, p.duration, bytes(p))
                for p in container.demux() if p.size]


def faststart(path: Path) -> bool:
    with open(path, "rb") as handle:
        layout = mp4_boxes(handle, path.stat().st_size)
    return layout.faststart and not layout.overrun


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def siblings(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()}


@pytest.fixture
def slow_mp4(audit_sources: Sources, tmp_path: Path) -> Path:
    target = tmp_path / "moov-at-end.mp4"
    target.write_bytes((audit_sources.folder / "moov-at-end.mp4").read_bytes())
    assert not faststart(target)
    return target


def test_remux_beside_the_original(slow_mp4: Path):
    before = digest(slow_mp4)
    result = remux_faststart(slow_mp4)
    assert result.output == faststart_name(slow_mp4) == slow_mp4.with_name(
        "moov-at-end.faststart.mp4")
    assert faststart(result.output)
    assert packets(result.output) == packets(slow_mp4)
    assert digest(slow_mp4) == before
    assert siblings(slow_mp4.parent) == {"moov-at-end.mp4", "moov-at-end.faststart.mp4"}


def test_remux_in_place(slow_mp4: Path):
    original_packets = packets(slow_mp4)
    slow_mp4.chmod(0o640)
    remux_faststart(slow_mp4, in_place=True)
    assert faststart(slow_mp4)
    assert packets(slow_mp4) == original_packets
    assert slow_mp4.stat().st_mode & 0o777 == 0o640
    assert siblings(slow_mp4.parent) == {"moov-at-end.mp4"}


def test_never_overwrites_an_existing_copy(slow_mp4: Path):
    existing = faststart_name(slow_mp4)
    existing.write_bytes(b"somebody's file")
    with pytest.raises(RemuxError, match="already exists"):
        remux_faststart(slow_mp4)
    assert existing.read_bytes() == b"somebody's file"


def test_failed_remux_leaves_the_original_untouched(tmp_path: Path):
    """A QuickTime file named .mp4 with A-law audio: it opens and demuxes, but the MP4
    muxer refuses the codec part-way (after the temp file exists)."""
    if "pcm_alaw" not in av.codecs_available:
        pytest.skip("pcm_alaw encoder not in this PyAV build")
    source = encode_clip(tmp_path, ClipSpec("camera.mp4", audio_codec="pcm_alaw",
                                            container_format="mov", faststart=False))
    before = digest(source)
    for in_place in (False, True):
        with pytest.raises(RemuxError, match="pcm_alaw"):
            remux_faststart(source, in_place=in_place)
        assert digest(source) == before
        assert siblings(tmp_path) == {"camera.mp4"}  # no temp file, no half-written copy


def test_unreadable_source_fails_cleanly(tmp_path: Path):
    source = tmp_path / "junk.mp4"
    source.write_bytes(b"\0\0\0\x08mdat" + bytes(5000))
    with pytest.raises(RemuxError):
        remux_faststart(source, in_place=True)
    assert source.read_bytes() == b"\0\0\0\x08mdat" + bytes(5000)
    assert siblings(tmp_path) == {"junk.mp4"}


def test_cli_remux_in_place_updates_the_index(audit_sources: Sources, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str],
                                              monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("COLUMNS", "250")
    lib = make_library(audit_sources, tmp_path / "lib",
                       ["good.mp4", "moov-at-end.mp4", "three-frames.mp4"])
    original_packets = packets(lib.root / "moov-at-end.mp4")
    good_before = digest(lib.root / "good.mp4")
    with pytest.raises(SystemExit) as exc:
        main(["audit", str(lib.root), "--remux-faststart", "--in-place"])
    out = capsys.readouterr().out
    assert exc.value.code == 1  # three-frames.mp4 is an error (and was pruned)
    assert "Remuxed to faststart: moov-at-end.mp4 in place" in out
    target = lib.root / "moov-at-end.mp4"
    assert faststart(target) and packets(target) == original_packets
    assert digest(lib.root / "good.mp4") == good_before
    index = load_index(lib.index_path)
    entry = next(e for e in index.videos.values() if e.path == "moov-at-end.mp4")
    assert entry.facts.faststart is True
    assert (entry.size, entry.mtime_ns) == (target.stat().st_size, target.stat().st_mtime_ns)
    assert {e.path for e in index.videos.values()} == {"good.mp4", "moov-at-end.mp4"}
    assert (lib.root / "three-frames.mp4").exists()  # pruned from the index, not deleted
    with pytest.raises(SystemExit) as exc:
        main(["audit", str(lib.root), "--fail-on", "warning"])
    assert exc.value.code == 0  # nothing left to warn about


def test_cli_remux_failure_exits_1_and_keeps_the_index_entry(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch):
    if "pcm_alaw" not in av.codecs_available:
        pytest.skip("pcm_alaw encoder not in this PyAV build")
    monkeypatch.setenv("COLUMNS", "250")
    root = tmp_path / "lib"
    source = encode_clip(root, ClipSpec("camera.mp4", audio_codec="pcm_alaw",
                                        container_format="mov", faststart=False))
    with pytest.raises(SystemExit):
        main(["scan", str(root)])
    capsys.readouterr()
    before = digest(source)
    with pytest.raises(SystemExit) as exc:
        main(["audit", str(root), "--remux-faststart", "--in-place", "--fail-on", "never"])
    out = capsys.readouterr().out
    assert exc.value.code == 1
    assert "Remux failed" in out and "the original is untouched" in out
    assert digest(source) == before
    entry = next(iter(load_index(root / ".mediaserve-index.toml").videos.values()))
    assert entry.path == "camera.mp4" and entry.facts.faststart is False


@contextlib.contextmanager
def read_only_folder(folder: Path) -> Iterator[None]:
    """No new names in ``folder``: chmod for a user, the immutable flag for root."""
    if os.geteuid() != 0:
        folder.chmod(0o555)
        try:
            yield
        finally:
            folder.chmod(0o755)
        return
    if shutil.which("chattr") is None or subprocess.run(
            ["chattr", "+i", str(folder)], capture_output=True).returncode != 0:
        pytest.skip("cannot make a folder read-only for root here (no chattr +i)")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(folder)], check=True)


def test_cli_remux_in_a_read_only_folder_fails_that_file_only(
        audit_sources: Sources, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch):
    """The copy cannot be created beside the original: that remux fails like any other
    (reported, exit 1) and the rest of the fix (pruning an error) is still written."""
    monkeypatch.setenv("COLUMNS", "250")
    lib = make_library(audit_sources, tmp_path / "lib", ["moov-at-end.mp4", "three-frames.mp4"])
    index_path = tmp_path / "index.toml"
    lib.index_path.rename(index_path)
    before = lib.media_state()
    with read_only_folder(lib.root), pytest.raises(SystemExit) as exc:
        main(["audit", str(lib.root), "--index", str(index_path), "--remux-faststart"])
    captured = capsys.readouterr()
    assert exc.value.code == 1
    assert "Remux failed" in captured.out and "moov-at-end.mp4" in captured.out, captured
    assert "Traceback" not in captured.err
    assert lib.media_state() == before
    assert {e.path for e in load_index(index_path).videos.values()} == {"moov-at-end.mp4"}
