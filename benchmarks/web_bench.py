"""How fast the library page is with a big library, in real Chromium.

Builds a 5,000-video library (one small real clip hard-linked 5,000 times into 50 folders,
with an index whose facts vary: titles, durations, sizes, dates), serves it with
``mediaserve serve``, and loads ``/`` in Debian's Chromium (headless, 1280x800) several
times. Reported, from the page's own ``performance`` marks:

* listing: bytes of ``/api/videos`` (full) and ``?view=cards`` (plain and gzipped), and the
  time the page's fetch of the cards took (Resource Timing);
* first render: navigation start -> the first screenful of cards is in the DOM
  (``ms:first-render``), -> the frame after it is painted (``ms:first-paint``), and -> the
  last of the 5,000 cards is in the DOM (``ms:all-rendered``; the rest go in in chunks of
  400 per task, so the page stays responsive meanwhile);
* rows in: navigation start -> the home rows are in the page (``ms:rows``: Continue
  watching, Next up, Recently added; put in after the first paint, never before);
* one keystroke: from the ``input`` event to the frame after the filtered grid was painted
  (``ms:filter``), for narrowing keystrokes (typing "movie 12") and for the widest one
  (deleting the last character of a one-letter search: back to all 5,000 cards).

``--profile`` first makes one profile (chosen without asking: the only one, no PIN) with
200 videos in progress and 200 watched, so the page also loads the profile's marks and rows
(``/api/me/progress``, ``/api/me/home``) beside the listing. Without it there is no profile
and Recently added is picked from the listing.

Numbers are medians over the runs (and over the keystrokes). Nothing is asserted.

    python -m benchmarks.web_bench [--videos 5000] [--runs 5] [--profile]   (from the checkout)
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.peers import run_mediaserve
from mediaserve.adapters.library.store import INDEX_NAME, save_index
from mediaserve.adapters.media.clips import ClipSpec, encode_clip
from mediaserve.core.library.ids import video_id
from mediaserve.core.library.index import LibraryIndex, MediaFacts, VideoEntry

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
WORDS = ("Summer", "Winter", "Holiday", "Birthday", "Concert", "Lecture", "Trip", "Movie",
         "Garden", "Road", "River", "Night", "City", "Family", "Game", "Wedding")


def build(root: Path, count: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    clip = encode_clip(root, ClipSpec(".source.mp4", seconds=2, fps=10))
    st = clip.stat()
    videos = {}
    for n in range(count):
        folder = f"Folder {n % 50:02d}"
        year = rng.randint(1990, 2025)
        name = f"{folder}/{rng.choice(WORDS)} {rng.choice(WORDS)} {n:04d} ({year}).mp4"
        (root / folder).mkdir(exist_ok=True)
        os.link(clip, root / name)
        width, height = rng.choice(((1920, 1080), (1280, 720), (3840, 2160), (640, 360)))
        facts = MediaFacts(container="mp4", duration=rng.uniform(30, 7200), video_codec="h264",
                           width=width, height=height, frame_rate=25.0, frames=100,
                           audio_codec="aac", bit_rate=2_000_000, faststart=n % 7 != 0,
                           truncated=False)
        videos[video_id(name)] = VideoEntry(
            video_id(name), name, size=st.st_size, mtime_ns=st.st_mtime_ns + n, facts=facts)
    index = LibraryIndex(root=str(root.resolve()), videos=videos,
                         scanned_at=datetime.now(UTC).replace(microsecond=0))
    save_index(root / INDEX_NAME, index)


def listing_sizes(base: str) -> dict[str, int]:
    sizes = {}
    for label, path in (("full", "/api/videos"), ("cards", "/api/videos?view=cards")):
        with urllib.request.urlopen(base + path) as reply:
            body = reply.read()
        sizes[label] = len(body)
        sizes[label + " gzip"] = len(gzip.compress(body, 5))
    return sizes


def post(url: str, body: dict) -> None:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request) as reply:
        reply.read()


def add_profile(base: str, in_progress: int = 200, watched: int = 200) -> None:
    """One profile (the only one and without a PIN: every request is it) with history."""
    post(base + "/api/profiles", {"name": "Bench"})
    with urllib.request.urlopen(base + "/api/videos?view=cards") as reply:
        listing = json.load(reply)
    at = listing["fields"].index("id")
    ids = [row[at] for row in listing["rows"]]
    for n, vid in enumerate(ids[: in_progress + watched]):
        if n < in_progress:
            post(f"{base}/api/me/progress/{vid}", {"position": 60 + n, "duration": 3600})
        else:
            post(f"{base}/api/me/watched/{vid}", {"watched": True})


def measure(base: str, runs: int) -> dict[str, list[float]]:
    from playwright.sync_api import sync_playwright

    out: dict[str, list[float]] = {"cards fetch": [], "listing parsed": [],
                                   "first render": [], "first paint": [],
                                   "all cards in the DOM": [], "rows in": [],
                                   "keystroke (narrowing)": [], "keystroke (back to all)": []}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS,
                                     headless=True)
        for _ in range(runs):
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.goto(base + "/")
            page.wait_for_function(
                "() => performance.getEntriesByName('ms:first-paint').length > 0"
                " && performance.getEntriesByName('ms:all-rendered').length > 0"
                " && performance.getEntriesByName('ms:rows').length > 0",
                timeout=120000)
            marks = page.evaluate("""() => {
                const at = (n) => performance.getEntriesByName(n)[0].startTime;
                const fetch = performance.getEntriesByType('resource')
                    .find((r) => r.name.includes('view=cards'));
                return [fetch.responseEnd - fetch.requestStart, at('ms:first-render'),
                        at('ms:first-paint'), at('ms:all-rendered'),
                        at('ms:listing-loaded'), at('ms:rows')]; }""")
            out["cards fetch"].append(marks[0])
            out["first render"].append(marks[1])
            out["first paint"].append(marks[2])
            out["all cards in the DOM"].append(marks[3])
            out["listing parsed"].append(marks[4])
            out["rows in"].append(marks[5])
            page.click("#search")
            for key in "movie 12":
                before = page.evaluate("performance.getEntriesByName('ms:filter').length")
                page.keyboard.type(key)
                page.wait_for_function(
                    f"() => performance.getEntriesByName('ms:filter').length > {before}")
            filters = page.evaluate(
                "performance.getEntriesByName('ms:filter').map((m) => m.duration)")
            out["keystroke (narrowing)"].extend(filters)
            page.fill("#search", "")
            page.keyboard.type("w")
            page.wait_for_function("() => performance.getEntriesByName('ms:filter').length > 8")
            page.keyboard.press("Backspace")
            page.wait_for_function("() => performance.getEntriesByName('ms:filter').length > 9")
            out["keystroke (back to all)"].append(page.evaluate(
                "performance.getEntriesByName('ms:filter').at(-1).duration"))
            page.close()
        browser.close()
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--videos", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--profile", action="store_true",
                        help="with a profile that has 400 videos of history")
    args = parser.parse_args()
    if not os.path.exists(CHROMIUM):
        print("needs Debian's chromium at /usr/bin/chromium", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="web-bench-"))
    try:
        root = work / "library"
        root.mkdir()
        started = time.perf_counter()
        build(root, args.videos)
        print(f"built a {args.videos}-video library in {time.perf_counter() - started:.1f} s")
        env = {"MEDIASERVE_DATA_DIR": str(work / "data")}
        with run_mediaserve(root, env=env) as base:
            if args.profile:
                add_profile(base)
            for label, size in listing_sizes(base).items():
                print(f"/api/videos {label:>10}: {size / 1e6:6.2f} MB")
            results = measure(base, args.runs)
        print(f"\nChromium, {args.videos} videos, median of {args.runs} page loads:")
        for label, values in results.items():
            print(f"  {label:<24} {statistics.median(values):7.1f} ms"
                  f"   (min {min(values):.1f}, max {max(values):.1f}, n={len(values)})")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
