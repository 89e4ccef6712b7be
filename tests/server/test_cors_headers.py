"""CORS on the live server: none by default; with an allow-list, echo + credentials +
Vary: Origin + exposed range headers on API answers, and preflights for allowed origins."""

from __future__ import annotations

import pytest

from tests.server.conftest import Lib

ALLOWED = "https://player.example"
OTHER = "https://evil.example"
CORS_NAMES = ("Access-Control-Allow-Origin", "Access-Control-Allow-Credentials",
              "Access-Control-Expose-Headers", "Access-Control-Allow-Methods",
              "Access-Control-Allow-Headers", "Access-Control-Max-Age")


def _cors(headers) -> dict[str, str]:
    return {name: headers[name] for name in CORS_NAMES if name in headers}


async def test_no_cors_headers_by_default(serve, byte_lib: Lib) -> None:
    served = await serve(byte_lib)
    for method, path, headers in (
            ("GET", byte_lib.stream("small.mp4"), {"Origin": ALLOWED}),
            ("GET", byte_lib.stream("small.mp4"), {"Origin": ALLOWED, "Range": "bytes=0-9"}),
            ("HEAD", byte_lib.stream("small.mp4"), {"Origin": ALLOWED}),
            ("GET", "/api/videos", {"Origin": ALLOWED}),
            ("GET", "/api/videos/0123456789ab/stream", {"Origin": ALLOWED})):
        response = await served.fetch(method, path, headers)
        assert _cors(response.headers) == {}, (method, path)
        assert "Origin" not in response.headers.getall("Vary", [])
    preflight = await served.fetch("OPTIONS", byte_lib.stream("small.mp4"), {
        "Origin": ALLOWED, "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "range"})
    assert preflight.status == 403
    assert _cors(preflight.headers) == {}


def _assert_allowed(headers, origin: str = ALLOWED) -> None:
    assert headers["Access-Control-Allow-Origin"] == origin
    assert headers["Access-Control-Allow-Credentials"] == "true"
    assert headers.getall("Vary") == ["Origin"]
    exposed = {h.strip().lower() for h in headers["Access-Control-Expose-Headers"].split(",")}
    assert {"content-range", "content-length", "accept-ranges", "etag"} <= exposed


@pytest.mark.parametrize(("method", "headers", "status"), [
    ("GET", {}, 200),
    ("GET", {"Range": "bytes=0-99"}, 206),
    ("GET", {"Range": "bytes=0-9,20-29"}, 206),
    ("HEAD", {}, 200),
    ("GET", {"Range": "bytes=999999999-"}, 416),
])
async def test_allowed_origin_gets_cors_on_streams(serve, byte_lib: Lib, method: str,
                                                   headers: dict[str, str],
                                                   status: int) -> None:
    served = await serve(byte_lib, cors_origins=(ALLOWED, "http://localhost:3000"))
    response = await served.fetch(method, byte_lib.stream("small.mp4"),
                                  {"Origin": ALLOWED, **headers})
    assert response.status == status
    _assert_allowed(response.headers)


async def test_allowed_origin_gets_cors_on_api_answers_and_errors(serve,
                                                                  byte_lib: Lib) -> None:
    served = await serve(byte_lib, cors_origins=(ALLOWED,))
    etag = (await served.fetch("HEAD", byte_lib.stream("small.mp4"))).headers["ETag"]
    for path, headers, status in (
            ("/api/videos", {}, 200),
            (f"/api/videos/{byte_lib.ids['small.mp4']}", {}, 200),
            ("/api/videos/0123456789ab/stream", {}, 404),  # the player may read the error
            (byte_lib.stream("small.mp4"), {"If-None-Match": etag}, 304)):
        response = await served.fetch("GET", path, {"Origin": ALLOWED, **headers})
        assert response.status == status, path
        _assert_allowed(response.headers)


async def test_other_origins_get_no_allow_but_vary(serve, byte_lib: Lib) -> None:
    served = await serve(byte_lib, cors_origins=(ALLOWED,))
    for headers in ({"Origin": OTHER}, {"Origin": "null"}, {},
                    {"Origin": ALLOWED + ".evil.example"}, {"Origin": "http://player.example"}):
        for path in (byte_lib.stream("small.mp4"), "/api/videos"):
            response = await served.fetch("GET", path, headers)
            assert response.status == 200
            assert "Access-Control-Allow-Origin" not in response.headers, headers
            assert "Access-Control-Allow-Credentials" not in response.headers
            # a shared cache must not hand this answer to the allowed origin, or vice versa
            assert response.headers.getall("Vary") == ["Origin"]


async def test_preflight_answered_for_the_allowed_origin(serve, byte_lib: Lib) -> None:
    served = await serve(byte_lib, cors_origins=(ALLOWED,))
    for path in (byte_lib.stream("small.mp4"), "/api/videos"):
        response = await served.fetch("OPTIONS", path, {
            "Origin": ALLOWED, "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "range, if-range"})
        assert response.status in (200, 204)
        assert response.body == b""
        assert response.headers["Access-Control-Allow-Origin"] == ALLOWED
        assert response.headers["Access-Control-Allow-Credentials"] == "true"
        assert "Origin" in response.headers["Vary"]
        methods = {m.strip() for m in response.headers["Access-Control-Allow-Methods"].split(",")}
        assert {"GET", "HEAD"} <= methods
        allowed_headers = {h.strip().lower()
                           for h in response.headers["Access-Control-Allow-Headers"].split(",")}
        assert {"range", "if-range"} <= allowed_headers


@pytest.mark.parametrize("headers", [
    {"Origin": OTHER, "Access-Control-Request-Method": "GET"},
    {"Origin": ALLOWED, "Access-Control-Request-Method": "DELETE"},
    {"Origin": ALLOWED, "Access-Control-Request-Method": "POST"},
    {"Access-Control-Request-Method": "GET"},
])
async def test_preflight_refused_otherwise(serve, byte_lib: Lib, headers: dict) -> None:
    served = await serve(byte_lib, cors_origins=(ALLOWED,))
    response = await served.fetch("OPTIONS", byte_lib.stream("small.mp4"), headers)
    assert response.status == 403  # a non-2xx preflight fails in the browser
    assert "Access-Control-Allow-Methods" not in response.headers
    if headers.get("Origin") != ALLOWED:
        assert "Access-Control-Allow-Origin" not in response.headers
