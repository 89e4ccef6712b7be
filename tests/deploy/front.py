"""Real nginx running ``docs/deploy/nginx-mediaserve.conf`` in front of real mediaserve nodes.

The deploy file's text is used as shipped: only its ``@PLACEHOLDERS@`` are filled (ports and
paths under a temporary folder), as its header tells an operator to. The http block around
it holds only what a distribution's ``nginx.conf`` holds (temp paths, no access log).
"""

from __future__ import annotations

import http.client
import os
import pwd
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from benchmarks.peers import LOOPBACK, free_port, nginx_binary, start_peer

CONF = Path(__file__).resolve().parents[2] / "docs" / "deploy" / "nginx-mediaserve.conf"
PLACEHOLDERS = ("@LISTEN@", "@CACHE_DIR@", "@AUTH_CACHE_DIR@", "@ACCESS_LOG@", "@NODES@")


def render(port: int, work: Path, nodes: list[str]) -> str:
    """The deploy config with its placeholders filled, as its header says to."""
    text = CONF.read_text(encoding="utf-8")
    for placeholder in PLACEHOLDERS:
        assert placeholder in text, placeholder
    servers = "\n    ".join(f"server {node};" for node in nodes)
    values = {"@LISTEN@": f"{LOOPBACK}:{port}", "@CACHE_DIR@": str(work / "cache"),
              "@AUTH_CACHE_DIR@": str(work / "auth-cache"),
              "@ACCESS_LOG@": str(work / "access.log"), "@NODES@": servers}
    for placeholder, value in values.items():
        text = text.replace(placeholder, value)
    return text


@contextmanager
def start_front(work: Path, nodes: list[str]) -> Iterator[int]:
    """nginx with the deploy config in front of ``nodes`` (``HOST:PORT``); yields its port."""
    nginx = nginx_binary()
    if nginx is None:
        import pytest

        pytest.skip("nginx is not installed")
    (work / "temp").mkdir(exist_ok=True)
    port = free_port()
    (work / "mediaserve.conf").write_text(render(port, work, nodes))
    user = f"user {pwd.getpwuid(os.geteuid()).pw_name};\n" if os.geteuid() == 0 else ""
    temps = "".join(f"    {kind}_temp_path {work / 'temp'};\n"
                    for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    (work / "nginx.conf").write_text(
        f"daemon off;\n{user}worker_processes 1;\npid {work}/nginx.pid;\n"
        f"error_log {work}/error.log warn;\nevents {{ worker_connections 256; }}\n"
        f"http {{\n    access_log off;\n{temps}    include {work}/mediaserve.conf;\n}}\n")
    with start_peer([str(nginx), "-c", str(work / "nginx.conf"), "-p", str(work)], port):
        yield port


def get(port: int, path: str, headers: dict[str, str],
        method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    """One request on a fresh connection: status, lower-cased headers, body."""
    conn = http.client.HTTPConnection(LOOPBACK, port, timeout=10)
    try:
        conn.request(method, path, headers=headers)
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()
