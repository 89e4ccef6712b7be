"""Posters and sprites of hostile files: bounded in pixels and in memory (issue 17, finding 4).

The bomb is built at test time (benchmarks/frame_memory.py): three black 16000 x 16000 PNG
frames, 3 MB on disk and 768 MB per decoded frame. Served by a real ``mediaserve serve``, its
poster and sprite used to take the server's process tree to 3.8 GB; now they are refused and
the tree stays small. Its memory is read from /proc: the tree's sum sampled every 5 ms, and
each process's own peak, which sampling cannot miss.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import multiprocessing
import os
import subprocess
import sys
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import pytest

from benchmarks.frame_memory import (
    TreePeak,
    fetch,
    pictures,
    png_bomb,
    served,
    tree_pids,
)
from mediaserve.adapters.library.scanner import scan
from mediaserve.adapters.media.clips import ClipSpec, encode_clip
from mediaserve.adapters.server import create_app
from mediaserve.adapters.web import framegen, frames
from mediaserve.core.web.decoding import WORKER_MEMORY_LIMIT

MiB = 1024 * 1024
TREE_LIMIT = 600 * MiB
CLIP = ClipSpec("Normal clip.mp4", seconds=4, fps=10, width=320, height=180)


def jpeg_size(data: bytes) -> tuple[int, int]:
    with av.open(__import__("io").BytesIO(data)) as container:
        frame = next(container.decode(video=0))
        return frame.width, frame.height


def _own_peak(pid: int) -> int:
    """A process's own peak RSS (VmHWM), in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def address_limit(pid: int) -> int | None:
    """The soft ``Max address space`` of ``pid`` (None: unlimited)."""
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max address space"):
            soft = line.split()[3]
            return None if soft == "unlimited" else int(soft)
    raise AssertionError("no address-space line")


def test_a_pixel_bomb_costs_a_placeholder_not_the_machines_memory(tmp_path: Path) -> None:
    """The bomb, and an 8K file of 16-bit RGBA frames (within the pixel budget, 283 MB a
    frame): posters and sprites of both asked for twice, all at once."""
    root = tmp_path / "library"
    bomb = png_bomb(root / "bomb.mov")
    heavy = png_bomb(root / "heavy.mov", 8192, 10, height=4320, deep=True)
    assert bomb.stat().st_size < 4 * MiB and heavy.stat().st_size < 4 * MiB
    encode_clip(root, CLIP)
    with served(root, tmp_path / "data") as (peer, videos):
        base = peer.base
        urls = (pictures(base, videos["bomb.mov"]) + pictures(base, videos["heavy.mov"])) * 2
        with TreePeak(peer.pid) as peak, ThreadPoolExecutor(len(urls)) as pool:
            answers = list(pool.map(fetch, urls))
        own_peaks = [_own_peak(pid) for pid in tree_pids(peer.pid)]
        # the server is up and its workers still make pictures of real videos
        normal = fetch(pictures(base, videos[CLIP.name])[0])
        listing = fetch(base + "/api/videos")[0]
        capped = [address_limit(pid) for pid in tree_pids(peer.pid)
                  if pid != peer.pid and "libavcodec" in Path(f"/proc/{pid}/maps").read_text()]
    assert peak.peak < TREE_LIMIT, f"process tree peaked at {peak.peak / MiB:.0f} MiB"
    # and no process ever held a decoded bomb frame (768 MB), whatever the sampling missed;
    # the heavy file's 283 MB frame is decoded while FFmpeg reads its format, then refused
    assert max(own_peaks) < 400 * MiB, [round(p / MiB) for p in own_peaks]
    for url, (status, headers, body) in zip(urls, answers, strict=True):
        if "poster" in url:  # the grey placeholder, remembered until the file changes
            assert (status, headers.get("X-Mediaserve-Placeholder")) == (200, "1"), url
        else:
            assert status == 404 and "error" in json.loads(body), url
    status, headers, body = normal
    assert status == 200 and "X-Mediaserve-Placeholder" not in headers
    assert jpeg_size(body) == (320, 180)
    assert listing == 200
    assert capped and set(capped) == {WORKER_MEMORY_LIMIT}, capped


# -- the pieces, in this process ----------------------------------------------------------


@pytest.fixture
def clip(tmp_path: Path) -> Path:
    return encode_clip(tmp_path, CLIP)


def test_a_stream_over_the_budget_is_refused_from_its_parameters(
        clip: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The refusal comes from the stream's parameters, before any decoding: with a budget
    below 320 x 180 the H.264 clip is refused with its size (a decoder's own refusal would
    read 'Invalid argument')."""
    monkeypatch.setattr(framegen, "MAX_PIXELS", 320 * 180 - 1)
    for make, args in ((framegen.make_poster, ([1.0],)),
                       (framegen.make_sprite, ([1.0, 2.0], (160, 90), 2))):
        with pytest.raises(framegen.Refused, match="320x180"):
            make([str(clip)], str(tmp_path / "out.jpg"), *args)
    assert not (tmp_path / "out.jpg").exists()
    monkeypatch.setattr(framegen, "MAX_PIXELS", 320 * 180)
    assert framegen.make_poster([str(clip)], str(tmp_path / "out.jpg"), [1.0])


def mjpeg_clip(path: Path, width: int, height: int) -> Path:
    with av.open(str(path), "w") as out:
        stream = out.add_stream("mjpeg", rate=5)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuvj420p"
        for index in range(3):
            frame = av.VideoFrame(width, height, "yuvj420p")
            frame.pts, frame.time_base = index, Fraction(1, 5)
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


def test_a_jpeg_video_is_decoded_small_by_the_decoder_itself(tmp_path: Path) -> None:
    clip = mjpeg_clip(tmp_path / "camera.mkv", 1920, 1080)
    with framegen._open([str(clip)]) as container:
        stream = framegen._video_stream(container, 480)
        frame = next(container.decode(stream))
    assert (frame.width, frame.height) == (480, 270)  # lowres 2: a quarter of each side
    target = tmp_path / "poster.jpg"
    assert framegen.make_poster([str(clip)], str(target), [0.2])
    assert jpeg_size(target.read_bytes()) == (480, 270)


def test_the_bomb_is_refused_by_the_decoder_before_it_allocates(tmp_path: Path) -> None:
    """In a child, so its peak (VmHWM) is its own: opening and decoding the bomb must not
    allocate one of its 768 MB frames."""
    bomb = png_bomb(tmp_path / "bomb.mov")
    code = textwrap.dedent(f"""
        import json
        from mediaserve.adapters.web import framegen
        import av
        def hwm():
            with open("/proc/self/status") as status:
                return next(int(l.split()[1]) for l in status if l.startswith("VmHWM"))
        before = hwm()
        made = framegen.make_poster([{str(bomb)!r}], {str(tmp_path / "p.jpg")!r}, [0.5, 1.5])
        sprite = framegen.make_sprite([{str(bomb)!r}], {str(tmp_path / "s.jpg")!r},
                                      [0.5, 1.5], (160, 160), 2)
        print(json.dumps([made, sprite, (hwm() - before) * 1024]))
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, check=True)
    made, sprite, growth = json.loads(done.stdout.strip().splitlines()[-1])
    assert (made, sprite) == (False, False)
    assert growth < 100 * MiB, f"grew {growth / MiB:.0f} MiB"


def test_limit_memory_caps_the_worker_address_space() -> None:
    code = textwrap.dedent("""
        import resource
        from mediaserve.adapters.web import framegen
        framegen.limit_memory(256 * 1024 * 1024)
        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        try:
            block = bytearray(512 * 1024 * 1024)
            print("allocated", soft)
        except MemoryError:
            print("refused", soft)
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=True)
    assert done.stdout.split() == ["refused", str(256 * MiB)]


async def test_a_worker_that_dies_is_replaced() -> None:
    """A worker killed mid-job (the OOM killer, a crash in FFmpeg): the job fails, and the
    next job gets a fresh worker, with the memory cap."""
    pool = frames._Pool("test", 1)
    try:
        first = await pool.run(30, os.getpid)
        with pytest.raises(frames.WorkerDied):
            await pool.run(30, os._exit, 9)
        second = await pool.run(30, os.getpid)
        assert second != first
        assert address_limit(second) == WORKER_MEMORY_LIMIT
    finally:
        pool.kill()


async def test_a_job_over_its_time_costs_its_own_worker_only() -> None:
    """A hung decode is killed at its time limit; a job running beside it in the other
    worker finishes (the old pool could only be killed whole, failing its neighbour)."""
    pool = frames._Pool("test", 2)
    try:
        slow = asyncio.ensure_future(pool.run(0.5, time.sleep, 30))
        beside = asyncio.ensure_future(pool.run(30, time.sleep, 1.5))
        with pytest.raises(TimeoutError):
            await slow
        assert await beside is None  # it ran to its end, in the worker nobody killed
        assert await pool.run(30, os.getpid) > 0  # and the pool still works
    finally:
        pool.kill()


@pytest.fixture
def library(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    root = tmp_path / "lib"
    encode_clip(root, CLIP)
    monkeypatch.setenv("MEDIASERVE_DATA_DIR", str(tmp_path / "data"))
    index, _ = scan(root, None, workers=1)
    return {"root": root, "index": index}


async def test_an_index_that_reads_over_budget_starts_no_worker(
        library: dict[str, Any], aiohttp_client: Any) -> None:
    """An index written before the probe capped pixels records the bomb's 16000 x 16000:
    the poster is the placeholder and no worker process is started for it."""
    index = library["index"]
    vid, entry = next(iter(index.videos.items()))
    index.videos[vid] = dataclasses.replace(
        entry, facts=dataclasses.replace(entry.facts, width=16000, height=16000))
    client = await aiohttp_client(create_app(index, library["root"]))
    before = set(multiprocessing.active_children())
    poster = await client.get(f"/api/videos/{vid}/poster.jpg")
    assert (poster.status, poster.headers["X-Mediaserve-Placeholder"]) == (200, "1")
    for name in ("thumbnails.vtt", "thumbnails.jpg"):
        answer = await client.get(f"/api/videos/{vid}/{name}")
        assert answer.status == 404
        assert "16000x16000" in (await answer.json())["error"]
    assert set(multiprocessing.active_children()) == before


def refuse(_paths: Any, _dest: str, *_args: Any) -> bool:
    """A job as a worker runs it, refused (what an over-budget stream's job raises)."""
    raise framegen.Refused("16000x16000 is 256 MP, over the budget")


async def test_a_refusal_from_a_worker_is_logged_once_and_remembered(
        library: dict[str, Any], caplog: pytest.LogCaptureFixture) -> None:
    from mediaserve.adapters.server.site.safe_open import RootOpener

    entry = next(iter(library["index"].videos.values()))
    opener = RootOpener(library["root"])
    service = frames.FrameService(Path(os.environ["MEDIASERVE_DATA_DIR"]) / "cache", opener)
    try:
        target = service.poster_path(entry.id, "v1")
        for _ in range(2):
            made = await service.ensure("poster", entry.id, entry.path, target, refuse)
            assert made is None
        assert target.with_name(target.name + ".none").exists()
    finally:
        service.close()
        opener.close()
    refusals = [r for r in caplog.records if "refused" in r.getMessage()]
    assert len(refusals) == 1 and "over the budget" in refusals[0].getMessage()
    assert refusals[0].levelname == "WARNING" and refusals[0].exc_info is None


def journal_job(_paths: Any, dest: str, journal: str, meet: bool) -> bool:
    """A job that notes its start and end in ``journal``; with ``meet`` it waits (10 s at
    most) for the other job to start too, so jobs that may overlap surely do."""
    import time

    with open(journal, "a") as notes:
        notes.write(f"start {dest}\n")
    deadline = time.monotonic() + (10 if meet else 0.3)
    while time.monotonic() < deadline:
        if meet and Path(journal).read_text().count("start") == 2:
            break
        time.sleep(0.02)
    with open(journal, "a") as notes:
        notes.write(f"end {dest}\n")
    return False


async def test_big_or_unknown_pictures_are_decoded_one_at_a_time(
        library: dict[str, Any], tmp_path: Path) -> None:
    """A poster and a sprite run in two pools; when both are heavy (a big or unknown
    picture) the second starts only after the first ended, so two bombs never decode at
    once. Light ones still overlap."""
    import asyncio

    from mediaserve.adapters.server.site.safe_open import RootOpener

    entry = next(iter(library["index"].videos.values()))
    opener = RootOpener(library["root"])
    service = frames.FrameService(tmp_path / "cache", opener)
    try:
        for heavy in (True, False):
            journal = tmp_path / f"journal-{heavy}"
            await asyncio.gather(*(
                service.ensure(kind, entry.id, entry.path, tmp_path / f"{kind}-{heavy}.jpg",
                               journal_job, str(journal), not heavy, heavy=heavy)
                for kind in ("poster", "sprite")))
            events = [line.split()[0] for line in journal.read_text().splitlines()]
            expected = ["start", "end", "start", "end"] if heavy else ["start", "start",
                                                                       "end", "end"]
            assert events == expected, (heavy, events)
    finally:
        service.close()
        opener.close()
