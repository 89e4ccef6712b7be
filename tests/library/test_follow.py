"""A running ``mediaserve serve`` follows its index: an audit's prune and a scan's additions
appear without a restart, a stream in flight across the reloads completes byte-identical, a
corrupt index is refused while the last good catalog keeps serving, and the recovery
commands the error prints work as printed."""

from __future__ import annotations

import hashlib
import random
import re
import shlex
import signal
import subprocess
import threading
import time
from pathlib import Path

from mediaserve.adapters.library.store import load_index
from tests.library.conftest import mediaserve, poll
from tests.server.rawhttp import slow_read

INDEX = ".mediaserve-index.toml"


def test_server_follows_audit_scan_and_refuses_a_corrupt_index(
        tmp_path: Path, clips: dict[str, bytes], server) -> None:
    root = tmp_path / "lib"
    root.mkdir()
    for name in ("a.mp4", "b.mp4", "short.mp4"):
        (root / name).write_bytes(clips[name])
    broken = random.Random(5).randbytes(4 << 20)  # not media: the audit prunes it
    (root / "broken.mp4").write_bytes(broken)
    assert mediaserve("scan", str(root)).returncode == 0
    srv = server(root)
    assert set(srv.videos()) == {"a.mp4", "b.mp4", "short.mp4", "broken.mp4"}

    # a long stream of a file whose entry the audit is about to prune
    got: dict = {}
    release = threading.Event()
    target = srv.videos()["broken.mp4"]["stream_url"]
    reader = threading.Thread(target=slow_read, args=(srv.port, target, got, release))
    reader.start()
    poll(lambda: got.get("received", 0) > 100_000 or "error" in got or "length" in got)
    assert got["status"] == 200 and "length" not in got, got.get("status")

    audit = mediaserve("audit", str(root))
    assert audit.returncode == 1, audit.stderr  # errors were found (and pruned)
    poll(lambda: set(srv.videos()) == {"a.mp4", "b.mp4"})
    assert "reloaded index: 4 → 2 videos" in srv.stderr

    (root / "c.webm").write_bytes(clips["c.webm"])
    scan = mediaserve("scan", str(root), "--json")
    assert scan.returncode == 0, scan.stderr
    assert '"ignored": 2' in scan.stdout and '"new": 1' in scan.stdout  # pruned stay pruned
    poll(lambda: set(srv.videos()) == {"a.mp4", "b.mp4", "c.webm"})

    assert got.get("received", 0) < len(broken), "the stream must still be in flight"
    release.set()
    reader.join(60)
    assert "error" not in got, got.get("error")
    assert got["status"] == 200 and got["length"] == len(broken)
    assert hashlib.sha256(got["body"]).digest() == hashlib.sha256(broken).digest()

    # a corrupt index under the running server: refused, logged once, old catalog serves
    index_path = root / INDEX
    good = index_path.read_bytes()
    index_path.write_bytes(good + b"\n[videos.oops\n")
    poll(lambda: "index not reloaded" in srv.stderr)
    time.sleep(1.5)  # several more polls of the same bad file: still one line
    assert srv.stderr.count("index not reloaded") == 1
    assert f"{index_path}:" in srv.stderr
    assert set(srv.videos()) == {"a.mp4", "b.mp4", "c.webm"}
    srv.proc.send_signal(signal.SIGHUP)  # an explicit reload request is answered again
    poll(lambda: srv.stderr.count("index not reloaded") == 2)
    assert set(srv.videos()) == {"a.mp4", "b.mp4", "c.webm"}

    # recovery, exactly as printed: first the backup the audit kept
    refused = mediaserve("scan", str(root))
    assert refused.returncode == 2
    restore = re.search(r"restore the previous index: (cp [^;]+);", refused.stderr)
    assert restore, refused.stderr
    subprocess.run(shlex.split(restore.group(1)), check=True)
    assert load_index(index_path).videos  # the pre-audit index, valid again
    poll(lambda: "broken.mp4" in srv.videos())  # the server follows the restore

    # then the rebuild: the corrupt file is kept aside, a fresh index is built
    index_path.write_bytes(b"schema_version = [")
    refused = mediaserve("scan", str(root))
    rebuild = re.search(r"rebuild it: (mediaserve scan --rebuild .+?) \(the corrupt",
                        refused.stderr)
    assert rebuild, refused.stderr
    rebuilt = mediaserve(*shlex.split(rebuild.group(1))[1:])
    assert rebuilt.returncode == 0, rebuilt.stderr
    aside = list(root.glob(INDEX + ".corrupt-*"))
    assert len(aside) == 1 and aside[0].read_bytes() == b"schema_version = ["
    assert {e.path for e in load_index(index_path).videos.values()} == {
        "a.mp4", "b.mp4", "c.webm", "short.mp4", "broken.mp4"}
    poll(lambda: "c.webm" in srv.videos() and "short.mp4" in srv.videos())

    srv.proc.send_signal(signal.SIGTERM)
    assert srv.proc.wait(30) == 0
    assert srv.stderr.count("shutting down: no streams in flight") == 1, srv.stderr
    assert srv.stderr.rstrip().endswith("mediaserve: stopped")
    assert "Traceback" not in srv.stderr
