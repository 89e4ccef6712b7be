"""Regenerate the README's screenshots of the library page and the player.

Builds a small library of demo clips (moving gradients, a folder of lectures, a show of two
seasons, a subtitle file, one truncated copy), serves it with two profiles (Sam, with some
history: a film half watched, the first episode watched; Robin, with a PIN), and saves PNGs
taken by Debian's Chromium: ``library.png`` (Sam's rows above the library), ``chooser.png``
("Who is watching?"), ``show.png`` (a show's seasons) and ``player.png``.

    python -m benchmarks.web_screenshots [--out docs/screenshots] [--pages library,player]

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
from typing import Any

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
    *(ClipSpec(f"Shows/Harbour Lights/Season {s}/Harbour Lights S0{s}E0{e} - {title}.mp4",
               seconds=10, fps=25, width=480, height=270)
      for s, e, title in ((1, 1, "Arrival"), (1, 2, "Fog"), (2, 1, "The Storm"),
                          (2, 2, "Low Tide"))),
)
PAGES = ("library", "chooser", "show", "player")


def build(root: Path) -> None:
    for spec in CLIPS:
        encode_clip(root, spec)
    (root / "Gradient Sunrise (2021).en.srt").write_text(
        "1\n00:00:01,000 --> 00:00:08,000\nThe sun comes up over the gradient.\n")
    cut = encode_clip(root, ClipSpec("Phone/VID_2024_cut.mp4", seconds=6, fps=25))
    cut.write_bytes(cut.read_bytes()[: cut.stat().st_size // 2])


def post(url: str, body: dict[str, object]) -> dict[str, object]:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request) as reply:
        answer: dict[str, object] = json.load(reply)
        return answer


def ready(page: Any, selector: str = "#groups img") -> None:
    """Until every poster under ``selector`` has been drawn."""
    page.wait_for_function(f"() => [...document.querySelectorAll('{selector}')]"
                           ".every((i) => i.complete && i.naturalWidth > 0)", timeout=60000)


def history(base: str, ids: dict[str, str]) -> None:
    """Sam: the only profile without a PIN, so every request without a cookie is Sam's."""
    post(base + "/api/profiles", {"name": "Sam", "colour": "#12a594"})
    post(f"{base}/api/me/progress/{ids[CLIPS[0].name]}", {"position": 17, "duration": 40})
    post(f"{base}/api/me/progress/{ids[CLIPS[3].name]}", {"position": 12, "duration": 30})
    post(f"{base}/api/me/watched/{ids[CLIPS[6].name]}", {"watched": True})


def library_pictures(browser: Any, base: str, out: Path, pages: set[str]) -> None:
    page = browser.new_page(viewport={"width": 960, "height": 840}, color_scheme="dark")
    page.goto(base + "/")
    page.wait_for_selector("section[data-row=next_up]")
    ready(page, "#home img")
    if "library" in pages:
        page.screenshot(path=str(out / "library.png"))
    if "show" in pages:
        page.click("#tab-shows")
        page.click(".shows li.card a")
        page.wait_for_selector(".season")
        ready(page, ".season img")
        page.set_viewport_size({"width": 960, "height": 600})
        page.screenshot(path=str(out / "show.png"))
    if "chooser" in pages:  # a second profile, with a PIN: now the page asks
        post(base + "/api/profiles", {"name": "Robin", "colour": "#f76b15", "pin": "2468"})
        fresh = browser.new_context(viewport={"width": 960, "height": 600},
                                    color_scheme="dark").new_page()
        fresh.goto(base + "/")
        fresh.wait_for_selector("#chooser:not([hidden])")
        fresh.evaluate("document.activeElement.blur()")
        fresh.screenshot(path=str(out / "chooser.png"))


def player_picture(browser: Any, base: str, out: Path, vid: str) -> None:
    page = browser.new_page(viewport={"width": 960, "height": 600}, color_scheme="dark")
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
    page.screenshot(path=str(out / "player.png"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("docs/screenshots"))
    parser.add_argument("--pages", default=",".join(PAGES),
                        help=f"which pictures, comma-separated (of {', '.join(PAGES)})")
    args = parser.parse_args()
    pages = set(args.pages.split(","))
    if not pages <= set(PAGES):
        parser.error(f"--pages: choose from {', '.join(PAGES)}")
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
            with urllib.request.urlopen(base + "/api/videos") as reply:  # ids are keyed
                ids = {v["path"]: v["id"] for v in json.load(reply)["videos"]}
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
            if "player" in pages:
                player_picture(browser, base, args.out, ids[CLIPS[0].name])
            history(base, ids)
            library_pictures(browser, base, args.out, pages)
            browser.close()
        for name in PAGES:
            picture = args.out / f"{name}.png"
            if name in pages:
                print(f"{picture}: {picture.stat().st_size / 1000:.0f} KB")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
