"""Descriptors kept open between streams: reused only for the very file, unchanged.

A reused descriptor saves a seek the ``openat2`` + ``fstat`` + ``close`` (RESULTS.md); it must
never serve a file that is no longer the one at that path, nor one the server may no longer
read, nor pile up descriptors.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mediaserve.adapters.server.site.open_files import NotAFile, OpenFiles
from mediaserve.adapters.server.site.safe_open import OutsideRoot, RootOpener


@pytest.fixture
def root(tmp_path: Path) -> Path:
    folder = tmp_path / "lib"
    folder.mkdir()
    for n in range(5):
        (folder / f"{n}.mp4").write_bytes(bytes([n]) * 1000)
    return folder


def _open_fds_on(path: Path) -> int:
    target = os.path.realpath(path)
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            count += os.readlink(f"/proc/self/fd/{fd}") == target
        except OSError:
            continue
    return count


def test_the_same_unchanged_file_reuses_its_descriptor(root: Path) -> None:
    files = OpenFiles(RootOpener(root))
    fd, info = files.lease("0.mp4")
    files.release(fd)
    again, info2 = files.lease("0.mp4")
    files.release(again)
    assert again == fd and files.reused == 1 and info2.st_ino == info.st_ino
    assert _open_fds_on(root / "0.mp4") == 1  # kept open, once


def test_a_replaced_file_is_opened_again(root: Path) -> None:
    files = OpenFiles(RootOpener(root))
    fd, _ = files.lease("0.mp4")
    files.release(fd)
    (root / "new").write_bytes(b"x" * 1000)
    os.replace(root / "new", root / "0.mp4")  # same size; a new inode
    fd2, _info = files.lease("0.mp4")
    assert os.pread(fd2, 1, 0) == b"x" and files.reused == 0
    files.release(fd2)
    assert _open_fds_on(root / "0.mp4") == 1  # the old descriptor was closed


def test_a_file_changed_in_place_or_chmodded_is_opened_again(root: Path) -> None:
    files = OpenFiles(RootOpener(root))
    fd, _ = files.lease("1.mp4")
    files.release(fd)
    os.chmod(root / "1.mp4", 0o600)  # ctime moves: the rights are checked again by open
    fd2, _ = files.lease("1.mp4")
    files.release(fd2)
    with open(root / "1.mp4", "r+b") as handle:  # written in place
        handle.write(b"z")
    fd3, info = files.lease("1.mp4")
    files.release(fd3)
    assert files.reused == 0 and os.pread(fd3, 1, 0) == b"z" and info.st_size == 1000


def test_a_deleted_file_is_not_served_from_its_old_descriptor(root: Path) -> None:
    files = OpenFiles(RootOpener(root))
    fd, _ = files.lease("2.mp4")
    files.release(fd)
    (root / "2.mp4").unlink()
    with pytest.raises(FileNotFoundError):
        files.lease("2.mp4")


def test_a_fifo_or_an_escape_is_refused_as_before(root: Path, tmp_path: Path) -> None:
    files = OpenFiles(RootOpener(root))
    fd, _ = files.lease("3.mp4")
    files.release(fd)
    (root / "3.mp4").unlink()
    os.mkfifo(root / "3.mp4")
    with pytest.raises(NotAFile):
        files.lease("3.mp4")
    outside = tmp_path / "outside.mp4"
    outside.write_bytes(b"secret")
    (root / "4.mp4").unlink()
    (root / "4.mp4").symlink_to(outside)
    with pytest.raises(OutsideRoot):
        files.lease("4.mp4")


def test_at_most_capacity_descriptors_stay_open_and_none_in_use_is_closed(root: Path) -> None:
    files = OpenFiles(RootOpener(root), capacity=2)
    held, _ = files.lease("0.mp4")  # a stream still reads it
    for n in (1, 2, 3):
        fd, _ = files.lease(f"{n}.mp4")
        files.release(fd)
    assert len(files.idle()) == 2  # 0.mp4 was evicted from the table, but is in use
    assert os.pread(held, 1, 0) == b"\x00"  # still open for the stream using it
    files.release(held)
    assert _open_fds_on(root / "0.mp4") == 0  # closed once its stream ended
    files.close_all()
    assert sum(_open_fds_on(root / f"{n}.mp4") for n in range(4)) == 0


def test_a_folder_swapped_for_a_symlink_to_the_same_file_is_seen_after_the_reuse_window(
        root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The file's own inode and ctime do not move when a folder above it is swapped for a
    symlink to it: only reopening beneath the root sees that, and it happens once the
    descriptor is older than the reuse window."""
    from mediaserve.adapters.server.site import open_files

    (root / "shows").mkdir()
    (root / "shows" / "a.mp4").write_bytes(b"a" * 100)
    files = OpenFiles(RootOpener(root))
    fd, _ = files.lease("shows/a.mp4")
    files.release(fd)
    os.rename(root / "shows", tmp_path / "elsewhere")
    os.symlink(tmp_path / "elsewhere", root / "shows")  # same inode, now through a symlink out
    again, _ = files.lease("shows/a.mp4")  # within the window: the same, unchanged file
    files.release(again)
    assert again == fd
    monkeypatch.setattr(open_files, "REUSE_S", 0.0)
    with pytest.raises(OutsideRoot):
        files.lease("shows/a.mp4")
    assert _open_fds_on(tmp_path / "elsewhere" / "a.mp4") == 0  # the old descriptor closed


async def test_descriptors_no_stream_used_for_a_while_are_closed(
        root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio

    from mediaserve.adapters.server.site import open_files

    monkeypatch.setattr(open_files, "IDLE_S", 0.2)
    files = OpenFiles(RootOpener(root))
    busy, _ = files.lease("0.mp4")
    idle, _ = files.lease("1.mp4")
    files.release(idle)
    await asyncio.sleep(0.5)
    assert _open_fds_on(root / "1.mp4") == 0  # unused: closed by the sweep
    assert _open_fds_on(root / "0.mp4") == 1  # a stream still reads it
    files.release(busy)
    await asyncio.sleep(0.5)
    assert _open_fds_on(root / "0.mp4") == 0 and files.idle() == []
    files.close_all()
