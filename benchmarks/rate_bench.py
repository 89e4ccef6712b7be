"""A profile's bandwidth limit, measured: the rate a paced stream really gets.

For each limit, a real ``mediaserve serve`` (a profile with that ``bandwidth_limit`` in a
fresh state store) streams a file to a client that reads as fast as it can; the rate is taken
after the first burst (``core/http/pacing.py``): (bytes after the burst) / (time after the
burst). The issue's target: within 10 % of the limit.

    python -m benchmarks.rate_bench [--limits 262144,1048576,4194304] [--seconds 4]
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

from benchmarks.peers import start_mediaserve, stream_url
from mediaserve.adapters.profiles.store import StateStore
from mediaserve.core.http.pacing import burst_for
from mediaserve.core.profiles.cookie import COOKIE_NAME, sign


def _measure(base: str, path: str, cookie: str, want: int, burst: int) -> float:
    """Bytes per second after the burst, reading the first ``want`` bytes as fast as
    possible (a closed range)."""
    host = urlsplit(base)
    with socket.create_connection((host.hostname, host.port), timeout=60) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {host.netloc}\r\nCookie: {COOKIE_NAME}="
                     f"{cookie}\r\nRange: bytes=0-{want - 1}\r\nConnection: close\r\n\r\n"
                     .encode())
        data = b""
        while b"\r\n\r\n" not in data:
            data += sock.recv(65536)
        got = len(data.split(b"\r\n\r\n", 1)[1])
        burst_at = time.monotonic() if got >= burst else None
        while got < want:
            chunk = sock.recv(1 << 20)
            if not chunk:
                break
            got += len(chunk)
            if burst_at is None and got >= burst:
                burst_at = time.monotonic()
        end = time.monotonic()
    assert burst_at is not None and got == want, (got, want)
    return (want - burst) / (end - burst_at)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limits", default="262144,1048576,4194304")
    parser.add_argument("--seconds", type=float, default=4.0, help="paced time per limit")
    args = parser.parse_args(argv)
    limits = [int(value) for value in args.limits.split(",")]
    rows = []
    with tempfile.TemporaryDirectory(prefix="mediaserve-rate-") as tmp:
        work = Path(tmp)
        media = work / "media"
        media.mkdir()
        size = max(burst_for(limit) + int(limit * args.seconds) for limit in limits)
        (media / "film.mp4").write_bytes(os.urandom(size))
        db = work / "state.db"
        store = StateStore.open(db)
        cookies = {}
        for limit in limits:
            profile = store.create(f"limit {limit}")
            store.set_preferences(profile.id, {"bandwidth_limit": limit})
            cookies[limit] = sign(store.secret, profile.id, None)
        store.close()
        with start_mediaserve(media, "--state-db", str(db)) as peer:
            path = urlsplit(stream_url(peer.base, "film.mp4")).path
            time.sleep(6)  # the server reads the limits every 5 s
            for limit in limits:
                burst = burst_for(limit)
                want = burst + int(limit * args.seconds)
                rows.append((limit, _measure(peer.base, path, cookies[limit], want, burst)))
    print("| limit (bytes/s) | measured after the burst | ratio |")
    print("| ---: | ---: | ---: |")
    for limit, measured in rows:
        print(f"| {limit:,} | {measured:,.0f} | {measured / limit:.3f} |")
    return 0 if all(abs(m / lim - 1) <= 0.10 for lim, m in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
