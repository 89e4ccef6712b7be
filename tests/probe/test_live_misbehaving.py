"""Deliberately broken servers: the probe must catch each bug, and network failures exit 3."""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path

from tests.probe.conftest import FLIP_OFFSET, cases_by_id


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
