"""Start and stop peer HTTP servers — nginx and mediaserve subprocesses — on loopback ports,
for benchmarks and tests.

The benchmarks measure mediaserve next to nginx, and the integration tests drive real servers
over real sockets. Both need the same few steps: pick a free port, start a process, wait until
it listens (and fail with its own words, not a hang, when it dies at start-up), and stop it
however it behaves. They are written once here, in the package like ``adapters.clips``, so
``benchmarks/`` can use them without importing the test suite. Nothing on mediaserve's own
serving path imports this module.

Every wait is bounded, every server listens on 127.0.0.1 only, and every context manager stops
its process on the way out, whatever happened inside.
"""

from __future__ import annotations

import json
import os
import pwd
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

LOOPBACK = "127.0.0.1"
#: how much of a dead peer's stderr goes into the error (its last words are what matter)
STDERR_TAIL = 4000


class PeerError(RuntimeError):
    """A peer server did not come up: it exited first, never listened, or is not installed."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago: bind it soon.

    The kernel picks it (bind to port 0), so parallel test workers and a developer's own
    servers do not collide the way fixed port numbers would. Someone else may take it before
    the peer binds it; the peer then exits, and ``wait_for_port`` says so.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def _tail(stream: IO[Any] | None) -> str:
    """The last ``STDERR_TAIL`` characters a process wrote to ``stream``, without blocking.

    ``stream`` is a pipe (``Popen.stderr``) or a file the process writes to. A pipe is read
    non-blocking: a grandchild that inherited it could hold it open after the process died,
    and an error report must not hang on it.
    """
    if stream is None:
        return ""
    try:
        if stream.seekable():
            stream.seek(max(0, os.fstat(stream.fileno()).st_size - 4 * STDERR_TAIL))
        else:
            os.set_blocking(stream.fileno(), False)
        data = stream.read()
    except (OSError, ValueError, TypeError):  # closed, or a text pipe that would block
        return ""
    if not data:
        return ""
    text = data.decode(errors="replace") if isinstance(data, bytes) else str(data)
    return text.strip()[-STDERR_TAIL:]


def _describe(proc: subprocess.Popen[Any]) -> str:
    args = proc.args if isinstance(proc.args, Sequence) and not isinstance(
        proc.args, str | bytes) else [proc.args]
    text = shlex.join(str(arg) for arg in args)
    return text if len(text) <= 200 else text[:197] + "..."


def wait_for_port(port: int, proc: subprocess.Popen[Any] | None = None,
                  timeout: float = 30.0, *, stderr: IO[Any] | None = None) -> None:
    """Return once 127.0.0.1:``port`` accepts a connection; raise ``PeerError`` otherwise.

    A connection, not a start-up line, because it is what the caller needs and every server
    offers it. With ``proc``, its exit is noticed at once (a taken port, a bad config, a
    traceback) instead of after ``timeout``, and the error carries the tail of its stderr:
    ``proc.stderr`` when that is a pipe, else ``stderr``, the file it writes to.
    """
    deadline = time.monotonic() + timeout
    while True:
        if proc is not None and proc.poll() is not None:
            said = _tail(proc.stderr if proc.stderr is not None else stderr)
            raise PeerError(f"`{_describe(proc)}` exited with code {proc.returncode} before "
                            f"listening on {LOOPBACK}:{port}" + (f":\n{said}" if said else ""))
        try:
            with socket.create_connection((LOOPBACK, port), timeout=0.2):
                return
        except OSError:
            pass
        if time.monotonic() >= deadline:
            break
        time.sleep(0.05)
    what = f"`{_describe(proc)}`" if proc is not None else "anything"
    raise PeerError(f"no connection to {LOOPBACK}:{port} from {what} after {timeout:g} s")


def stop_process(proc: subprocess.Popen[Any], timeout: float = 10.0) -> int:
    """Stop ``proc`` and reap it; its exit code (negative: the signal that ended it).

    SIGTERM first, so servers shut down as they do in production (mediaserve lets streams
    finish, nginx stops its workers), then SIGKILL after ``timeout`` seconds, so a hung peer
    cannot hang the caller. ``timeout`` 0 kills at once, for a peer whose graceful shutdown
    is not the point and could be held up by a stalled client. A process that has already
    exited is only reaped.
    """
    if proc.poll() is not None:
        return proc.returncode
    if timeout > 0:
        proc.terminate()
        try:
            return proc.wait(timeout)
        except subprocess.TimeoutExpired:
            pass
    proc.kill()
    return proc.wait(5)


@dataclass(frozen=True)
class Peer:
    """A running peer: its base URL and its process (benchmarks read its CPU from /proc)."""

    base: str
    proc: subprocess.Popen[Any]

    @property
    def pid(self) -> int:
        return self.proc.pid


@contextmanager
def start_peer(cmd: Sequence[str], port: int, *, env: Mapping[str, str] | None = None,
               timeout: float = 30.0, stop_timeout: float = 10.0,
               cwd: Path | None = None) -> Iterator[Peer]:
    """Run ``cmd`` (a server that will listen on ``port``); yield it as a :class:`Peer`.

    stderr goes to a temporary file rather than a pipe: nobody reads a pipe while the server
    runs, and one that fills (a log line per request) would block the server mid-benchmark.
    The file is what ``wait_for_port`` quotes when the server dies at start-up. ``env``
    overrides single variables of this process's environment.
    """
    with tempfile.TemporaryFile() as errors:
        proc = subprocess.Popen(list(cmd), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=errors, env={**os.environ, **env} if env else None,
                                cwd=cwd)
        try:
            wait_for_port(port, proc, timeout, stderr=errors)
            yield Peer(f"http://{LOOPBACK}:{port}", proc)
        finally:
            stop_process(proc, stop_timeout)


@contextmanager
def run_peer(cmd: Sequence[str], port: int, *, env: Mapping[str, str] | None = None,
             timeout: float = 30.0, stop_timeout: float = 10.0) -> Iterator[str]:
    """:func:`start_peer`, yielding only ``http://127.0.0.1:PORT``."""
    with start_peer(cmd, port, env=env, timeout=timeout, stop_timeout=stop_timeout) as peer:
        yield peer.base


def nginx_binary() -> Path | None:
    """nginx from PATH, else Debian's /usr/sbin/nginx (not on a normal user's PATH)."""
    found = shutil.which("nginx")
    if found:
        return Path(found)
    debian = Path("/usr/sbin/nginx")
    return debian if debian.exists() else None


def nginx_config(root: Path, port: int, workdir: Path, *, workers: int | str = 1,
                 worker_connections: int = 1024, log_level: str = "error",
                 http_directives: Sequence[str] = ()) -> str:
    """An nginx.conf that serves ``root`` as static files on 127.0.0.1:``port``.

    Otherwise nginx's defaults, which is what comparing against nginx means. Everything nginx
    writes (pid, error log, temp files) goes under ``workdir``, so it runs without touching
    /var and without root. As root, nginx's workers would switch to ``nobody`` and get 403 on
    private (0700) temp dirs such as pytest's, so they stay the current user; as anyone else
    the ``user`` directive would be ignored with a warning, so it is left out.
    ``http_directives`` are extra lines for the ``http`` block (e.g. ``tcp_nodelay on;``).
    """
    temp = workdir / "nginx-temp"
    user = f"user {pwd.getpwuid(os.geteuid()).pw_name};\n" if os.geteuid() == 0 else ""
    extra = "".join(f"    {line}\n" for line in http_directives)
    temp_paths = "".join(f"    {kind}_temp_path {temp};\n"
                         for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    return f"""daemon off;
{user}worker_processes {workers};
pid {workdir}/nginx.pid;
error_log {workdir}/nginx-error.log {log_level};
events {{ worker_connections {worker_connections}; }}
http {{
    access_log off;
{temp_paths}    types {{ video/mp4 mp4; }}
    sendfile on;
{extra}    server {{
        listen {LOOPBACK}:{port};
        root {root};
    }}
}}
"""


@contextmanager
def run_nginx(root: Path, workdir: Path, *, binary: Path | None = None, timeout: float = 30.0,
              **options: Any) -> Iterator[str]:
    """:func:`start_nginx`, yielding only ``http://127.0.0.1:PORT``."""
    with start_nginx(root, workdir, binary=binary, timeout=timeout, **options) as peer:
        yield peer.base


@contextmanager
def start_nginx(root: Path, workdir: Path, *, binary: Path | None = None,
                timeout: float = 30.0, **options: Any) -> Iterator[Peer]:
    """nginx serving ``root`` on a free port, as a :class:`Peer`.

    Its config, pid, error log (``nginx-error.log``) and temp files go in ``workdir``
    (created if missing). ``options`` go to ``nginx_config``. ``binary`` defaults to
    ``nginx_binary()``; ``PeerError`` when there is none.
    """
    nginx = binary or nginx_binary()
    if nginx is None or not nginx.exists():
        raise PeerError("nginx not found (apt-get install nginx-light)")
    (workdir / "nginx-temp").mkdir(parents=True, exist_ok=True)
    port = free_port()
    conf = workdir / "nginx.conf"
    conf.write_text(nginx_config(root, port, workdir, **options))
    with start_peer([str(nginx), "-c", str(conf), "-p", str(workdir)], port,
                    timeout=timeout) as peer:
        yield peer


@contextmanager
def run_mediaserve(folder: Path, *args: str, env: Mapping[str, str] | None = None,
                   timeout: float = 30.0, stop_timeout: float = 15.0) -> Iterator[str]:
    """:func:`start_mediaserve`, yielding only ``http://127.0.0.1:PORT``."""
    with start_mediaserve(folder, *args, env=env, timeout=timeout,
                          stop_timeout=stop_timeout) as peer:
        yield peer.base


@contextmanager
def start_mediaserve(folder: Path, *args: str, env: Mapping[str, str] | None = None,
                     timeout: float = 30.0, stop_timeout: float = 15.0,
                     source: Path | None = None) -> Iterator[Peer]:
    """``python -m mediaserve serve FOLDER ARGS`` on a free port, as a :class:`Peer`.

    The access log is off and the folder is not followed unless ``args`` or ``env`` say
    otherwise (the last ``--access-log`` wins, ``--watch`` or ``MEDIASERVE_WATCH=true``
    turns following on): a line per request costs a benchmark time and nobody reads it, and
    a watcher process would share the CPUs being measured.
    ``stop_timeout`` is longer than serve's default ``--shutdown-timeout`` (10 s), so a
    graceful exit is not cut short.
    A folder without an index is scanned by serve itself; scan first to control how.
    ``source``: another checkout of mediaserve to run instead of this one (``before`` and
    ``after`` in one benchmark run), with this venv's dependencies.
    """
    port = free_port()
    cmd = [sys.executable, "-m", "mediaserve", "serve", str(folder), "--host", LOOPBACK,
           "--port", str(port), "--access-log", "off", *args]
    # by the variable, not --no-watch: a checkout from before the flag (``source``) ignores it
    env = {"MEDIASERVE_WATCH": "false", **(env or {})}
    if source is not None:
        env = {**env, "PYTHONPATH": str(source)}
    with start_peer(cmd, port, env=env, timeout=timeout, stop_timeout=stop_timeout,
                    cwd=source) as peer:
        yield peer


def random_library(media: Path, size_mib: int, name: str = "video.mp4") -> tuple[Path, str]:
    """Write ``media/name``, ``size_mib`` MiB of random bytes (nothing compresses or caches
    oddly), scan ``media`` and return the file and the id the scan gave it.

    The id is read back from the index, not computed: a scan keys ids with the library's
    own random secret, so ``video_id(name)`` alone names no video (the stream benchmarks
    measured 404s that way).
    """
    from mediaserve.adapters.library.store import default_index_path, load_index

    video = media / name
    with open(video, "wb") as handle:
        block = os.urandom(1024 * 1024)
        for _ in range(size_mib):
            handle.write(block)
    subprocess.run([sys.executable, "-m", "mediaserve", "scan", str(media), "--json"],
                   check=True, capture_output=True)
    index = load_index(default_index_path(media))
    return video, next(v.id for v in index.videos.values() if v.path == name)


def stream_url(base: str, path: str, timeout: float = 30.0) -> str:
    """The absolute stream URL of the video at ``path`` (relative to the library root), as
    mediaserve's own ``GET /api/videos`` lists it: what a client would follow."""
    with urllib.request.urlopen(f"{base}/api/videos", timeout=timeout) as resp:
        listing = json.load(resp)
    videos = listing["videos"] if isinstance(listing, dict) else listing
    for video in videos:
        if video.get("path") == path:
            return urllib.parse.urljoin(base + "/", video["stream_url"])
    raise PeerError(f"{base}/api/videos does not list {path!r}")
