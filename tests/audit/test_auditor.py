"""The audit against real files: every rule fires exactly where the corpus says it must."""

from __future__ import annotations

import os
import shutil
import signal
import threading
import time
from pathlib import Path

import pytest

from mediaserve.adapters.audit.deep import deep_demux
from mediaserve.adapters.audit.deep_pool import deep_check_all
from mediaserve.adapters.audit.files import content_key, fresh_stat
from mediaserve.adapters.audit.run import run_audit
from mediaserve.adapters.library.locate import open_library
from mediaserve.adapters.library.store import save_index
from mediaserve.adapters.media import prober
from mediaserve.core.library.ids import video_id
from mediaserve.core.library.index import LibraryIndex, MediaFacts, VideoEntry
from tests.audit.conftest import ERROR_CODES, AuditLib, Sources, make_library
from tests.conftest import unprivileged_python


def found_codes(run) -> dict[str, tuple[str, ...]]:
    return {a.entry.path: tuple(a.codes()) for a in run.report.entries}


def test_every_rule_fires_exactly_where_expected(audit_lib: AuditLib):
    run = run_audit(open_library(audit_lib.root, None))
    assert found_codes(run) == audit_lib.expected(deep=False)
    assert run.report.invalid == sum(
        1 for codes in audit_lib.expected().values() if set(codes) & ERROR_CODES)


def test_deep_finds_what_metadata_hides(audit_lib: AuditLib):
    run = run_audit(open_library(audit_lib.root, None), deep=True, workers=2)
    assert found_codes(run) == audit_lib.expected(deep=True)
    by_path = {a.entry.path: a for a in run.report.entries}
    assert "packets end at" in by_path["zeroed-tail.webm"].findings[0].message
    # the files that are there were all demuxed; the missing and empty ones were not
    assert run.deep_files == len(audit_lib.names) - 2
    assert run.deep_bytes == sum((audit_lib.root / n).stat().st_size
                                 for n in audit_lib.names if (audit_lib.root / n).exists())


def test_audit_without_deep_opens_no_unchanged_media(audit_lib: AuditLib):
    """Unchanged entries are judged on recorded facts: make every file unreadable to
    FFmpeg (same size and mtime, garbage content) and the verdicts do not change."""
    run_before = found_codes(run_audit(open_library(audit_lib.root, None)))
    for name in ("good.mp4", "h264.mkv", "hevc.mp4" if "hevc.mp4" in audit_lib.names
                 else "good.webm"):
        path = audit_lib.root / name
        st = path.stat()
        path.write_bytes(os.urandom(st.st_size))
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert found_codes(run_audit(open_library(audit_lib.root, None))) == run_before


def test_hevc_is_unplayable(audit_lib: AuditLib):
    if "hevc.mp4" in audit_lib.skipped:
        pytest.skip(f"hevc.mp4: {audit_lib.skipped['hevc.mp4']}")
    run = run_audit(open_library(audit_lib.root, None))
    finding = next(a for a in run.report.entries if a.entry.path == "hevc.mp4").findings[0]
    assert finding.code == "unplayable" and "HEVC" in finding.message


def test_unreadable_file(audit_sources: Sources, tmp_path: Path):
    """The audit runs in a child where permissions apply even to root."""
    lib = make_library(audit_sources, tmp_path / "lib", ["good.mp4", "good.webm"])
    target = lib.root / "good.webm"
    target.chmod(0)
    try:
        codes = unprivileged_python(
            "import json, sys\n"
            "from pathlib import Path\n"
            "from mediaserve.adapters.audit.run import run_audit\n"
            "from mediaserve.adapters.library.locate import open_library\n"
            "run = run_audit(open_library(Path(sys.argv[1]), None), deep=True)\n"
            "print(json.dumps({a.entry.path: a.codes() for a in run.report.entries}))\n",
            lib.root)
    finally:
        target.chmod(0o644)
    assert codes == {"good.mp4": [], "good.webm": ["unreadable"]}


def test_stale_entry_is_reprobed_during_the_audit(audit_sources: Sources, tmp_path: Path):
    """A file replaced after the scan by a 3-frame clip: the verdict is about the new file."""
    lib = make_library(audit_sources, tmp_path / "lib", ["good.mp4"])
    shutil.copyfile(audit_sources.folder / "three-frames.mp4", lib.root / "good.mp4")
    run = run_audit(open_library(lib.root, None))
    audit = run.report.entries[0]
    assert audit.codes() == ["stale", "too-few-frames"]
    assert audit.refreshed is not None and audit.refreshed.facts.frames == 3


def test_same_size_different_content_is_not_a_duplicate(audit_lib: AuditLib):
    a, near = audit_lib.root / "dup-a.mp4", audit_lib.root / "near-dup.mp4"
    assert a.stat().st_size == near.stat().st_size
    assert content_key(a, a.stat().st_size) != content_key(near, near.stat().st_size)
    assert content_key(a, a.stat().st_size) == content_key(audit_lib.root / "dup-b.mp4",
                                                           a.stat().st_size)


def test_content_key_reads_only_head_and_tail(tmp_path: Path):
    """Documented limit: files differing only in the middle look identical."""
    size = 3 << 20
    one, two = tmp_path / "one", tmp_path / "two"
    data = bytearray(size)
    one.write_bytes(data)
    data[size // 2] = 1
    two.write_bytes(data)
    assert content_key(one, size) == content_key(two, size)
    data[-1] = 1
    two.write_bytes(data)
    assert content_key(one, size) != content_key(two, size)


def test_fresh_stat(tmp_path: Path):
    (tmp_path / "f").write_bytes(b"abc")
    st = fresh_stat(tmp_path / "f")
    assert (st.exists, st.size, st.regular, st.readable) == (True, 3, True, True)
    assert not fresh_stat(tmp_path / "nope").exists
    assert not fresh_stat(tmp_path / "f" / "below-a-file").exists
    assert not fresh_stat(tmp_path).regular


# --------------------------------------------------------------------------- bounded work


def test_deep_demux_respects_its_time_budget(audit_sources: Sources):
    facts = deep_demux(audit_sources.folder / "good.mp4", budget_s=0)
    assert facts.timed_out and "time budget" in (facts.error or "")
    full = deep_demux(audit_sources.folder / "good.mp4")
    assert not full.timed_out and full.video_packets == 30
    assert full.end_time == pytest.approx(full.duration, abs=0.1)


def test_deep_demux_respects_its_packet_budget(audit_sources: Sources):
    facts = deep_demux(audit_sources.folder / "good.mp4", max_packets=5)
    assert facts.timed_out and "packet budget" in (facts.error or "")


def test_deep_demux_never_raises(tmp_path: Path):
    (tmp_path / "junk.mp4").write_bytes(os.urandom(4096))
    assert not deep_demux(tmp_path / "junk.mp4").opened
    assert not deep_demux(tmp_path / "absent.mp4").opened


def test_deep_demux_of_a_pixel_bomb_decodes_no_frame(tmp_path: Path):
    """Opening reads the streams' parameters, and FFmpeg decodes a frame for that: 768 MB
    for a 16000 x 16000 PNG frame (issue 17) unless the decoder's pixel cap refuses it. In
    a child, so the peak (VmHWM) is the demux's own."""
    import json
    import subprocess
    import sys

    from benchmarks.frame_memory import png_bomb

    bomb = png_bomb(tmp_path / "bomb.mov")
    code = (f"from mediaserve.adapters.audit.deep import deep_demux\nimport av, json\n"
            f"def hwm():\n    with open('/proc/self/status') as status:\n"
            f"        return next(int(l.split()[1]) for l in status if l.startswith('VmHWM'))\n"
            f"before = hwm()\nfacts = deep_demux({str(bomb)!r})\n"
            f"print(json.dumps([facts.opened, facts.video_packets, (hwm() - before) * 1024]))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, check=True)
    opened, packets, growth = json.loads(done.stdout.strip().splitlines()[-1])
    assert (opened, packets) == (True, 3)
    assert growth < 100 * 1024 * 1024, f"grew {growth / 2**20:.0f} MiB"


def test_a_hanging_file_becomes_a_timeout_and_the_rest_still_runs(audit_sources: Sources,
                                                                    tmp_path: Path):
    """A FIFO blocks FFmpeg's open() forever, as a dead network mount would: the worker is
    killed, the file reported timed out, and the next file is checked by a new worker."""
    fifo = tmp_path / "hang.mp4"
    os.mkfifo(fifo)
    good = str(audit_sources.folder / "good.mp4")
    results: dict = {}
    thread = threading.Thread(target=lambda: results.update(
        deep_check_all([str(fifo), good], workers=1, timeout=0.3, kill_grace=0.3)))
    thread.start()
    thread.join(timeout=120)  # a safety net against hanging the suite, not a speed test
    assert not thread.is_alive()
    hung = results[str(fifo)]
    # stopped by the pool (the worker itself never got past FFmpeg's open)
    assert hung.timed_out and "the worker was stopped" in (hung.error or "")
    assert not results[good].timed_out and results[good].video_packets == 30


def _worker_pids() -> set[int]:
    """Our deep-check worker processes (children of this test process)."""
    pids = set()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            ppid = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (proc / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue
        if ppid == os.getpid() and b"deep_worker" in cmdline:
            pids.add(int(proc.name))
    return pids


def _blocked_on_fifo(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/wchan").read_text().strip() == "wait_for_partner"
    except OSError:
        return False


@pytest.mark.skipif(not Path("/proc/self/wchan").exists(), reason="needs Linux /proc wchan")
def test_a_worker_that_dies_is_retried_once_then_reported(tmp_path: Path):
    """Kill the worker (as a segfault in FFmpeg or the OOM killer would) while it is stuck
    on a file: the file is retried in a fresh worker, and after a second death reported."""
    fifo = tmp_path / "crash.mp4"
    os.mkfifo(fifo)
    results: dict = {}
    thread = threading.Thread(target=lambda: results.update(
        deep_check_all([str(fifo)], workers=1, timeout=60)))
    thread.start()
    killed: set[int] = set()
    deadline = time.monotonic() + 20
    while len(killed) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
        for pid in _worker_pids() - killed:
            if _blocked_on_fifo(pid):  # ready, and stuck on the file: kill it now
                os.kill(pid, signal.SIGKILL)
                killed.add(pid)
    thread.join(timeout=20)
    assert not thread.is_alive() and len(killed) == 2
    facts = results[str(fifo)]
    assert not facts.timed_out and "crashed twice" in (facts.error or "")


def test_timeout_in_the_audit_is_a_warning_not_a_crash(audit_sources: Sources,
                                                       tmp_path: Path):
    lib = make_library(audit_sources, tmp_path / "lib", ["good.mp4", "three-frames.mp4"])
    run = run_audit(open_library(lib.root, None), deep=True, deep_timeout=1e-9)
    assert found_codes(run) == {"good.mp4": ("timeout",),
                                "three-frames.mp4": ("timeout", "too-few-frames")}
    assert run.report.exit_code("error") == 1


# --------------------------------------------------------------------------- performance


def test_thousand_unchanged_entries_open_no_media(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch):
    """The everyday audit is a stat per entry: nothing re-probed, nothing hashed, nothing
    demuxed (how long it takes is measured by benchmarks/audit_bench.py)."""
    root = tmp_path / "big"
    root.mkdir()
    videos = {}
    for i in range(1000):
        rel = f"d{i % 10}/v{i:04d}.mp4"
        path = root / rel
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(b"\0" * (100 + i))  # distinct sizes: nothing to hash
        st = path.stat()
        vid = video_id(rel)
        videos[vid] = VideoEntry(vid, rel, st.st_size, st.st_mtime_ns, facts=MediaFacts(
            container="mp4", duration=60.0, video_codec="h264", frames=1500,
            audio_codec="aac", faststart=True, truncated=False))
    save_index(root / "index.toml", LibraryIndex(root=str(root), videos=videos))
    library = open_library(root, root / "index.toml")
    probes = []
    monkeypatch.setattr(prober, "probe", lambda path: probes.append(path))
    run = run_audit(library)
    assert run.report.total == 1000 and run.report.invalid == 0 and run.report.warned == 0
    assert (run.reprobed, run.hashed, run.deep_files, probes) == (0, 0, 0, [])
    assert len(run.stats) == 1000
