"""A file the server may not read is listed as ``unreadable``, not ``missing`` (issue 13).

The server runs as a child where file permissions apply even to root (``spawn(...,
unprivileged=True)``); in this process root would read a chmod 000 file.
"""

from __future__ import annotations

import http.client
import json
from pathlib import Path
from typing import Any

from mediaserve.adapters.library.scanner import scan
from mediaserve.adapters.library.store import INDEX_NAME, save_index
from mediaserve.adapters.media.clips import ClipSpec, encode_clip


def _get(port: int, path: str) -> tuple[int, Any]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        body = response.read()
    finally:
        conn.close()
    is_json = (response.getheader("Content-Type") or "").startswith("application/json")
    return response.status, json.loads(body) if is_json else body


def _listed(port: int) -> dict[str, tuple[str, list[str]]]:
    status, doc = _get(port, "/api/videos")
    assert status == 200
    return {v["path"]: (v["status"], [f["code"] for f in v["findings"]])
            for v in doc["videos"]}


def test_a_file_the_server_cannot_read_is_unreadable_not_missing(spawn, tmp_path: Path):
    root = tmp_path / "lib"
    encode_clip(root, ClipSpec("locked.mp4", frames=12))
    encode_clip(root, ClipSpec("open.mp4", frames=14))
    index, _ = scan(root, None, workers=1)
    save_index(root / INDEX_NAME, index)
    locked = root / "locked.mp4"
    stream = f"/api/videos/{index.by_path()['locked.mp4'].id}/stream"
    locked.chmod(0)
    try:
        child = spawn(str(root), "--port", "0", "--access-log", "off",
                      env={"MEDIASERVE_DATA_DIR": str(tmp_path / "data")},
                      unprivileged=True).wait_started()
        # at start-up: every file is opened once, as a stream would
        assert _listed(child.port) == {"locked.mp4": ("unreadable", ["unreadable"]),
                                       "open.mp4": ("ok", [])}
        status, body = _get(child.port, stream)
        assert status == 403 and "not readable" in body["error"] and "missing" not in body
        _, doc = _get(child.port, f"/api/videos/{index.by_path()['locked.mp4'].id}")
        assert doc["status"] == "unreadable"

        locked.chmod(0o644)  # fixed: the next stream serves it and clears the flag
        status, body = _get(child.port, stream)
        assert status == 200 and body == locked.read_bytes()
        assert _listed(child.port)["locked.mp4"] == ("ok", [])

        locked.chmod(0)  # locked while serving: the stream's 403 sets the flag again
        assert _get(child.port, stream)[0] == 403
        assert _listed(child.port)["locked.mp4"] == ("unreadable", ["unreadable"])
    finally:
        locked.chmod(0o644)
