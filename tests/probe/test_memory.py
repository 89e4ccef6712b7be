"""The probe's memory is bounded by ``--max-body`` in total, however many requests it makes.

Issue 13 item 6: against a server answering 200 with an endless body, every exchange kept
its own copy of up to ``--max-body`` bytes (plus a second copy made when the exchange was
built), so three ``--range`` options cost about eleven times the cap. Now content is
compared with the reference as it arrives (or kept only until its answer is judged), in a
buffer that grows without copying. Each test runs the probe as a child process and fails
on the old code (growth of its peak RSS: +88, +124 and +51 MiB against bounds of 12, 20
and 12 MiB).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path

from benchmarks.probe_memory import run_measured
from mediaserve.adapters.probe.runner import KEPT_BODY_BYTES, Target, run_probe
from mediaserve.core.probe.content_range import ByteRangeSpec
from tests.probe.conftest import Handler, Script

MiB = 1024 * 1024
ENDLESS_LIMIT = 512 * MiB  # "endless": far beyond any cap here, yet the thread ends
ALLOWANCE = 4 * MiB  # beyond the cap: the client's own buffers, a compare block, the output


def _endless_200(handler: Handler) -> None:
    """200 with a close-delimited body that goes on until the probe hangs up."""
    handler.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: video/mp4\r\nConnection: close\r\n\r\n")
    handler.close_connection = True
    if handler.command == "HEAD":
        return
    chunk = b"e" * 65536
    for _ in range(ENDLESS_LIMIT // len(chunk)):
        handler.wfile.write(chunk)  # OSError once the probe hangs up (the fixture catches it)


def test_three_ranges_against_an_endless_body_stay_within_the_cap(
        scripted: Callable[[Script], str]) -> None:
    # before the fix: +90 MiB of peak RSS for an 8 MiB cap (each of the three exchanges kept
    # its content, twice over while it was built); after: +9 MiB, the one answer being read
    cap = 8 * MiB
    url = scripted(_endless_200)
    done, _interpreter, growth = run_measured(
        ["probe", url, "--max-body", str(cap), "--json",
         "--range", "0-0", "--range", "5-9", "--range", "100-"], timeout=120)
    assert done.returncode == 1, done.stderr  # 200 to a range: no range support
    assert growth < cap + ALLOWANCE, f"peak RSS +{growth / MiB:.1f} MiB, cap {cap // MiB} MiB"
    exchanges = json.loads(done.stdout)["exchanges"]
    assert [e["received"] for e in exchanges] == [cap] * 3  # each read up to the cap
    assert {e["end"] for e in exchanges} == {"capped"}


def test_verify_reads_the_file_in_blocks_not_a_second_copy(
        scripted: Callable[[Script], str], tmp_path: Path) -> None:
    # --verify compared a 16 MiB answer by reading 16 MiB of the file at once: +33 MiB of
    # peak RSS; now the file is read a block (COMPARE_BLOCK, 1 MiB) at a time: +18 MiB
    cap, size = 16 * MiB, 17 * MiB
    movie = tmp_path / "movie.bin"
    movie.write_bytes(bytes(range(256)) * (size // 256))

    def whole_file(handler: Handler) -> None:  # Range ignored: 200 and the whole file
        handler.wfile.write(f"HTTP/1.1 200 OK\r\nContent-Length: {size}\r\n\r\n".encode())
        with movie.open("rb") as source:
            while piece := source.read(65536):
                handler.wfile.write(piece)

    done, _interpreter, growth = run_measured(
        ["probe", scripted(whole_file), "--max-body", str(cap),
         "--range", "0-0", "--verify", str(movie), "--json"], timeout=120)
    assert done.returncode == 1, done.stderr  # 200 to a range: no range support
    assert growth < cap + ALLOWANCE, f"peak RSS +{growth / MiB:.1f} MiB, cap {cap // MiB} MiB"
    findings = json.loads(done.stdout)["exchanges"][0]["findings"]
    assert any(f["message"] == f"content: {cap} bytes match the reference" for f in findings)


def test_check_holds_the_reference_and_compares_the_rest_as_it_arrives(
        scripted: Callable[[Script], str]) -> None:
    # a server that ignores Range sends the whole 8 MiB to each of the battery's ~20
    # requests. Before: the reference plus the answer being read (and a copy of each while
    # it was built), +25 MiB; now the answers are compared as they arrive: +9 MiB
    size = 8 * MiB
    data = bytes(range(256)) * (size // 256)

    def ignores_range(handler: Handler) -> None:
        handler.wfile.write(f"HTTP/1.1 200 OK\r\nContent-Length: {size}\r\n"
                            'ETag: "e"\r\nContent-Type: video/mp4\r\n\r\n'.encode())
        if handler.command != "HEAD":
            handler.wfile.write(data)

    done, _interpreter, growth = run_measured(
        ["probe", scripted(ignores_range), "--check", "--json", "--max-body", str(2 * size)],
        timeout=120)
    assert done.returncode == 1, done.stderr  # no range support
    assert growth < size + ALLOWANCE, f"peak RSS +{growth / MiB:.1f} MiB, reference 8 MiB"
    cases = json.loads(done.stdout)["cases"]
    assert len(cases) == 19 and {c["status"] for c in cases if c["status"]} == {200}
    matched = [f for c in cases for f in c["findings"]
               if f["message"] == f"content: {size} bytes match the reference"]
    assert len(matched) >= 10  # every 200 was still compared, byte for byte


def test_judged_bodies_are_let_go_but_counted(
        scripted: Callable[[Script], str]) -> None:
    cap = 1 * MiB
    outcome = asyncio.run(run_probe(Target(scripted(_endless_200), max_body=cap),
                                    [(ByteRangeSpec(0, 0),), (ByteRangeSpec(5, 9),)]))
    assert [step.exchange.received for step in outcome.steps] == [cap, cap]
    kept = sum(len(step.exchange.body) for step in outcome.steps)
    assert kept <= KEPT_BODY_BYTES
    assert outcome.ranges_supported is False and outcome.failed
