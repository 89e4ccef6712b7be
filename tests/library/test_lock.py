"""One writer at a time: real processes race for the index, and a second writer that cannot
get the lock says who holds it."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

from mediaserve.adapters.library.store import load_index, save_index
from mediaserve.core.library.index import LibraryIndex
from tests.library.conftest import mediaserve, poll

ROUNDS = 20

#: one writer process: at each agreed moment, read, change and write the index under the
#: lock, slowly enough that two unlocked writers would interleave and lose an update
WRITER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from mediaserve.adapters.library.lock import writer_lock
    from mediaserve.adapters.library.store import load_index, save_index
    from mediaserve.core.library.ignored import IgnoredFile
    index_path, who, start_at, gap = Path(sys.argv[1]), sys.argv[2], *map(float, sys.argv[3:5])
    for n in range(int(sys.argv[5])):
        while time.time() < start_at + n * gap:
            time.sleep(0.002)
        with writer_lock(index_path, wait=30):
            index = load_index(index_path)  # raises if a write was ever seen half done
            time.sleep(0.03)
            name = f"r{n}-{who}.mp4"
            index.ignored[name] = IgnoredFile(name, 1, 1, "race")
            save_index(index_path, index)
""")

HOLDER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from mediaserve.adapters.library.lock import writer_lock
    with writer_lock(Path(sys.argv[1]), "lock-holder-for-the-test"):
        print("held", flush=True)
        sys.stdin.read()
""")


def test_two_writers_racing_twenty_times_lose_nothing(tmp_path: Path) -> None:
    """Two real processes take the lock at the same moments, twenty times."""
    index_path = tmp_path / "index.toml"
    save_index(index_path, LibraryIndex(root=str(tmp_path)))
    start_at = time.time() + 1.0  # both are running (imports done) by then
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(index_path), who,
                               str(start_at), "0.12", str(ROUNDS)],
                              stderr=subprocess.PIPE, text=True)
             for who in ("a", "b")]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    expected = {f"r{n}-{who}.mp4" for n in range(ROUNDS) for who in ("a", "b")}
    assert set(load_index(index_path).ignored) == expected  # complete, valid, nothing lost


def test_a_second_writer_names_the_holder_and_exits(tmp_path: Path,
                                                    clips: dict[str, bytes]) -> None:
    root = tmp_path / "lib"
    root.mkdir()
    (root / "a.mp4").write_bytes(clips["a.mp4"])
    assert mediaserve("scan", str(root)).returncode == 0
    index_path = root / ".mediaserve-index.toml"
    before = index_path.read_bytes()
    (root / "b.mp4").write_bytes(clips["b.mp4"])
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(index_path)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        env = {"MEDIASERVE_LOCK_WAIT": "0.5"}
        for command in (["scan", str(root)], ["audit", str(root), "--unignore-all"]):
            refused = mediaserve(*command, env=env)
            assert refused.returncode == 3, (command, refused.stderr)
            assert f"pid {holder.pid} (lock-holder-for-the-test)" in refused.stderr
            assert refused.stderr.count("\n") == 1  # one line, no traceback
        assert index_path.read_bytes() == before
        dry = mediaserve("audit", str(root), "--dry-run", env=env)  # readers never wait
        assert dry.returncode == 0, dry.stderr
    finally:
        holder.communicate("", timeout=30)
    done = mediaserve("scan", str(root), "--json")
    assert done.returncode == 0 and '"new": 1' in done.stdout
    poll(lambda: "b.mp4" in index_path.read_text())
