"""``mediaserve stats`` against a real server: --once, --json and live lines through click's
runner, --once as a real subprocess, and a server that is down."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from benchmarks.peers import free_port, run_mediaserve
from mediaserve.adapters.stats.client import StatsUnavailable, _decode, normalise_url
from mediaserve.cli import cli
from tests.conftest import Corpus
from tests.stats.conftest import CLIP, Live


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["stats", *args], catch_exceptions=False,
                                env={"COLUMNS": "80"})
    return result.exit_code, result.stdout, result.stderr


def test_json_is_the_servers_snapshot(live_server: Live) -> None:
    code, out, _err = run(live_server.base, "--json")
    assert code == 0
    snap = json.loads(out)
    glob = snap["global"]
    assert glob["requests"] == 3 and glob["status"] == {"206": 3}
    assert glob["bytes_sent"] == 3000 and glob["ranges_served"] == 3
    assert glob["player_seeks"] == 2
    (row,) = snap["videos"]
    assert row["id"] == live_server.video_id and row["title"] == live_server.name
    library = snap["library"]  # what serve's start-up line said
    assert library["videos"] == 1 and library["bytes"] > 0 and library["duration"] > 0


def test_once_prints_the_dashboard_in_80_columns(live_server: Live) -> None:
    code, out, _err = run(live_server.base, "--once")
    assert code == 0
    assert "mediaserve stats" in out and live_server.name[:20] in out
    assert "206 3" in out and "100%" in out  # the status counts, the 206 share
    assert "2.9 KiB" in out  # 3000 bytes sent
    # the start-up line, repeated (it has long scrolled away): the URL and the library
    assert f"mediaserve stats  {live_server.base}" in out
    assert re.search(r"serving +1 video \(0:0\d, [\d.]+ KiB\)", out), out
    assert max(len(line) for line in out.splitlines()) <= 80


def test_live_mode_without_a_terminal_prints_a_line_per_refresh(live_server: Live) -> None:
    code, out, _err = run(live_server.base, "--interval", "0.2", "--count", "3")
    assert code == 0
    lines = out.splitlines()
    assert len(lines) == 3
    assert all("requests 3 [206 3]" in line for line in lines)
    assert "- req/s" in lines[0] and "0.0 req/s" in lines[2]  # a rate needs two snapshots


def test_once_as_a_real_subprocess(live_server: Live) -> None:
    done = subprocess.run([sys.executable, "-m", "mediaserve", "stats", live_server.base,
                           "--once", "--top", "1"], capture_output=True, text=True,
                          timeout=60, env={"COLUMNS": "80", "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    assert live_server.name[:20] in done.stdout and done.stderr == ""


def test_a_server_that_is_down() -> None:
    url = f"127.0.0.1:{free_port()}"
    done = subprocess.run([sys.executable, "-m", "mediaserve", "stats", url, "--once"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 3
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1 and "cannot connect" in done.stderr
    assert "Connection refused" in done.stderr
    code, out, err = run(url, "--json")
    assert code == 3 and out == "" and "cannot connect" in err
    code, out, err = run(url, "--count", "2", "--interval", "0.1")  # live: retries
    assert code == 3 and out == ""
    assert err.count("cannot connect") == 1 and "retrying every 0.1 s" in err  # said once


@pytest.mark.parametrize("args", [["ftp://x/"], ["http://"], ["--top", "-1"],
                                  ["--interval", "0"], ["127.0.0.1:99999"]])
def test_usage_errors(args: list[str]) -> None:
    code, _out, err = run(*args, "--once")
    assert code == 2, err
    assert "Traceback" not in err


def test_answers_that_are_not_statistics() -> None:
    with pytest.raises(StatsUnavailable, match="HTTP 404: statistics are turned off") as info:
        _decode("u", 404, b'{"error": "statistics are turned off on this server"}')
    assert not info.value.network
    with pytest.raises(StatsUnavailable, match="HTTP 404: not a mediaserve statistics"):
        _decode("u", 404, b"<html>not found</html>")
    with pytest.raises(StatsUnavailable, match="not a mediaserve stats document"):
        _decode("u", 200, b'{"hello": 1}')
    assert _decode("u", 200, b'{"global": {}, "videos": []}') == {"global": {}, "videos": []}


def test_url_forms() -> None:
    assert normalise_url("127.0.0.1:8080") == "http://127.0.0.1:8080/"
    assert normalise_url("https://media.example/mediaserve/") == (
        "https://media.example/mediaserve/")
    assert normalise_url("http://[::1]:9000") == "http://[::1]:9000/"
    with pytest.raises(ValueError):
        normalise_url("ftp://x")


def test_a_server_that_wants_a_token(corpus: Corpus, tmp_path: Path) -> None:
    token = "stats-test-token-0123456789"
    folder = corpus.copy_to(tmp_path / "lib", [CLIP])
    with run_mediaserve(folder, "--auth-token", token) as base:
        code, out, err = run(base, "--once")
        assert code == 1 and out == ""
        assert "HTTP 401" in err and "MEDIASERVE_AUTH_TOKEN" in err
        result = CliRunner().invoke(cli, ["stats", base, "--json"], catch_exceptions=False,
                                    env={"MEDIASERVE_AUTH_TOKEN": token})
        assert result.exit_code == 0, result.stderr
        assert json.loads(result.stdout)["global"]["requests"] == 0
