"""A phone's portrait video (stored landscape, turned by its container's rotation) is a
portrait card: the listing and the video's document give the size as shown (the stored one
as ``coded_*``), and its poster and seek-preview tiles are portrait and upright. Clips are
made here with PyAV: MP4 with a tkhd matrix, Matroska with a Projection."""

from __future__ import annotations

import io
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import pytest

from mediaserve.adapters.library.scanner import scan
from mediaserve.adapters.server import create_app

WIDTH, HEIGHT = 640, 360  # as stored; shown as 360 x 640 once turned a quarter


def phone_clip(path: Path, clockwise: int) -> Path:
    """3 s of 640x360 frames, the stored top-left quadrant white and the rest black, with a
    display rotation of ``clockwise`` degrees (FFmpeg counts counter-clockwise)."""
    luma = bytearray(WIDTH * HEIGHT)
    for y in range(HEIGHT // 2):
        luma[y * WIDTH:y * WIDTH + WIDTH // 2] = b"\xeb" * (WIDTH // 2)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        stream.options = {"preset": "ultrafast", "g": "5"}
        stream.set_display_rotation((-clockwise) % 360)
        for index in range(30):
            frame = av.VideoFrame(WIDTH, HEIGHT, "yuv420p")
            frame.planes[0].update(bytes(luma))
            for plane in frame.planes[1:]:
                plane.update(b"\x80" * plane.buffer_size)
            frame.pts, frame.time_base = index, Fraction(1, 10)
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


def decoded(data: bytes) -> tuple[int, int, Any]:
    assert data[:2] == b"\xff\xd8", data[:16]
    with av.open(io.BytesIO(data)) as container:
        frame = next(container.decode(video=0))
        return frame.width, frame.height, frame.planes[0]


def quadrant_means(plane: Any, x0: int, y0: int, width: int, height: int) -> dict[str, float]:
    """The mean luma of each quadrant of the ``width`` x ``height`` box at (x0, y0)."""
    data, stride = bytes(plane), plane.line_size
    means = {}
    for name, (qx, qy) in {"top-left": (0, 0), "top-right": (1, 0), "bottom-left": (0, 1),
                           "bottom-right": (1, 1)}.items():
        total = count = 0
        for y in range(y0 + qy * height // 2 + 2, y0 + (qy + 1) * height // 2 - 2):
            row = data[y * stride:(y + 1) * stride]
            for x in range(x0 + qx * width // 2 + 2, x0 + (qx + 1) * width // 2 - 2):
                total, count = total + row[x], count + 1
        means[name] = total / count
    return means


def bright(means: dict[str, float]) -> str:
    """The one quadrant that is white (the others black)."""
    lit = [name for name, mean in means.items() if mean > 128]
    assert len(lit) == 1 and all(m < 64 for n, m in means.items() if n != lit[0]), means
    return lit[0]


#: where the stored top-left quadrant shows after each clockwise turn
WHERE = {0: "top-left", 90: "top-right", 180: "bottom-right", 270: "bottom-left"}


@pytest.fixture
def library(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    root = tmp_path / "lib"
    root.mkdir()
    for turn in WHERE:
        phone_clip(root / f"phone-{turn}.mp4", turn)
    phone_clip(root / "phone-90.mkv", 90)
    phone_clip(root / "Vlog S01E01.mp4", 90)
    monkeypatch.setenv("MEDIASERVE_DATA_DIR", str(tmp_path / "data"))
    index, _ = scan(root, None, workers=1)
    return {"root": root, "index": index,
            "ids": {entry.path: entry.id for entry in index.videos.values()}}


@pytest.fixture
async def client(library: dict[str, Any], aiohttp_client: Any) -> Any:
    return await aiohttp_client(create_app(library["index"], library["root"]))


async def test_cards_and_the_video_document_give_the_size_as_shown(
        client: Any, library: dict[str, Any]) -> None:
    cards = await (await client.get("/api/videos?view=cards")).json()
    fields = cards["fields"]
    shown = {row[fields.index("name")]: (row[fields.index("width")], row[fields.index("height")])
             for row in cards["rows"]}
    assert shown == {"phone-0.mp4": (640, 360), "phone-90.mp4": (360, 640),
                     "phone-180.mp4": (640, 360), "phone-270.mp4": (360, 640),
                     "phone-90.mkv": (360, 640), "Vlog S01E01.mp4": (360, 640)}
    doc = await (await client.get(f"/api/videos/{library['ids']['phone-90.mp4']}")).json()
    assert (doc["width"], doc["height"], doc["coded_width"], doc["coded_height"],
            doc["rotation"]) == (360, 640, 640, 360, 90)
    listing = await (await client.get("/api/videos")).json()
    assert {(v["name"], v["width"], v["height"]) for v in listing["videos"]} >= {
        ("phone-270.mp4", 360, 640), ("phone-0.mp4", 640, 360)}
    show = (await (await client.get("/api/shows")).json())["shows"][0]
    episode = (await (await client.get(f"/api/shows/{show['id']}")).json())[
        "seasons"][0]["episodes"][0]
    assert (episode["width"], episode["height"]) == (360, 640)
    assert episode["poster_url"].endswith("r90") and show["poster_url"].endswith("r90")


@pytest.mark.parametrize("name", ["phone-0.mp4", "phone-90.mp4", "phone-180.mp4",
                                  "phone-270.mp4", "phone-90.mkv"])
async def test_the_poster_is_upright(client: Any, library: dict[str, Any], name: str) -> None:
    turn = int(name.split("-")[1].split(".")[0])
    doc = await (await client.get(f"/api/videos/{library['ids'][name]}")).json()
    if turn:
        assert doc["poster_url"].endswith(f"r{turn}")  # not a poster cached before
    reply = await client.get(doc["poster_url"])
    assert reply.status == 200 and "X-Mediaserve-Placeholder" not in reply.headers
    width, height, luma = decoded(await reply.read())
    assert (width, height) == ((270, 480) if turn in (90, 270) else (480, 270))
    assert bright(quadrant_means(luma, 0, 0, width, height)) == WHERE[turn]


@pytest.mark.parametrize("name", ["phone-90.mp4", "phone-270.mp4", "phone-180.mp4"])
async def test_seek_preview_tiles_are_upright(client: Any, library: dict[str, Any],
                                              name: str) -> None:
    turn = int(name.split("-")[1].split(".")[0])
    vid = library["ids"][name]
    text = await (await client.get(f"/api/videos/{vid}/thumbnails.vtt")).text()
    first = text.split("\n")[3]
    url, xywh = first.split("#xywh=")
    x, y, tile_w, tile_h = map(int, xywh.split(","))
    assert (x, y) == (0, 0)
    assert (tile_w, tile_h) == ((90, 160) if turn in (90, 270) else (160, 90))
    assert url.endswith(f"r{turn}")
    sprite = await client.get(url)
    assert sprite.status == 200
    width, height, luma = decoded(await sprite.read())
    assert (width, height) == (3 * tile_w, tile_h)  # 3 s: three one-second tiles, one row
    for column in range(3):
        assert bright(quadrant_means(luma, column * tile_w, 0, tile_w, tile_h)) == WHERE[turn]
