"""The process that serves bytes never loads PyAV/FFmpeg: scanning runs in a child process.

FFmpeg's shared libraries cost ~15 MB of resident memory in every serving process (and every
worker) while serving never decodes a frame. Checked on a real ``mediaserve serve`` whose
folder has no index yet, so the scan-before-serve path runs too.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tests.server.conftest import MIB, blob
from tests.server.rawhttp import get_closing


def _mapped_ffmpeg(pid: int) -> list[str]:
    with open(f"/proc/{pid}/maps", encoding="utf-8", errors="replace") as maps:
        return sorted({line.split()[-1] for line in maps
                       if "libavcodec" in line or "libavformat" in line or "/av/" in line})


def test_serve_scans_in_a_child_and_never_maps_ffmpeg(spawn: Callable[..., object],
                                                       tmp_path: Path) -> None:
    root = tmp_path / "lib"
    root.mkdir()
    (root / "clip.mp4").write_bytes(blob(MIB, seed=21))
    child = spawn(str(root), "--port", "0", "--access-log", "off",
                  env={"MEDIASERVE_DATA_DIR": str(tmp_path / "data")})
    child.wait_started()  # type: ignore[attr-defined]
    assert "Scanned" in child.stderr  # type: ignore[attr-defined]
    assert (root / ".mediaserve-index.toml").exists()
    status, _headers, body = get_closing(child.port, "/api/videos")  # type: ignore[attr-defined]
    assert status == 200 and b"clip.mp4" in body
    pid = child.proc.pid  # type: ignore[attr-defined]
    assert _mapped_ffmpeg(pid) == []
