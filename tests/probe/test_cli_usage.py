"""Usage errors exit 2 with one line on stderr, before any request is sent."""

from __future__ import annotations

import pytest

URL = "http://127.0.0.1:9/clip.mp4"  # the discard port: never contacted by these tests


@pytest.mark.parametrize(("args", "words"), [
    ((URL, "--range", "5-2"), "last byte before first"),
    ((URL, "--range", "abc"), "bad range"),
    ((URL, "--check", "--seeks", "10"), "pick one"),
    ((URL, "--check", "--range", "0-1"), "plain probe"),
    ((URL, "--concurrency", "4"), "only apply with --seeks"),
    ((URL, "--seeks", "0"), "--seeks"),
    ((URL, "--seeks", "100001"), "--seeks"),
    ((URL, "--seeks", "5", "--concurrency", "1000"), "--concurrency"),
    ((URL, "--seeks", "5", "--size", "1TiB"), "outside"),
    ((URL, "--header", "no colon here"), "Name: value"),
    ((URL, "--header", "X-A: b\r\nX-Injected: c"), "control character"),
    ((URL, "--header", "X-A: nul\0"), "control character"),
    (("ftp://example/x",), "http://"),
    (("http://[::1/x",), "http://"),  # urlsplit raises ValueError on these two
    (("http://127.0.0.1:99999/x",), "http://"),
    ((URL, "--verify", "/nonexistent/file"), "does not exist"),
])
def test_usage_errors(probe, args: tuple[str, ...], words: str) -> None:
    run = probe(*args)
    assert run.code == 2, run
    assert words in run.err
    assert run.err.startswith("mediaserve: error:") and run.err.count("\n") == 1
    assert run.out == ""


def test_help_documents_exit_codes(probe) -> None:
    run = probe("--help")
    assert run.code == 0
    assert "3 network error or timeout" in " ".join(run.out.split())
