"""Deliberately broken servers: the probe must catch each bug, and network failures exit 3."""

from __future__ import annotations

import asyncio
import gzip
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from mediaserve.adapters.probe.runner import Target, run_probe, run_seeks
from mediaserve.core.probe.content_range import ByteRangeSpec
from tests.probe.conftest import FLIP_OFFSET, Handler, Script, cases_by_id


def test_verify_catches_a_wrong_byte(probe, misbehaving: Callable[[str], str],
                                     video: Path) -> None:
    url = misbehaving("flip")
    clean = probe(url, "--range", "0-1023", "--verify", str(video), "--json")
    assert clean.code == 0  # the corrupt byte is elsewhere: nothing to report

    run = probe(url, "--range", f"{FLIP_OFFSET - 10}-{FLIP_OFFSET + 10}", "--verify",
                str(video))
    assert run.code == 1
    assert f"byte {FLIP_OFFSET} is" in run.out

    # without --verify the headers are all consistent: the probe cannot know
    assert probe(url, "--range", f"{FLIP_OFFSET}-{FLIP_OFFSET}").code == 0


def test_seeks_with_verify_count_wrong_bytes(probe, misbehaving: Callable[[str], str],
                                             video: Path) -> None:
    # 1 MiB seeks over a 2 MiB file: about half of them cover the flipped byte
    run = probe(misbehaving("flip"), "--seeks", "40", "--size", "1MiB", "--concurrency", "4",
                "--seed", "3", "--verify", str(video), "--json")
    assert run.code == 1
    report = run.json
    assert report["requested"] == 40
    assert 0 < report["failures"]["wrong-bytes"] < 40
    assert report["ok"] + report["failures"]["wrong-bytes"] == 40


def test_check_catches_206_from_byte_zero(probe, misbehaving: Callable[[str], str]) -> None:
    run = probe(misbehaving("from-zero"), "--check", "--json")
    assert run.code == 1
    cases = cases_by_id(run.json)
    assert cases["single-range"]["verdict"] == "FAIL"
    assert "not what was asked" in cases["single-range"]["did"]
    assert cases["last-byte"]["verdict"] == "FAIL"


def test_short_body_fails_the_length_check(probe, misbehaving: Callable[[str], str]) -> None:
    run = probe(misbehaving("short"), "--range", "0-9999", "--json")
    assert run.code == 1
    findings = run.json["exchanges"][0]["findings"]
    assert any("cut off after 5000 of 10000 bytes" in f["message"] for f in findings), findings


def test_connection_refused_exits_3(probe, free_port: int) -> None:
    run = probe(f"http://127.0.0.1:{free_port}/x.mp4")
    assert run.code == 3
    assert "cannot connect" in run.err and run.err.count("\n") == 1
    as_json = probe(f"http://127.0.0.1:{free_port}/x.mp4", "--json", "--check")
    assert as_json.code == 3 and as_json.json["error"]["kind"] == "connect"


def test_timeout_exits_3(probe) -> None:
    # a socket that accepts (kernel backlog) but never answers
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        run = probe(f"http://127.0.0.1:{port}/x.mp4", "--timeout", "0.3", "--json")
    assert run.code == 3
    assert run.json["error"]["kind"] == "timeout"


def test_verify_against_a_different_file_fails(probe, misbehaving: Callable[[str], str],
                                               tmp_path: Path) -> None:
    other = tmp_path / "other.mp4"
    other.write_bytes(b"\0" * 1000)
    run = probe(misbehaving("flip"), "--range", "0-9", "--verify", str(other), "--json")
    assert run.code == 1
    assert any("the --verify file 1000" in f["message"] for f in run.json["findings"])


# --- hostile servers: the probe must stay bounded in time and memory, and never crash ------


def _span(handler: Handler, size: int) -> tuple[int, int] | None:
    """The ``bytes=a-b`` / ``a-`` span asked for, clamped to ``size``; None without Range."""
    match = re.fullmatch(r"bytes=(\d+)-(\d*)", handler.headers.get("Range", ""))
    if not match:
        return None
    first = int(match.group(1))
    return first, min(int(match.group(2) or size - 1), size - 1)


def _send(handler: Handler, head: str, body: bytes = b"") -> None:
    handler.wfile.write(head.encode("latin-1") + b"\r\n\r\n")
    if handler.command != "HEAD":
        handler.wfile.write(body)


def _trickle(handler: Handler, data: bytes, pause: float, hung_up: list[int] | None = None,
             stop_after: float = 5.0) -> None:
    """One byte every ``pause`` s: each wait well inside --timeout, the whole unbounded.
    When the probe hangs up, the bytes sent until then go to ``hung_up``; a trickle nobody
    hangs up on ends by itself after ``stop_after`` s, closing the connection."""
    deadline = time.monotonic() + stop_after
    sent = 0
    try:
        for byte in data:
            if time.monotonic() > deadline:
                break
            handler.wfile.write(bytes([byte]))
            sent += 1
            time.sleep(pause)
    except OSError:
        if hung_up is not None:
            hung_up.append(sent)
    handler.close_connection = True


def test_a_trickled_header_section_is_a_timeout(probe, scripted) -> None:
    # the trickle would take 40 s; each byte comes well within --timeout. Only the bound on
    # the whole header section ends it: "timeout", and the server sees the probe hang up
    # (had the probe waited, the trickle would have ended first: "disconnected", no hang-up)
    hung_up: list[int] = []

    def script(handler: Handler) -> None:
        handler.wfile.write(b"HTTP/1.1 200 OK\r\n")
        _trickle(handler, b"X-Slow: " + b"z" * 2000 + b"\r\n\r\n", 0.02, hung_up)

    run = probe(scripted(script), "--timeout", "1", "--json")
    assert run.code == 3 and run.json["error"]["kind"] == "timeout"
    _wait_for(lambda: bool(hung_up))
    assert hung_up, "the probe waited for the trickle to end"


def test_trickled_content_is_cut_off(probe, scripted) -> None:
    # the pace rule (64 KiB per --timeout) cuts it, not the server's own end of the trickle
    hung_up: list[int] = []

    def script(handler: Handler) -> None:
        handler.wfile.write(b"HTTP/1.1 206 Partial Content\r\nContent-Length: 100000\r\n"
                            b"Content-Range: bytes 0-99999/100000\r\n\r\n")
        _trickle(handler, b"x" * 100_000, 0.02, hung_up)

    run = probe(scripted(script), "--range", "0-", "--timeout", "1", "--json")
    assert run.code == 1
    messages = [f["message"] for f in run.json["exchanges"][0]["findings"]]
    assert any("cut off after" in m and "of 100000 bytes" in m and "too slow" in m
               for m in messages), messages
    _wait_for(lambda: bool(hung_up))
    assert hung_up, "the probe waited for the trickle to end"


def _wait_for(condition: Callable[[], bool], limit: float = 10.0) -> None:
    """Poll until ``condition`` holds (a server thread noticing a hang-up on its next write);
    the caller asserts the condition afterwards, so this never decides a test by time."""
    deadline = time.monotonic() + limit
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.01)


def test_trickled_seeks_fail_in_bounded_time(probe, scripted) -> None:
    size = 100_000

    def script(handler: Handler) -> None:
        first, last = _span(handler, size) or (0, size - 1)
        handler.wfile.write(f"HTTP/1.1 206 Partial Content\r\nContent-Length: {last - first + 1}"
                            f"\r\nContent-Range: bytes {first}-{last}/{size}\r\n\r\n".encode())
        if first == last:  # the 1-byte discovery request: answered at once
            handler.wfile.write(b"x")
        else:
            _trickle(handler, b"x" * (last - first + 1), 0.02)

    run = probe(scripted(script), "--seeks", "2", "--concurrency", "1", "--size", "1KiB",
                "--timeout", "1", "--json")
    assert run.code == 1
    assert run.json["failures"] == {"truncated": 2}
    assert "too slow" in run.json["failure_examples"]["truncated"]


def test_a_transfer_that_keeps_flowing_is_not_cut(probe, scripted) -> None:
    # 448 KiB in 64 KiB pieces, one every 0.2 s: 1.2 s in all, beyond --timeout 1, yet no
    # wait for data is longer than 0.2 s
    size, piece = 7 * 65536, 65536

    def script(handler: Handler) -> None:
        handler.wfile.write(f"HTTP/1.1 206 Partial Content\r\nContent-Length: {size}\r\n"
                            f"Content-Range: bytes 0-{size - 1}/{size}\r\n\r\n".encode())
        for _ in range(size // piece):
            handler.wfile.write(b"y" * piece)
            time.sleep(0.2)

    run = probe(scripted(script), "--range", "0-", "--timeout", "1", "--json")
    assert run.code == 0, run.json
    assert run.json["exchanges"][0]["received"] == size
    # a lower bound the server's sleeps guarantee (load only adds to it): the transfer did
    # outlast --timeout, so the test shows what it claims
    assert run.json["exchanges"][0]["total_ms"] > 1000


def _multipart_answer(body: bytes) -> Script:
    def script(handler: Handler) -> None:
        _send(handler, "HTTP/1.1 206 Partial Content\r\nContent-Type: multipart/byteranges; "
                       f"boundary=B\r\nContent-Length: {len(body)}", body)
    return script


def test_a_multipart_answer_with_endless_parts_is_refused(probe, scripted) -> None:
    part = b"\r\n--B\r\nContent-Range: bytes 0-0/10\r\n\r\nx"
    body = part * 200_000 + b"\r\n--B--\r\n"  # 8 MB of parts for a request of two ranges
    run = probe(scripted(_multipart_answer(body)), "--range", "0-0,5-5", "--json")
    assert run.code == 1
    messages = [f["message"] for f in run.json["exchanges"][0]["findings"]]
    assert any("more than 1000 parts" in m for m in messages), messages


def test_multipart_parsing_memory_is_bounded_by_the_content(scripted) -> None:
    # one part whose header section is 2 million "a: b" lines (12 MB): a parser that builds
    # a tuple per line needs ~30 times the content in memory
    body = b"--B\r\n" + b"a: b\r\n" * 2_000_000 + b"\r\nx\r\n--B--\r\n"
    url = scripted(_multipart_answer(body))
    # the peak of this process's own memory (VmHWM), not ru_maxrss: Linux hands a child the
    # ru_maxrss of the process it was started from (exec keeps the larger), so that read
    # the pytest worker's size (619 MiB in a full run) instead of the probe's
    code = ("import re, sys\nfrom mediaserve.cli import main\ntry:\n"
            f"    main(['probe', {url!r}, '--range', '0-0,5-5', '--json'])\nfinally:\n"
            "    status = open('/proc/self/status').read()\n"
            "    print(re.search(r'VmHWM:\\s+(\\d+) kB', status)[1], file=sys.stderr)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 1, done.stderr
    peak_mib = int(done.stderr.strip().splitlines()[-1]) / 1024
    assert peak_mib < 250, f"peak RSS {peak_mib:.0f} MiB for 12 MB of content"
    assert "header lines" in done.stdout


@pytest.mark.parametrize("answer", [
    b"HTTP/1.1 200 OK\r\nContent-Length: " + b"1" * 5000 + b"\r\n\r\n",
    b"garbage, not a status line\r\n\r\n" + b"z" * 3000,
], ids=["5000-digit Content-Length", "no status line"])
def test_a_malformed_answer_is_one_short_line(probe, scripted, answer: bytes) -> None:
    def script(handler: Handler) -> None:
        handler.wfile.write(answer)
        handler.close_connection = True

    url = scripted(script)
    run = probe(url)
    assert run.code == 3
    assert run.err.startswith("mediaserve: error: protocol:")
    assert run.err.count("\n") == 1 and len(run.err) < 300, run.err
    message = probe(url, "--json").json["error"]["message"]
    assert "\n" not in message and len(message) < 300


def test_a_later_request_without_answer_is_a_fail_not_exit_3(probe, scripted) -> None:
    def script(handler: Handler) -> None:
        if handler.command == "HEAD":
            _send(handler, "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\nAccept-Ranges: bytes")
        else:  # the range request: hang up without a word
            handler.close_connection = True

    url = scripted(script)
    run = probe(url, "--json")
    assert run.code == 1, run.err  # the server answered the first request: it is reachable
    assert [e["method"] for e in run.json["exchanges"]] == ["HEAD"]
    assert any(f["level"] == "FAIL" and "GET bytes=0-0: no response" in f["message"]
               for f in run.json["findings"]), run.json["findings"]
    table = probe(url)
    assert table.code == 1 and "no response" in table.out


HUGE = 10**400  # a "complete length" no float can hold


def test_an_absurd_length_is_reported_not_a_traceback(probe, scripted) -> None:
    def script(handler: Handler) -> None:
        first, last = _span(handler, HUGE) or (0, 0)
        _send(handler, f"HTTP/1.1 206 Partial Content\r\nContent-Length: {last - first + 1}\r\n"
                       f"Content-Range: bytes {first}-{last}/{HUGE}", b"\0" * (last - first + 1))

    url = scripted(script)
    run = probe(url, "--seeks", "3", "--size", "1KiB", "--seed", "1")
    assert run.code == 0, run.err
    assert "3 (3 ok, 0 failed)" in run.out
    assert probe(url, "--seeks", "3", "--size", "1KiB", "--json").json["size"] == HUGE


def test_verify_survives_an_absurd_offset(probe, scripted, video: Path) -> None:
    far = 2**64  # beyond any file offset os.pread accepts

    def script(handler: Handler) -> None:
        _send(handler, "HTTP/1.1 206 Partial Content\r\nContent-Length: 1\r\n"
                       f"Content-Range: bytes {far}-{far}/{far + 1}", b"x")

    run = probe(scripted(script), "--range", "0-0", "--verify", str(video), "--json")
    assert run.code == 1
    messages = [f["message"] for f in run.json["exchanges"][0]["findings"]]
    assert any("not what was asked" in m for m in messages), messages


def test_an_unsatisfiable_range_answered_200_says_nothing_about_support(probe, scripted) -> None:
    # ranges work; only an unsatisfiable one gets the whole representation (a SHOULD missed)
    data = bytes(range(256)) * 4

    def script(handler: Handler) -> None:
        span = _span(handler, len(data))
        if span is None or span[0] >= len(data):
            _send(handler, f"HTTP/1.1 200 OK\r\nContent-Length: {len(data)}", data)
        else:
            first, last = span
            _send(handler, f"HTTP/1.1 206 Partial Content\r\nContent-Length: {last - first + 1}"
                           f"\r\nContent-Range: bytes {first}-{last}/{len(data)}",
                  data[first:last + 1])

    run = probe(scripted(script), "--range", "5000-", "--json")
    assert run.json["verdict"] == "WARN"
    assert run.json["ranges_supported"] is None
    assert run.code == 0


def test_seeks_run_c_at_a_time_over_c_keepalive_connections(probe, scripted) -> None:
    size, lock = 1_000_000, threading.Lock()
    state = {"now": 0, "peak": 0, "requests": 0}
    peers: set[int] = set()

    def script(handler: Handler) -> None:
        with lock:
            state["now"] += 1
            state["requests"] += 1
            state["peak"] = max(state["peak"], state["now"])
            peers.add(handler.client_address[1])
        time.sleep(0.03)
        with lock:
            state["now"] -= 1
        first, last = _span(handler, size) or (0, size - 1)
        _send(handler, f"HTTP/1.1 206 Partial Content\r\nContent-Length: {last - first + 1}\r\n"
                       f"Content-Range: bytes {first}-{last}/{size}", b"s" * (last - first + 1))

    run = probe(scripted(script), "--seeks", "40", "--concurrency", "4", "--size", "1KiB",
                "--seed", "2", "--json")
    assert run.code == 0, run.json
    assert state["requests"] == 41  # the 1-byte discovery request and N seeks, no more
    assert state["peak"] == 4
    assert len(peers) == run.json["connections"] <= 4


def test_outcomes_say_whether_they_failed(misbehaving: Callable[[str], str],
                                          http_server_url: str) -> None:
    """The exit-code decision lives with the outcome, for any caller, not only the CLI."""
    good = asyncio.run(run_probe(Target(misbehaving("flip")), []))
    assert good.verdict.value == "PASS" and not good.failed
    ignored = asyncio.run(run_probe(Target(http_server_url), []))
    assert ignored.ranges_supported is False and ignored.failed
    seeks = asyncio.run(run_seeks(Target(misbehaving("flip")), count=3, concurrency=1,
                                  length=10, seed=1))
    assert not seeks.failed
    refused = asyncio.run(run_seeks(Target(http_server_url), count=3, concurrency=1,
                                    length=10, seed=1))
    assert refused.report is None and refused.failed


@pytest.mark.parametrize("mode", [(), ("--check",)], ids=["probe", "check"])
def test_server_text_is_printed_verbatim_not_as_markup(probe, scripted,
                                                       mode: tuple[str, ...]) -> None:
    # rich reads "[...]" in a plain string as markup: "[/]" raised MarkupError (a traceback
    # any server could cause) and "[red]" restyled what the server sent
    data = bytes(range(256)) * 8

    def script(handler: Handler) -> None:
        fields = 'Server: [/]\r\nETag: "[red]x[/red]"\r\nX-Emoji: :thumbs_up:'
        span = _span(handler, len(data))
        if span is None:
            _send(handler, f"HTTP/1.1 200 OK\r\n{fields}\r\nContent-Length: {len(data)}", data)
        else:
            first, last = span
            _send(handler, f"HTTP/1.1 206 Partial Content\r\n{fields}\r\nContent-Length: "
                           f"{last - first + 1}\r\nContent-Range: bytes {first}-{last}/{len(data)}",
                  data[first:last + 1])

    url = scripted(script).replace("clip.mp4", "a[/]b.mp4")
    run = probe(url, *mode)
    assert run.code in (0, 1) and "Traceback" not in run.err, run.err
    assert "a[/]b.mp4" in run.out
    assert '"[red]x[/red]"' in run.out
    if not mode:
        assert "│ [/]" in run.out  # the Server row, verbatim


def test_if_range_never_carries_a_date_when_an_etag_is_known(probe, scripted) -> None:
    # §13.1.5: a client MUST NOT send If-Range with a date unless it has no entity tag; a
    # weak ETag cannot go in If-Range either, so with only a weak one the case is a SKIP
    data, sent = bytes(range(256)) * 8, []

    def script(handler: Handler) -> None:
        if "If-Range" in handler.headers:
            sent.append(handler.headers["If-Range"])
        span = _span(handler, len(data))
        fields = ('ETag: W/"weak"\r\nLast-Modified: Wed, 01 Jan 2025 00:00:00 GMT\r\n'
                  "Content-Type: video/mp4")
        if span is None:
            _send(handler, f"HTTP/1.1 200 OK\r\n{fields}\r\nContent-Length: {len(data)}", data)
        else:
            first, last = span
            _send(handler, f"HTTP/1.1 206 Partial Content\r\n{fields}\r\nContent-Length: "
                           f"{last - first + 1}\r\nContent-Range: bytes {first}-{last}/{len(data)}",
                  data[first:last + 1])

    run = probe(scripted(script), "--check", "--json")
    assert all(value.startswith('"') for value in sent), sent
    case = cases_by_id(run.json)["if-range-current"]
    assert case["verdict"] == "SKIP" and "weak" in case["did"]


def test_a_gzip_encoded_answer_is_judged_on_the_bytes_sent(scripted) -> None:
    # the probe asks for identity, a server gzips anyway: ranges then address the encoded
    # representation (§8.4), so the probe must neither decompress nor complain about lengths
    encoded = gzip.compress(bytes(range(256)) * 64, mtime=0)

    def script(handler: Handler) -> None:
        first, last = _span(handler, len(encoded)) or (0, len(encoded) - 1)
        _send(handler, f"HTTP/1.1 206 Partial Content\r\nContent-Encoding: gzip\r\n"
                       f"Content-Length: {last - first + 1}\r\n"
                       f"Content-Range: bytes {first}-{last}/{len(encoded)}",
              encoded[first:last + 1])

    outcome = asyncio.run(run_probe(Target(scripted(script)), [(ByteRangeSpec(0, 99),)]))
    assert outcome.steps[0].exchange.body == encoded[:100]
    assert outcome.ranges_supported is True and not outcome.failed
