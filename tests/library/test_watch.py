"""``scan --watch`` and ``serve --watch`` on a real folder, with real inotify: a file copied
in slowly is probed only once complete, a rename keeps the id, a delete marks it missing,
and a file dropped in shows up in the server's listing."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from benchmarks.peers import free_port, stop_process, wait_for_port
from mediaserve.adapters.library.store import load_index_if_exists
from mediaserve.core.library.status import EntryStatus
from tests.conftest import without_dac_override
from tests.library.conftest import mediaserve, poll

SETTLE = 2.0


def _by_path(index_path: Path) -> dict:
    index = load_index_if_exists(index_path)
    return {e.path: e for e in index.videos.values()} if index else {}


@pytest.fixture
def watched(tmp_path: Path, clips: dict[str, bytes]):
    root = tmp_path / "lib"
    root.mkdir()
    (root / "a.mp4").write_bytes(clips["a.mp4"])
    with tempfile.TemporaryFile() as errors:
        proc = subprocess.Popen([sys.executable, "-m", "mediaserve", "scan", "--watch",
                                 str(root), "--settle", str(SETTLE)], stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=errors)

        def stderr() -> str:
            errors.seek(0)
            return errors.read().decode(errors="replace")

        try:
            poll(lambda: "watching" in stderr() or proc.poll() is not None)
            assert proc.poll() is None, stderr()
            yield root, root / ".mediaserve-index.toml", stderr, proc
        finally:
            stop_process(proc, 10)


def test_slow_copy_is_probed_once_complete_rename_keeps_id_delete_marks_missing(
        watched, clips: dict[str, bytes]) -> None:
    root, index_path, stderr, proc = watched
    data = clips["big.mp4"]
    pieces = [data[i:i + len(data) // 12] for i in range(0, len(data), len(data) // 12)]
    with open(root / "slow.mp4", "wb") as out:  # a copy that takes a few seconds
        for piece in pieces[:-1]:
            out.write(piece)
            out.flush()
            time.sleep(0.25)
            assert "slow.mp4" not in _by_path(index_path), "probed while still being copied"
        time.sleep(0.25)
        assert "slow.mp4" not in _by_path(index_path)
        out.write(pieces[-1])
    entry = poll(lambda: _by_path(index_path).get("slow.mp4"))
    assert entry.size == len(data) and entry.status == EntryStatus.OK
    assert entry.facts.duration and entry.facts.duration > 3.5  # the whole clip, not a part
    # the line is printed once the index is saved: a moment after the new index is readable
    poll(lambda: "added slow.mp4" in stderr())
    assert stderr().count("added slow.mp4") == 1

    os.makedirs(root / "sub")
    os.rename(root / "slow.mp4", root / "sub" / "renamed.mp4")
    moved = poll(lambda: _by_path(index_path).get("sub/renamed.mp4"))
    assert moved.id == entry.id and moved.status == EntryStatus.OK
    assert "slow.mp4" not in _by_path(index_path)
    # the line is printed once the index is saved: a moment after the new index is readable
    poll(lambda: "moved slow.mp4 → sub/renamed.mp4" in stderr())

    os.unlink(root / "a.mp4")
    gone = poll(lambda: (_by_path(index_path).get("a.mp4") or None)
                if _by_path(index_path)["a.mp4"].status == EntryStatus.MISSING else None)
    assert gone.status == EntryStatus.MISSING

    os.rename(root / "sub", root.parent / "moved-out")  # a whole folder leaves the library
    poll(lambda: _by_path(index_path)["sub/renamed.mp4"].status == EntryStatus.MISSING)
    assert _by_path(index_path)["sub/renamed.mp4"].id == entry.id
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(15) == 0
    assert "Traceback" not in stderr()


def test_copy_then_delete_keeps_the_id_by_content_hash(watched, clips) -> None:
    """``cp`` + ``rm`` (a move across file systems) changes the mtime: the content hash of
    the first and last MiB recognises the file."""
    root, index_path, _stderr, _proc = watched
    first = poll(lambda: _by_path(index_path).get("a.mp4"))
    (root / "elsewhere.mp4").write_bytes((root / "a.mp4").read_bytes())
    os.unlink(root / "a.mp4")
    moved = poll(lambda: _by_path(index_path).get("elsewhere.mp4"))
    assert moved.id == first.id
    assert "a.mp4" not in _by_path(index_path)


def test_ignored_file_stays_out_of_the_watcher_until_touched(
        tmp_path: Path, clips: dict[str, bytes]) -> None:
    root = tmp_path / "lib"
    root.mkdir()
    (root / "a.mp4").write_bytes(clips["a.mp4"])
    (root / "short.mp4").write_bytes(clips["short.mp4"])
    assert mediaserve("scan", str(root)).returncode == 0
    assert mediaserve("audit", str(root)).returncode == 1  # prunes short.mp4: ignored
    index_path = root / ".mediaserve-index.toml"
    assert "short.mp4" not in _by_path(index_path)
    with tempfile.TemporaryFile() as errors:
        proc = subprocess.Popen([sys.executable, "-m", "mediaserve", "scan", "--watch",
                                 str(root), "--settle", "0.5"], stdout=subprocess.DEVNULL,
                                stderr=errors)
        try:
            poll(lambda: errors.seek(0) == 0 and b"watching" in errors.read())
            (root / "b.mp4").write_bytes(clips["b.mp4"])  # an event after the watch starts
            poll(lambda: "b.mp4" in _by_path(index_path))
            assert "short.mp4" not in _by_path(index_path)
            os.utime(root / "short.mp4")  # touched: no longer the file the audit pruned
            poll(lambda: "short.mp4" in _by_path(index_path))
        finally:
            stop_process(proc, 10)


def test_serve_watch_shows_a_dropped_file(tmp_path: Path, clips: dict[str, bytes],
                                          server) -> None:
    root = tmp_path / "lib"
    root.mkdir()
    (root / "a.mp4").write_bytes(clips["a.mp4"])
    srv = server(root, "--watch")
    assert set(srv.videos()) == {"a.mp4"}
    poll(lambda: "watching" in srv.stderr)
    (root / "new.mp4").write_bytes(clips["b.mp4"])
    video = poll(lambda: srv.videos().get("new.mp4"))
    assert video["status"] == "ok" and video["size"] == len(clips["b.mp4"])
    srv.proc.send_signal(signal.SIGTERM)
    assert srv.proc.wait(30) == 0
    assert "watch stopped" in srv.stderr and "Traceback" not in srv.stderr


def _children(pid: int) -> list[str]:
    """The command lines of ``pid``'s child processes."""
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            with contextlib.suppress(OSError):
                found.append(Path(f"/proc/{child}/cmdline").read_bytes()
                              .replace(b"\0", b" ").decode())
    return found


def test_serve_follows_the_folder_by_default(tmp_path: Path, clips: dict[str, bytes],
                                             server) -> None:
    """No flag: a video copied in appears (README's quick start, `scripts/dev serve`)."""
    root = tmp_path / "lib"
    root.mkdir()
    (root / "a.mp4").write_bytes(clips["a.mp4"])
    srv = server(root, defaults=True)
    poll(lambda: "watching" in srv.stderr)
    assert any("scan --watch" in child for child in _children(srv.proc.pid))
    (root / "new.mp4").write_bytes(clips["b.mp4"])
    video = poll(lambda: srv.videos().get("new.mp4"))
    assert video["status"] == "ok"
    srv.proc.send_signal(signal.SIGTERM)
    assert srv.proc.wait(30) == 0
    assert "watch stopped" in srv.stderr and "Traceback" not in srv.stderr


@pytest.mark.parametrize(("args", "config"), [(("--no-watch",), ""),
                                              ((), "[server]\nwatch = false\n")])
def test_no_watch_starts_no_watcher(tmp_path: Path, clips: dict[str, bytes], server,
                                    args: tuple[str, ...], config: str) -> None:
    root = tmp_path / "lib"
    root.mkdir()
    (root / "a.mp4").write_bytes(clips["a.mp4"])
    if config:  # the setting, from a config file (flag, variable and [server] key alike)
        (tmp_path / "serve.toml").write_text(config)
        args = ("--config", str(tmp_path / "serve.toml"))
    srv = server(root, *args, defaults=True)
    assert set(srv.videos()) == {"a.mp4"}
    assert not [c for c in _children(srv.proc.pid) if "scan --watch" in c], args
    assert "watching" not in srv.stderr


def test_an_index_the_server_cannot_write_is_not_followed(tmp_path: Path,
                                                          clips: dict[str, bytes]) -> None:
    """A node that only loads an index someone else writes: one line says why new files
    will not appear, and it serves on (no watcher failing over and over)."""
    root, published = tmp_path / "lib", tmp_path / "published"
    root.mkdir()
    published.mkdir()
    (root / "a.mp4").write_bytes(clips["a.mp4"])
    index = published / "videos.toml"
    assert mediaserve("scan", str(root), "--index", str(index)).returncode == 0
    published.chmod(0o555)
    index.chmod(0o444)
    port = free_port()
    cmd = without_dac_override([sys.executable, "-m", "mediaserve", "serve", str(root),
                                "--index", str(index), "--port", str(port)])
    if cmd is None:
        pytest.skip("root without setpriv: permissions cannot be enforced")
    with tempfile.TemporaryFile() as errors:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=errors, env={k: v for k, v in os.environ.items()
                                                    if k != "MEDIASERVE_WATCH"})
        try:
            wait_for_port(port, proc, 60, stderr=errors)
            assert not [c for c in _children(proc.pid) if "scan --watch" in c]
        finally:
            stop_process(proc, 20)
            published.chmod(0o755)
        errors.seek(0)
        text = errors.read().decode()
    assert f"not following {root} for new files: cannot write in {published}" in text, text
    assert "Traceback" not in text
