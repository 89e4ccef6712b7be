"""What the server does once per library version, timed: build the catalog (findings,
parsed names, shows), build and encode the full listing and the card table, and the shows
list. Nothing is served; no files are needed (the index is made in memory).

The names mix films as ``benchmarks/web_bench.py`` names them (``Folder 07/Summer River
0012 (1999).mp4``), episodes of 100 shows in every common layout, and phone videos.
Reported: the least CPU time (``time.process_time``: what moves least on a shared machine)
of ``--runs`` for each step, and the sizes of the bodies.

    python -m benchmarks.catalog_bench [--videos 5000] [--runs 5]     (from the checkout)
"""

from __future__ import annotations

import argparse
import gzip
import inspect
import json
import random
import time
from collections.abc import Callable
from typing import Any

from mediaserve.adapters.server.api.listing import encode_document
from mediaserve.adapters.server.site.catalog import Catalog
from mediaserve.core.audit.rules import findings_from_facts
from mediaserve.core.library.ids import video_id
from mediaserve.core.library.index import LibraryIndex, MediaFacts, VideoEntry
from mediaserve.core.web.listing import cards

WORDS = ("Summer", "Winter", "Holiday", "Birthday", "Concert", "Lecture", "Trip", "Movie",
         "Garden", "Road", "River", "Night", "City", "Family", "Game", "Wedding")
LAYOUTS = ("TV/{show}/Season {s}/{show} S{s:02d}E{e:02d} - Part {e}.mkv",
           "TV/{show}/Season {s:02d}/{e:02d} - Title {e}.mkv",
           "Downloads/{dots}.S{s:02d}E{e:02d}.1080p.WEB-DL.x264-GRP.mkv",
           "Anime/[Group] {show} - {n:02d} [1080p].mkv")


def names(count: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    found: list[str] = []
    for n in range(count):
        kind = n % 10
        if kind < 6:
            found.append(f"Folder {n % 50:02d}/{rng.choice(WORDS)} {rng.choice(WORDS)} "
                         f"{n:04d} ({rng.randint(1990, 2025)}).mp4")
        elif kind < 9:
            show = f"{rng.choice(WORDS)} {rng.choice(WORDS)} {n % 100}"
            found.append(rng.choice(LAYOUTS).format(
                show=show, dots=show.replace(" ", "."), s=rng.randint(1, 8),
                e=rng.randint(1, 24), n=n))
        else:
            found.append(f"Camera/VID_2023{n % 12 + 1:02d}05_{n:06d}.mp4")
    return found


def index_of(paths: list[str]) -> LibraryIndex:
    videos = {}
    for n, path in enumerate(dict.fromkeys(paths)):
        facts = MediaFacts(container="mp4", duration=60.0 + n, video_codec="h264", width=1920,
                           height=1080, frame_rate=25.0, frames=1500, audio_codec="aac",
                           bit_rate=2_000_000, faststart=n % 7 != 0, truncated=False)
        vid = video_id(path)
        videos[vid] = VideoEntry(vid, path, size=1_000_000 + n, mtime_ns=n, facts=facts)
    return LibraryIndex(root="/library", videos=videos)


def best(runs: int, step: Callable[[], Any]) -> tuple[float, Any]:
    result, times = None, []
    for _ in range(runs):
        start = time.process_time()
        result = step()
        times.append(time.process_time() - start)
    return min(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--videos", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    index = index_of(names(args.videos))
    rows: list[tuple[str, str]] = []
    first, _ = best(1, lambda: Catalog(index, findings_from_facts))  # caches cold
    took, catalog = best(args.runs, lambda: Catalog(index, findings_from_facts))
    rows.append(("catalog built (as create_app builds it)",
                 f"{first * 1000:.0f} ms the first time, {took * 1000:.0f} ms again"))
    if "previous" in inspect.signature(Catalog).parameters:  # a reload reuses parsed names
        took, _ = best(args.runs, lambda: Catalog(index, findings_from_facts,
                                                  previous=catalog))
        rows.append(("catalog rebuilt on a reload", f"{took * 1000:.0f} ms"))
    took, listing = best(args.runs, catalog.listing)
    rows.append(("full listing documents", f"{took * 1000:.0f} ms"))
    took, full = best(args.runs, lambda: encode_document(listing))
    rows.append(("full listing encoded", f"{took * 1000:.0f} ms, {len(full) / 1e6:.2f} MB, "
                 f"{len(gzip.compress(full, 6)) / 1e6:.2f} MB gzipped"))
    took, table = best(args.runs, lambda: json.dumps(cards(listing), ensure_ascii=False,
                                                     separators=(",", ":")).encode())
    rows.append(("card table built and encoded", f"{took * 1000:.0f} ms, "
                 f"{len(table) / 1e6:.2f} MB, {len(gzip.compress(table, 6)) / 1e6:.2f} MB "
                 "gzipped"))
    shows = getattr(catalog, "shows", None)
    if shows is not None:  # (not on a checkout from before shows existed)
        from mediaserve.adapters.server.api.shows import _facts
        from mediaserve.core.shows import shows_document

        took, doc = best(args.runs, lambda: json.dumps(shows_document(shows,
                                                                      _facts(catalog))))
        rows.append((f"shows list ({len(shows.shows)} shows)",
                     f"{took * 1000:.1f} ms, {len(doc) / 1e3:.0f} kB"))
    print(f"{len(index.videos)} videos, best of {args.runs}")
    for label, value in rows:
        print(f"  {label:<40} {value}")


if __name__ == "__main__":
    main()
