"""``mediaserve prepare`` makes whole variants into the server's cache (a real subprocess),
and ``serve --no-live-transcode`` serves them without a producer, and says so for the rest."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import aiohttp
from click.testing import CliRunner

from mediaserve.adapters.library.scanner import scan
from mediaserve.adapters.library.store import save_index
from mediaserve.cli import cli
from tests.playback.conftest import get


def _library(clips, root: Path, names: list[str]) -> Path:
    root.mkdir()
    for name in names:
        shutil.copy2(clips.require(name), root / name)
    index, _ = scan(root, None, workers=1)
    save_index(root / ".mediaserve-index.toml", index)
    return root


async def test_prepared_variants_play_without_live_transcoding(clips, tmp_path, data_dir,
                                                               hls_server):
    names = ["hevc_aac.mkv", "h264_ac3.mkv", "h264_aac.mp4", "h264_aac.mkv"]
    root = _library(clips, tmp_path / "library", names)
    env = {**os.environ, "MEDIASERVE_DATA_DIR": str(data_dir)}
    done = subprocess.run([sys.executable, "-m", "mediaserve", "prepare", str(root),
                           "--only-needed", "--json", "--workers", "2"],
                          capture_output=True, text=True, env=env, timeout=180)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    made = {(t["path"], t["variant"], t["status"]) for t in report["tasks"]}
    assert made == {("hevc_aac.mkv", "120p", "made"), ("h264_ac3.mkv", "audio", "made")}
    assert report["direct"] == 2 and report["failed"] == 0

    again = CliRunner().invoke(cli, ["prepare", str(root), "--only-needed", "--json"],
                               env={"MEDIASERVE_DATA_DIR": str(data_dir)})
    assert again.exit_code == 0, again.output
    assert {t["status"] for t in json.loads(again.output)["tasks"]} == {"cached"}

    shutil.copy2(clips.require("mpeg4_mp3.avi"), root / "late.avi")  # not prepared
    served = await hls_server([], live_transcode=False)
    assert served.root == root
    async with aiohttp.ClientSession() as session:
        for name, variant in (("hevc_aac.mkv", "120p"), ("h264_ac3.mkv", "audio")):
            _, _, doc = await get(session, served.url(f"/api/videos/{served.id(name)}"))
            assert doc["playback"]["mode"] in ("transcode", "audio"), doc["playback"]
            status, _, body = await get(session, served.hls(name, "master.m3u8"))
            assert status == 200 and f"{variant}/index.m3u8" in body.decode()
            for number in (0, 1):
                status, _, _ = await get(session, served.hls(name, f"{variant}/seg-{number}.m4s"))
                assert status == 200
        _, _, doc = await get(session, served.url(f"/api/videos/{served.id('late.avi')}"))
        assert doc["playback"]["mode"] == "off"
        assert "mediaserve prepare" in doc["playback"]["reasons"][-1]
    assert served.service.snapshot()["started"] == {"remux": 0, "audio": 0, "transcode": 0}
