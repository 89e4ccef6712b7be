"""W5: many concurrent slow streams (players on thin links), measured from the server's side.

Each client opens a connection, asks for ``bytes=N-`` of a big file at a random offset and
reads it at a fixed rate for a bounded time, then hangs up. The server's socket buffers fill,
so every stream sits in the "wait until writable" path most of the time: what matters is that
all streams are served, that a new one still gets its first byte quickly, that memory per
stream stays constant, and that every descriptor is given back afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import resource
import statistics
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from benchmarks.loadgen import cpu_seconds, fd_count, rss_bytes


@dataclass
class SlowResult:
    streams: int = 0
    served: int = 0  # got a 206 and at least ``rate`` bytes
    bytes_read: int = 0
    ttfb_ms: list[float] = field(default_factory=list)
    rss_idle: int = 0
    rss_peak: int = 0
    rss_after: int = 0
    fds_before: int = 0
    fds_after: int = 0
    cpu_s: float = 0.0

    def ttfb(self, q: float) -> float:
        if not self.ttfb_ms:
            return float("nan")
        ordered = sorted(self.ttfb_ms)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    @property
    def ttfb_p50(self) -> float:
        return statistics.median(self.ttfb_ms) if self.ttfb_ms else float("nan")


async def _one(host: str, port: int, path: str, first: int, rate: int, seconds: float,
               result: SlowResult) -> None:
    request = (f"GET {path} HTTP/1.1\r\nHost: {host}\r\nRange: bytes={first}-\r\n"
               "User-Agent: slow-reader\r\n\r\n").encode()
    try:
        reader, writer = await asyncio.open_connection(host, port, limit=1 << 16)
    except OSError:
        return
    try:
        started = time.perf_counter()
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        result.ttfb_ms.append((time.perf_counter() - started) * 1000)
        ok = head.startswith(b"HTTP/1.1 206")
        got = 0
        chunk = rate // 8  # eight reads a second
        deadline = started + seconds
        next_read = time.perf_counter()
        while time.perf_counter() < deadline:
            data = await reader.read(chunk)
            if not data:
                break
            got += len(data)
            next_read += len(data) / rate
            delay = next_read - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
        result.bytes_read += got
        if ok and got >= min(rate, chunk):
            result.served += 1
    except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
        pass
    finally:
        writer.close()


async def _sample_rss(pid: int, result: SlowResult, stop: asyncio.Event) -> None:
    while not stop.is_set():
        result.rss_peak = max(result.rss_peak, rss_bytes(pid))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.1)


async def _run(url: str, pid: int, size: int, streams: int, rate: int, seconds: float,
               ramp: float) -> SlowResult:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    result = SlowResult(streams=streams)
    await asyncio.sleep(0.5)
    result.rss_idle = rss_bytes(pid)
    result.fds_before = fd_count(pid)
    result.rss_peak = result.rss_idle
    stop = asyncio.Event()
    sampler = asyncio.create_task(_sample_rss(pid, result, stop))
    rng = random.Random(5)
    cpu_before = cpu_seconds(pid)
    tasks = []
    for _i in range(streams):
        first = rng.randrange(0, max(1, size - rate * int(seconds + 1)))
        tasks.append(asyncio.create_task(
            _one(host, port, parts.path, first, rate, seconds, result)))
        if ramp:
            await asyncio.sleep(ramp / streams)
    await asyncio.gather(*tasks)
    result.cpu_s = cpu_seconds(pid) - cpu_before
    # the server notices the hang-ups within a loop iteration or two; give it a moment
    for _ in range(30):
        await asyncio.sleep(0.1)
        if fd_count(pid) <= result.fds_before:
            break
    stop.set()
    await sampler
    result.rss_after = rss_bytes(pid)
    result.fds_after = fd_count(pid)
    return result


def slow_readers(url: str, pid: int, size: int, *, streams: int = 1000, rate: int = 64 * 1024,
                 seconds: float = 10.0, ramp: float = 1.0) -> SlowResult:
    """Run ``streams`` slow readers against ``url`` (a file of ``size`` bytes served by the
    process tree ``pid``); returns what the server used and what the clients saw."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < streams + 100:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, streams * 2 + 100), hard))
    return asyncio.run(_run(url, pid, size, streams, rate, seconds, ramp))
