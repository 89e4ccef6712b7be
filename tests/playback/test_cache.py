"""The segment cache survives a restart: its LRU is rebuilt from the folder (oldest first by
mtime), half-written temp files are removed, and the cap applies at once."""

from __future__ import annotations

import os
from pathlib import Path

from mediaserve.adapters.playback.cache import SegmentCache, version_key


def _segment(path: Path, size: int, mtime: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * size)
    os.utime(path, (mtime, mtime))
    return path


async def test_a_restart_rebuilds_the_lru_and_applies_the_cap(tmp_path: Path):
    root = tmp_path / "hls"
    old = _segment(root / "v1" / "k" / "remux" / "seg-0.m4s", 100, 1_000)
    mid = _segment(root / "v1" / "k" / "remux" / "seg-1.m4s", 100, 2_000)
    new = _segment(root / "v2" / "k" / "720p" / "seg-0.m4s", 100, 3_000)
    init = _segment(root / "v2" / "k" / "720p" / "init.mp4", 50, 500)
    tmp = _segment(root / "v2" / "k" / "720p" / "seg-1.m4s.123.tmp", 10, 500)
    cache = SegmentCache(root, cap=250)
    cache.keep = 0
    await cache.start()
    assert not old.exists() and mid.exists() and new.exists()  # oldest segment went first
    assert init.exists() and not tmp.exists()  # init segments do not count; temp files go
    assert cache.snapshot()["bytes"] == 200 and cache.evicted == 1
    cache.used(str(mid), hit=True)  # now the youngest
    cache.added(str(root / "v2" / "k" / "720p" / "seg-1.m4s"), 100)
    await cache.evict()
    assert mid.exists() and not new.exists()


def test_the_version_key_changes_with_the_file():
    base = version_key(10, 20, 30)
    assert base == version_key(10, 20, 30)
    assert len({base, version_key(11, 20, 30), version_key(10, 21, 30),
                version_key(10, 20, 31)}) == 4
