"""A hostile subtitle file on a real server: converted off the event loop, once, linearly.

A 400 KB ``.srt`` holding one line of ``<font`` used to freeze every client for 17-31 s: the
conversion ran on the event loop with regular expressions quadratic in the line. Here the
conversion is *held* (a profile hook on the server's threads waits inside ``srt_to_vtt``
until the test lets it go), and while it is held another client's 12 MiB stream is read to
its end and an API request is answered: proof that the loop runs during a conversion, with
no clock involved. The same hook counts the calls each conversion makes: a file twice as
hostile costs at most twice the calls, and a second request is answered from the cache
(or with 304) without converting again.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

import pytest

from mediaserve.core.web.subtitles import srt_to_vtt
from tests.server.conftest import MIB, Lib, blob
from tests.server.rawhttp import read_body, read_head

CUE = "1\n00:00:01,000 --> 00:00:02,000\n"
HOSTILE = CUE + "<font" * 80_000  # ~400 KB, one line, no '>'
HOSTILE_TWICE = CUE + "<font" * 160_000
WAIT = 60  # seconds a held step may take before the test gives up (never reached when fine)


class ConversionGate:
    """Installed on threads started from now on (``threading.setprofile``): each call of
    ``srt_to_vtt`` is recorded, waits until :attr:`release` is set, and the calls it makes
    until it returns are counted."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        self.threads: list[int] = []
        self.calls: list[int] = []  # per conversion
        self._inside: FrameType | None = None
        self._code = srt_to_vtt.__code__

    def __call__(self, frame: FrameType, event: str, _arg: Any) -> None:
        if self._inside is not None:
            if event in ("call", "c_call"):
                self.calls[-1] += 1
            elif event == "return" and frame is self._inside:
                self._inside = None
            return
        if event == "call" and frame.f_code is self._code:
            self.threads.append(threading.get_ident())
            self.calls.append(0)
            self.entered.set()
            self.release.wait(WAIT)
            self._inside = frame


@pytest.fixture
def gate() -> Any:
    hook = ConversionGate()
    threading.setprofile(hook)
    yield hook
    threading.setprofile(None)
    hook.release.set()


@pytest.fixture
def hostile_lib(tmp_path: Path, library_maker: Callable[[Path, dict], Lib]) -> Lib:
    return library_maker(tmp_path / "lib", {
        "big.mp4": blob(12 * MIB, seed=4),
        "big.srt": HOSTILE.encode(),
        "other.mp4": blob(64 * 1024, seed=5),
        "other.srt": HOSTILE_TWICE.encode(),
    })


async def _subtitle(served: Any, lib: Lib, name: str,
                    headers: dict[str, str] | None = None) -> Any:
    conn = await served.connect()
    try:
        return await conn.request("GET", f"/api/videos/{lib.ids[name]}/subtitles/0.vtt",
                                  headers, timeout=WAIT)
    finally:
        await conn.close()


async def test_a_hostile_subtitle_is_converted_off_the_loop_while_a_stream_flows(
        serve: Any, hostile_lib: Lib, gate: ConversionGate) -> None:
    lib = hostile_lib
    assert lib.index.by_path()["big.mp4"].subtitles == ("big.srt",)
    served = await serve(lib)
    viewer = await served.connect(rcvbuf=16 * 1024)  # the server is held mid-body
    viewer.send("GET", lib.stream("big.mp4"))
    await viewer.writer.drain()
    stream = await asyncio.wait_for(read_head(viewer.reader), WAIT)
    assert stream.status == 200

    track = asyncio.ensure_future(_subtitle(served, lib, "big.mp4"))
    assert await asyncio.to_thread(gate.entered.wait, WAIT), (
        "srt_to_vtt never ran on a thread of its own (it ran on the event loop, if at all)")
    assert threading.get_ident() not in gate.threads
    # the conversion is held: the loop must still serve everyone else
    listing = await served.fetch("GET", f"/api/videos/{lib.ids['big.mp4']}")
    assert listing.status == 200
    await asyncio.wait_for(read_body(viewer.reader, stream, "GET"), WAIT)
    assert stream.complete and stream.body == lib.data["big.mp4"]  # 12 MiB > every buffer
    assert not track.done()
    gate.release.set()

    answer = await asyncio.wait_for(track, WAIT)
    assert answer.status == 200, answer.body
    assert answer.headers["Content-Type"] == "text/vtt; charset=utf-8"
    assert answer.body == srt_to_vtt(HOSTILE).encode()
    assert gate.calls[0] > 0


async def test_a_track_is_converted_once_and_revalidated_by_its_etag(
        serve: Any, hostile_lib: Lib, gate: ConversionGate) -> None:
    gate.release.set()
    lib = hostile_lib
    served = await serve(lib)
    first = await _subtitle(served, lib, "big.mp4")
    assert first.status == 200 and len(gate.calls) == 1
    etag, modified = first.headers["ETag"], first.headers["Last-Modified"]
    assert etag.startswith('"vtt') and first.headers["Cache-Control"] == "no-cache"

    again = await _subtitle(served, lib, "big.mp4")
    assert again.status == 200 and again.body == first.body and again.headers["ETag"] == etag
    not_modified = await _subtitle(served, lib, "big.mp4", {"If-None-Match": etag})
    assert not_modified.status == 304 and not_modified.body == b""
    assert not_modified.headers["ETag"] == etag
    since = await _subtitle(served, lib, "big.mp4", {"If-Modified-Since": modified})
    assert since.status == 304
    assert len(gate.calls) == 1, "the cached track was converted again"

    path = lib.path("big.srt")
    path.write_text(CUE + "changed\n")
    os.utime(path, ns=(1, 2))
    changed = await _subtitle(served, lib, "big.mp4", {"If-None-Match": etag})
    assert changed.status == 200 and changed.headers["ETag"] != etag
    assert changed.body == srt_to_vtt(CUE + "changed\n").encode()
    assert len(gate.calls) == 2


async def test_twice_the_hostile_input_costs_at_most_twice_the_calls(
        serve: Any, hostile_lib: Lib, gate: ConversionGate) -> None:
    gate.release.set()
    lib = hostile_lib
    served = await serve(lib)
    small = await _subtitle(served, lib, "big.mp4")
    large = await _subtitle(served, lib, "other.mp4")
    assert small.status == large.status == 200
    assert len(gate.calls) == 2
    assert gate.calls[1] / gate.calls[0] < 2.2, gate.calls


async def test_a_subtitle_that_is_not_a_regular_file_or_too_large_is_refused(
        serve: Any, hostile_lib: Lib, gate: ConversionGate) -> None:
    gate.release.set()
    lib = hostile_lib
    served = await serve(lib)
    path = lib.path("other.srt")
    path.unlink()
    os.mkfifo(path)  # would block a plain read() forever
    fifo = await _subtitle(served, lib, "other.mp4")
    assert fifo.status == 404 and b"not a regular file" in fifo.body
    path.unlink()
    with open(path, "wb") as handle:
        handle.truncate(8 * MIB + 1)
    big = await _subtitle(served, lib, "other.mp4")
    assert big.status == 413 and b"too large" in big.body
    assert gate.calls == []
