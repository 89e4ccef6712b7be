"""Ids keyed with the library's secret: old indexes migrate once, ids stay stable across
restarts and rescans, and they are not sha256(path)."""

from __future__ import annotations

import hashlib
import json
import urllib.request
from pathlib import Path

import pytest

from benchmarks.peers import run_mediaserve
from mediaserve.adapters.library.idsecret import ensure_id_secret
from mediaserve.adapters.library.scanner import scan
from mediaserve.adapters.library.store import INDEX_NAME, load_index, save_index
from mediaserve.core.library.ids import video_id
from mediaserve.core.library.index import LibraryIndex, VideoEntry, dumps, loads
from mediaserve.core.library.rekey import rekey

SECRET = "ab" * 32
NAMES = ("a.mp4", "Films/Été.mkv", "b/c.webm")


def legacy_index(root: Path) -> LibraryIndex:
    """An index as mediaserve wrote it before ids were keyed: sha256(path)[:12]."""
    videos = {}
    for name in NAMES:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(name.encode() * 100)
        st = path.stat()
        vid = hashlib.sha256(name.encode()).hexdigest()[:12]
        videos[vid] = VideoEntry(vid, name, st.st_size, st.st_mtime_ns)
    return LibraryIndex(root=str(root), videos=videos, settings={"port": 9000})


def sha_id(path: str) -> str:
    return hashlib.sha256(path.encode()).hexdigest()[:12]


def test_keyed_ids_are_pinned_and_not_the_path_hash() -> None:
    assert video_id("a.mp4", secret=SECRET) == video_id("a.mp4", secret=SECRET)
    assert video_id("a.mp4", secret=SECRET) != sha_id("a.mp4")
    assert video_id("a.mp4", secret=SECRET) != video_id("a.mp4", secret="cd" * 32)
    nfd = "Films/E\u0301te\u0301.mkv"
    assert video_id(nfd, secret=SECRET) == video_id("Films/Été.mkv", secret=SECRET)
    # HMAC-SHA256(bytes.fromhex(secret), NFC path)[:12], pinned: ids must never drift
    assert video_id("a.mp4", secret=SECRET) == "b3416b141480"


def test_rekey_is_pure_and_maps_every_old_id(tmp_path: Path) -> None:
    old = legacy_index(tmp_path)
    new, mapping = rekey(old, SECRET)
    assert set(mapping) == set(old.videos)
    assert set(mapping.values()) == set(new.videos)
    for old_id, new_id in mapping.items():
        assert new.videos[new_id].path == old.videos[old_id].path
        assert new_id == video_id(old.videos[old_id].path, secret=SECRET) != old_id
    assert new.settings == {"port": 9000} and new.id_secret == SECRET
    assert old.id_secret is None and set(old.videos) == set(mapping)  # input untouched
    with pytest.raises(ValueError, match="never recomputed"):
        rekey(new, SECRET)
    assert loads(dumps(new)).id_secret == SECRET
    with pytest.raises(ValueError, match="id_secret"):
        loads(dumps(new).replace(SECRET, "not-hex"))


def test_an_old_index_migrates_once_and_stays_stable(tmp_path: Path) -> None:
    path = tmp_path / INDEX_NAME
    save_index(path, legacy_index(tmp_path))
    migrated, mapping = ensure_id_secret(path, load_index(path))
    assert len(mapping) == len(NAMES)
    on_disk = load_index(path)  # written (atomically) with its secret
    assert on_disk.id_secret == migrated.id_secret and len(on_disk.id_secret or "") == 64
    assert set(on_disk.videos) == set(migrated.videos)
    assert not set(on_disk.videos) & {sha_id(name) for name in NAMES}
    again, none = ensure_id_secret(path, on_disk)  # the next start: nothing changes
    assert none == {} and set(again.videos) == set(on_disk.videos)

    (tmp_path / "new.mp4").write_bytes(b"x" * 1000)  # a rescan keeps ids, keys new ones
    rescanned, summary = scan(tmp_path, on_disk, workers=1)
    assert set(on_disk.videos) <= set(rescanned.videos)
    new_id = rescanned.by_path()["new.mp4"].id
    assert summary.new == [new_id] and new_id == video_id("new.mp4", secret=on_disk.id_secret)


def test_a_scan_of_an_old_index_migrates_it(tmp_path: Path) -> None:
    old = legacy_index(tmp_path)
    index, summary = scan(tmp_path, old, workers=1)
    assert index.id_secret is not None
    assert {e.path: e.id for e in index.videos.values()} == {
        name: video_id(name, secret=index.id_secret) for name in NAMES}
    assert summary.new == []  # nothing was re-probed as new: the files are the same


def _ids(base: str) -> dict[str, str]:
    with urllib.request.urlopen(f"{base}/api/videos", timeout=10) as response:
        return {v["path"]: v["id"] for v in json.load(response)["videos"]}


def test_serve_migrates_an_old_index_and_keeps_the_ids_across_restarts(tmp_path: Path) -> None:
    root = tmp_path / "lib"
    root.mkdir()
    save_index(root / INDEX_NAME, legacy_index(root))
    env = {"MEDIASERVE_DATA_DIR": str(tmp_path / "data")}
    with run_mediaserve(root, env=env) as base:
        first = _ids(base)
    with run_mediaserve(root, env=env) as base:
        second = _ids(base)
    assert first == second
    assert set(first) == set(NAMES)
    assert all(first[name] != sha_id(name) for name in NAMES)
    assert load_index(root / INDEX_NAME).id_secret is not None
