"""docs/deploy/nginx-mediaserve.conf, for real: nginx (slice + proxy_cache) in front of a real
mediaserve. Ranges through the proxy are byte-identical, If-Range works through it, and a
repeated range is served from the cache."""

from __future__ import annotations

import http.client
import os
import pwd
from collections.abc import Iterator
from pathlib import Path

import pytest

from benchmarks.peers import LOOPBACK, free_port, nginx_binary, start_mediaserve, start_peer
from mediaserve.adapters.library.store import save_index
from tests.server.conftest import MIB, Lib, blob, make_library

CONF = Path(__file__).resolve().parents[2] / "docs" / "deploy" / "nginx-mediaserve.conf"

pytestmark = pytest.mark.nginx


def render(port: int, cache: Path, nodes: list[str]) -> str:
    """The deploy config with its placeholders filled, as its header says to."""
    text = CONF.read_text(encoding="utf-8")
    for placeholder in ("@LISTEN@", "@CACHE_DIR@", "@NODES@"):
        assert placeholder in text, placeholder
    servers = "\n    ".join(f"server {node};" for node in nodes)
    return (text.replace("@LISTEN@", f"{LOOPBACK}:{port}").replace("@CACHE_DIR@", str(cache))
            .replace("@NODES@", servers))


@pytest.fixture(scope="module")
def lib(tmp_path_factory: pytest.TempPathFactory) -> Lib:
    library = make_library(tmp_path_factory.mktemp("deploy") / "lib",
                           {"film.mp4": blob(3 * MIB + 777, seed=41)})
    save_index(library.root / ".mediaserve-index.toml", library.index)
    return library


@pytest.fixture(scope="module")
def proxy(lib: Lib, tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    nginx = nginx_binary()
    if nginx is None:
        pytest.skip("nginx is not installed")
    work = tmp_path_factory.mktemp("nginx-front")
    (work / "temp").mkdir()
    with start_mediaserve(lib.root) as node:
        port = free_port()
        (work / "mediaserve.conf").write_text(
            render(port, work / "cache", [node.base.removeprefix("http://")]))
        user = f"user {pwd.getpwuid(os.geteuid()).pw_name};\n" if os.geteuid() == 0 else ""
        temps = "".join(f"    {kind}_temp_path {work / 'temp'};\n"
                        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        (work / "nginx.conf").write_text(
            f"daemon off;\n{user}worker_processes 1;\npid {work}/nginx.pid;\n"
            f"error_log {work}/error.log warn;\nevents {{ worker_connections 256; }}\n"
            f"http {{\n    access_log off;\n{temps}    include {work}/mediaserve.conf;\n}}\n")
        with start_peer([str(nginx), "-c", str(work / "nginx.conf"), "-p", str(work)], port):
            yield port


def get(port: int, path: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection(LOOPBACK, port, timeout=10)
    try:
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


def test_ranges_through_the_proxy_are_byte_identical_and_cached(proxy: int, lib: Lib) -> None:
    data = lib.data["film.mp4"]
    url = lib.stream("film.mp4")
    # a range in a slice nobody fetched yet is a MISS, the same range again a HIT
    fresh = {"Range": f"bytes={2 * MIB + 100}-{2 * MIB + 200}"}
    assert get(proxy, url, fresh)[1]["x-cache-status"] == "MISS"
    status, headers, body = get(proxy, url, fresh)
    assert headers["x-cache-status"] == "HIT"
    assert (status, body) == (206, data[2 * MIB + 100:2 * MIB + 201])

    for first, last in ((0, 99), (MIB - 10, MIB + 10), (123_456, 2 * MIB + 5), (len(data) - 50,
                                                                               len(data) - 1)):
        status, headers, body = get(proxy, url, {"Range": f"bytes={first}-{last}"})
        assert status == 206, headers
        assert headers["content-range"] == f"bytes {first}-{last}/{len(data)}"
        assert body == data[first:last + 1]
    status, headers, body = get(proxy, url, {"Range": "bytes=-1000"})
    assert (status, body) == (206, data[-1000:])
    status, headers, body = get(proxy, url, {})
    assert (status, body) == (200, data)



def test_if_range_works_through_the_proxy(proxy: int, lib: Lib) -> None:
    data = lib.data["film.mp4"]
    url = lib.stream("film.mp4")
    status, headers, _body = get(proxy, url, {"Range": "bytes=0-0"})
    etag = headers["etag"]
    assert etag.startswith('"')  # mediaserve's strong ETag, passed through
    status, headers, body = get(proxy, url, {"Range": "bytes=10-19", "If-Range": etag})
    assert (status, body) == (206, data[10:20])
    status, headers, body = get(proxy, url, {"Range": "bytes=10-19", "If-Range": '"stale"'})
    assert (status, body) == (200, data)  # the validator no longer matches: the whole file
