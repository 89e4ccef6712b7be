"""Validators, conditional requests and resumption against a live server (both body paths).

The evaluator's RFC corner cases are unit tested in tests/core; here the point is that the
live server feeds it the real file's validators, re-reads them on every request (a replaced
file changes its ETag at once), and that real clients (curl) resume byte-identically.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import time
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path

import pytest

from tests.server.conftest import MIB, Lib, blob, sha256
from tests.server.rawhttp import content_range

CURL = shutil.which("curl") or "/usr/bin/curl"
needs_curl = pytest.mark.skipif(not os.path.exists(CURL), reason="curl is not installed")


async def test_if_none_match_gives_304_and_keeps_the_connection_usable(serve,
                                                                       byte_lib: Lib) -> None:
    served = await serve(byte_lib)
    path = byte_lib.stream("small.mp4")
    conn = await served.connect()
    first = await conn.request("GET", path)
    etag, last_modified = first.headers["ETag"], first.headers["Last-Modified"]
    for value in (etag, f'"other", W/{etag}', "*"):
        response = await conn.request("GET", path, {"If-None-Match": value})
        assert response.status == 304, value
        assert response.headers["ETag"] == etag
        assert response.headers["Last-Modified"] == last_modified
        assert "Content-Range" not in response.headers
        assert response.headers.get("Content-Length", "0") == "0"
    head = await conn.request("HEAD", path, {"If-None-Match": etag})
    assert head.status == 304
    changed = await conn.request("GET", path, {"If-None-Match": '"not-it"'})
    assert changed.status == 200
    assert changed.body == byte_lib.data["small.mp4"]  # still in sync after the 304s


async def test_if_modified_since(serve, byte_lib: Lib) -> None:
    served = await serve(byte_lib)
    path = byte_lib.stream("small.mp4")
    first = await served.fetch("GET", path)
    last_modified = first.headers["Last-Modified"]
    assert format_datetime(parsedate_to_datetime(last_modified), usegmt=True) == last_modified
    stamp = parsedate_to_datetime(last_modified).timestamp()
    assert stamp == os.stat(byte_lib.path("small.mp4")).st_mtime_ns // 1_000_000_000
    same = await served.fetch("GET", path, {"If-Modified-Since": last_modified})
    assert same.status == 304
    earlier = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(stamp - 1))
    older = await served.fetch("GET", path, {"If-Modified-Since": earlier})
    assert older.status == 200
    # §13.1.3: If-Modified-Since is ignored when If-None-Match is present
    both = await served.fetch("GET", path, {"If-Modified-Since": last_modified,
                                            "If-None-Match": '"not-it"'})
    assert both.status == 200


async def test_if_match_and_if_unmodified_since(serve, byte_lib: Lib) -> None:
    served = await serve(byte_lib)
    path = byte_lib.stream("blob.mp4")
    data = byte_lib.data["blob.mp4"]
    etag = (await served.fetch("HEAD", path)).headers["ETag"]
    failed = await served.fetch("GET", path, {"If-Match": '"stale"'})
    assert failed.status == 412
    assert failed.headers["Content-Length"] == "0"
    assert failed.body == b""
    weak = await served.fetch("GET", path, {"If-Match": f"W/{etag}"})
    assert weak.status == 412  # If-Match uses the strong comparison
    ok = await served.fetch("GET", path, {"If-Match": etag, "Range": "bytes=5-9"})
    assert ok.status == 206
    assert ok.body == data[5:10]
    past = await served.fetch("GET", path,
                              {"If-Unmodified-Since": "Sun, 06 Nov 1994 08:49:37 GMT"})
    assert past.status == 412
    future = await served.fetch("GET", path,
                                {"If-Unmodified-Since": "Fri, 01 Jan 2100 00:00:00 GMT"})
    assert future.status == 200


async def test_if_range(serve, byte_lib: Lib) -> None:
    served = await serve(byte_lib)
    path = byte_lib.stream("blob.mp4")
    data = byte_lib.data["blob.mp4"]
    head = await served.fetch("HEAD", path)
    etag, last_modified = head.headers["ETag"], head.headers["Last-Modified"]
    current = await served.fetch("GET", path, {"Range": "bytes=100-199", "If-Range": etag})
    assert current.status == 206
    assert current.body == data[100:200]
    by_date = await served.fetch("GET", path, {"Range": "bytes=100-199",
                                               "If-Range": last_modified})
    assert by_date.status == 206
    for stale in ('"0-0"', f"W/{etag}", "Sun, 06 Nov 1994 08:49:37 GMT"):
        response = await served.fetch("GET", path, {"Range": "bytes=100-199",
                                                    "If-Range": stale})
        assert response.status == 200, stale
        assert response.body == data


def _replace(path: Path, data: bytes) -> None:
    """Swap the file atomically (new inode), as an editor or a re-encode does."""
    old_mtime = os.stat(path).st_mtime_ns
    tmp = path.with_name(".tmp-" + path.name)
    tmp.write_bytes(data)
    new_mtime = max(time.time_ns(), old_mtime + 1_000_000_000)
    os.utime(tmp, ns=(new_mtime, new_mtime))
    os.replace(tmp, path)


@pytest.mark.parametrize("same_size", [False, True])
async def test_file_replaced_between_two_requests(serve, byte_lib: Lib,
                                                  same_size: bool) -> None:
    served = await serve(byte_lib)
    path = byte_lib.stream("blob.mp4")
    old = byte_lib.data["blob.mp4"]
    conn = await served.connect()
    first = await conn.request("GET", path, {"Range": "bytes=0-65535"})
    assert first.status == 206
    old_etag = first.headers["ETag"]

    new = blob(len(old), seed=99) if same_size else blob(len(old) // 2 + 7, seed=98)
    _replace(byte_lib.path("blob.mp4"), new)

    resumed = await conn.request("GET", path, {"Range": "bytes=65536-", "If-Range": old_etag})
    assert resumed.status == 200, "a stale If-Range must get the whole new file"
    assert resumed.headers["ETag"] != old_etag
    assert resumed.body == new
    assert resumed.headers["Content-Length"] == str(len(new))
    revalidated = await conn.request("GET", path, {"If-None-Match": old_etag})
    assert revalidated.status == 200
    assert revalidated.body == new
    guarded = await conn.request("GET", path, {"If-Match": old_etag})
    assert guarded.status == 412
    fresh = await conn.request("GET", path, {"Range": "bytes=-10",
                                             "If-Range": resumed.headers["ETag"]})
    assert fresh.status == 206
    assert fresh.body == new[-10:]
    assert content_range(fresh.headers["Content-Range"])[2] == len(new)


async def test_etag_is_stable_while_the_file_is_unchanged(serve, byte_lib: Lib) -> None:
    served = await serve(byte_lib)
    path = byte_lib.stream("blob.mp4")
    etags = {(await served.fetch(m, path, h)).headers["ETag"]
             for m, h in [("GET", {}), ("HEAD", {}), ("GET", {"Range": "bytes=0-0"}),
                          ("GET", {"Range": "bytes=0-0,5-5"})]}
    assert len(etags) == 1
    os.utime(byte_lib.path("blob.mp4"))  # touched: same bytes, new mtime, new version
    touched = (await served.fetch("HEAD", path)).headers["ETag"]
    assert touched not in etags


CAP = 300_000


async def test_open_ended_cap_on_answers_a_shorter_truthful_range(serve,
                                                                  byte_lib: Lib) -> None:
    served = await serve(byte_lib, open_ended_cap=CAP)
    path = byte_lib.stream("blob.mp4")
    data = byte_lib.data["blob.mp4"]
    size = len(data)
    conn = await served.connect()
    pieces = []
    offset = 0
    requests = 0
    while offset < size:  # what a media client does: keep asking for "the rest"
        response = await conn.request("GET", path, {"Range": f"bytes={offset}-"})
        requests += 1
        assert response.status == 206
        first, last, total = content_range(response.headers["Content-Range"])
        assert (first, total) == (offset, size)
        assert last - first + 1 == min(CAP, size - offset)
        assert response.headers["Content-Length"] == str(last - first + 1)
        assert response.body == data[first : last + 1]
        pieces.append(response.body)
        offset = last + 1
    assert requests == -(-size // CAP)
    assert b"".join(pieces) == data
    # the cap never touches closed ranges, suffixes or a plain GET
    closed = await conn.request("GET", path, {"Range": f"bytes=0-{CAP * 2}"})
    assert content_range(closed.headers["Content-Range"]) == (0, CAP * 2, size)
    suffix = await conn.request("GET", path, {"Range": f"bytes=-{CAP * 2}"})
    assert len(suffix.body) == CAP * 2
    whole = await conn.request("GET", path)
    assert whole.status == 200
    assert whole.body == data


async def test_open_ended_cap_off_answers_the_whole_rest(serve, byte_lib: Lib) -> None:
    served = await serve(byte_lib)  # default: off
    data = byte_lib.data["blob.mp4"]
    response = await served.fetch("GET", byte_lib.stream("blob.mp4"), {"Range": "bytes=12345-"})
    assert content_range(response.headers["Content-Range"]) == (12345, len(data) - 1, len(data))
    assert response.body == data[12345:]


async def _curl(*args: str, timeout: float = 20) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        CURL, "--silent", "--show-error", "--noproxy", "*", "--max-time", str(timeout), *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout)
    return process.returncode or 0, (stdout + stderr).decode(errors="replace")


@needs_curl
async def test_curl_resumes_a_partial_download_byte_identically(serve, byte_lib: Lib,
                                                                tmp_path: Path) -> None:
    served = await serve(byte_lib)
    url = served.url(byte_lib.stream("blob.mp4"))
    data = byte_lib.data["blob.mp4"]
    target = tmp_path / "download.mp4"
    code, output = await _curl("-r", "0-777776", "-o", str(target), url)
    assert code == 0, output
    assert target.stat().st_size == 777777
    code, output = await _curl("-C", "-", "-o", str(target), "-w", "%{http_code}", url)
    assert code == 0, output
    assert output.strip() == "206"
    assert sha256(target.read_bytes()) == sha256(data)


@needs_curl
async def test_curl_resumes_after_being_killed_mid_download(serve, big_lib: Lib,
                                                            tmp_path: Path) -> None:
    served = await serve(big_lib)
    url = served.url(big_lib.stream("big.mp4"))
    data = big_lib.data["big.mp4"]
    target = tmp_path / "download.mp4"
    process = await asyncio.create_subprocess_exec(
        CURL, "--silent", "--noproxy", "*", "--limit-rate", "4M", "-o", str(target), url)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while loop.time() < deadline and (not target.exists() or target.stat().st_size < MIB):
        await asyncio.sleep(0.02)
    process.kill()
    await process.wait()
    partial = target.stat().st_size
    assert MIB <= partial < len(data), "curl should have been killed mid-download"
    assert target.read_bytes() == data[:partial]
    code, output = await _curl("-C", "-", "-o", str(target), "-w", "%{http_code}", url)
    assert code == 0, output
    assert output.strip() == "206"
    assert sha256(target.read_bytes()) == sha256(data)
