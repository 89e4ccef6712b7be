"""docs/deploy/nginx-mediaserve.conf, for real: nginx (slice + proxy_cache) in front of a real
mediaserve. Ranges through the proxy are byte-identical, If-Range works through it, and a
repeated range is served from the cache."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from benchmarks.peers import start_mediaserve
from mediaserve.adapters.library.store import save_index
from tests.deploy.front import get, start_front
from tests.server.conftest import MIB, Lib, blob, make_library

pytestmark = pytest.mark.nginx


@pytest.fixture(scope="module")
def lib(tmp_path_factory: pytest.TempPathFactory) -> Lib:
    library = make_library(tmp_path_factory.mktemp("deploy") / "lib",
                           {"film.mp4": blob(3 * MIB + 777, seed=41)})
    save_index(library.root / ".mediaserve-index.toml", library.index)
    return library


@pytest.fixture(scope="module")
def proxy(lib: Lib, tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    with start_mediaserve(lib.root) as node, \
            start_front(tmp_path_factory.mktemp("nginx-front"),
                        [node.base.removeprefix("http://")]) as port:
        yield port


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
