"""Regenerate the README's screenshots of the library page and the player.

Builds a small library of demo clips (moving gradients, a folder of episodes, a subtitle
file, one truncated copy), serves it, and saves two PNGs taken by Debian's Chromium:

    python -m benchmarks.web_screenshots [--out docs/screenshots]     (from the checkout)

Not a benchmark: it lives here because it starts servers the way the benchmarks do.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from benchmarks.peers import run_mediaserve
from mediaserve.adapters.media.clips import ClipSpec, encode_clip

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
CLIPS = (
    ClipSpec("Gradient Sunrise (2021).mp4", seconds=40, fps=25, width=640, height=360),
    ClipSpec("Harbour.Walk.2019.1080p.x264.mp4", seconds=25, fps=25, width=640, height=360),
    ClipSpec("Moving Bars.webm", video_codec="libvpx-vp9", audio_codec="libopus", seconds=12,
             fps=25, width=320, height=180),
    ClipSpec("Lectures/Intro_to_Streaming_part1.mp4", seconds=30, fps=25, width=480,
             height=270),
    ClipSpec("Lectures/Intro_to_Streaming_part2.mp4", seconds=20, fps=25, width=480,
             height=270, faststart=False),
    ClipSpec("Lectures/Range Requests Explained.mp4", seconds=15, fps=25, width=480,
             height=270),
)


def build(root: Path) -> None:
    for spec in CLIPS:
        encode_clip(root, spec)
    (root / "Gradient Sunrise (2021).en.srt").write_text(
        "1\n00:00:01,000 --> 00:00:08,000\nThe sun comes up over the gradient.\n")
    cut = encode_clip(root, ClipSpec("Phone/VID_2024_cut.mp4", seconds=6, fps=25))
    cut.write_bytes(cut.read_bytes()[: cut.stat().st_size // 2])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("docs/screenshots"))
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    work = Path(tempfile.mkdtemp(prefix="web-shots-"))
    try:
        root = work / "Videos"
        build(root)
        env = {"MEDIASERVE_DATA_DIR": str(work / "data")}
        subprocess.run([sys.executable, "-m", "mediaserve", "scan", str(root)], check=True,
                       capture_output=True, env={**os.environ, **env})
        args.out.mkdir(parents=True, exist_ok=True)
        with run_mediaserve(root, env=env) as base, sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
            page = browser.new_page(viewport={"width": 960, "height": 600},
                                    color_scheme="dark")
            page.goto(base + "/")
            page.wait_for_function("() => [...document.querySelectorAll('#groups img')]"
                                   ".every((i) => i.complete && i.naturalWidth > 0)",
                                   timeout=60000)
            page.screenshot(path=str(args.out / "library.png"))
            with urllib.request.urlopen(base + "/api/videos") as reply:  # ids are keyed
                vid = next(v["id"] for v in json.load(reply)["videos"]
                           if v["path"] == CLIPS[0].name)
            body = json.dumps({"positions": [4, 4.5, 5, 13, 14, 14, 14.5, 15, 23, 23.5, 31]})
            urllib.request.urlopen(urllib.request.Request(  # a few viewers' seeks: a heat map
                f"{base}/api/videos/{vid}/seek-analytics", data=body.encode(),
                headers={"Content-Type": "application/json"}))
            page.goto(f"{base}/watch/{vid}")
            page.wait_for_function("() => document.getElementById('player').readyState >= 2")
            page.evaluate("document.getElementById('player').currentTime = 14")
            page.wait_for_selector("#seekbar[data-previews=ready]", state="attached")
            box = page.locator("#seek-slider").bounding_box()
            assert box is not None
            page.mouse.move(box["x"] + box["width"] * 0.6, box["y"] + 8)
            time.sleep(0.5)
            page.screenshot(path=str(args.out / "player.png"))
            browser.close()
        for name in ("library.png", "player.png"):
            print(f"{args.out / name}: {(args.out / name).stat().st_size / 1000:.0f} KB")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
