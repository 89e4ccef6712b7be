"""Audit findings travel with `GET /api/videos/{id}` and follow the file's presence."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mediaserve.adapters.library.scanner import scan
from mediaserve.adapters.media.clips import ClipSpec, encode_clip
from mediaserve.adapters.server import create_app
from mediaserve.core.audit.rules import findings_from_facts


def codes(doc: dict[str, Any]) -> list[str]:
    return [finding["code"] for finding in doc["findings"]]


async def test_findings_reflect_recorded_facts_and_presence(tmp_path: Path,
                                                            aiohttp_client: Any) -> None:
    encode_clip(tmp_path, ClipSpec("good.mp4"))
    encode_clip(tmp_path, ClipSpec("slow start.mp4", faststart=False))
    encode_clip(tmp_path, ClipSpec("gone.mp4"))
    index, _ = scan(tmp_path, None)
    saved = (tmp_path / "gone.mp4").read_bytes()
    (tmp_path / "gone.mp4").unlink()  # vanished between the scan and the server start

    client = await aiohttp_client(create_app(index, tmp_path, findings=findings_from_facts))

    async def doc(name: str) -> dict[str, Any]:
        response = await client.get(f"/api/videos/{index.by_path()[name].id}")
        assert response.status == 200
        return await response.json()

    assert codes(await doc("good.mp4")) == []
    assert codes(await doc("slow start.mp4")) == ["not-faststart"]
    gone = await doc("gone.mp4")
    assert gone["status"] == "missing"
    assert codes(gone) == ["missing"]
    listing = await (await client.get("/api/videos")).json()
    by_name = {v["name"]: v for v in listing["videos"]}
    assert codes(by_name["gone.mp4"]) == ["missing"]

    (tmp_path / "gone.mp4").write_bytes(saved)  # the file is back: serving it clears the flag
    response = await client.get(f"/api/videos/{index.by_path()['gone.mp4'].id}/stream")
    assert response.status == 200
    assert await response.read() == saved
    back = await doc("gone.mp4")
    assert back["status"] == "ok"
    assert codes(back) == []


async def test_listing_at_start_up_judges_files_the_way_streaming_does(
        tmp_path: Path, aiohttp_client: Any) -> None:
    root, outside = tmp_path / "lib", tmp_path / "outside"
    encode_clip(root, ClipSpec("kept.mp4"))
    encode_clip(root, ClipSpec("swapped.mp4"))
    encode_clip(outside, ClipSpec("secret.mp4"))
    index, _ = scan(root, None)
    (root / "swapped.mp4").unlink()  # replaced by a link out of the library after the scan
    (root / "swapped.mp4").symlink_to(outside / "secret.mp4")

    client = await aiohttp_client(create_app(index, root, findings=findings_from_facts))
    listing = await (await client.get("/api/videos")).json()
    statuses = {v["name"]: v["status"] for v in listing["videos"]}
    assert statuses == {"kept.mp4": "ok", "swapped.mp4": "missing"}
    response = await client.get(f"/api/videos/{index.by_path()['swapped.mp4'].id}/stream")
    assert response.status == 404
