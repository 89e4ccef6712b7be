"""``mediaserve serve``: load (or scan) a library and serve it."""

from __future__ import annotations

import dataclasses
import errno
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from mediaserve.adapters.data_dir import default_demo_folder
from mediaserve.adapters.library.idsecret import ensure_id_secret
from mediaserve.adapters.library.locate import Library, open_library
from mediaserve.adapters.library.watch_child import start_watcher, stop_watcher
from mediaserve.adapters.server.net.errorlog import configure_logging
from mediaserve.adapters.server.net.tls import make_ssl_context
from mediaserve.adapters.server.site.access import Access, AccessError
from mediaserve.adapters.server.site.access_summary import resolve_target, summary_notice
from mediaserve.adapters.server.workers import serve_forever
from mediaserve.cli.common import (
    ExitStatus,
    console,
    fail,
    human_duration,
    human_size,
    shown,
)
from mediaserve.core.config.settings import (
    SETTING_SPECS,
    SPECS_BY_NAME,
    SettingsError,
    SettingSpec,
    resolve,
    unknown_keys_warning,
)
from mediaserve.core.http.auth import exposure_warning


def _file_settings(config: Path | None, index_settings: dict[str, Any]) -> tuple[dict, str]:
    if config is None:
        return index_settings, "index [server]"
    import tomllib

    try:
        data = tomllib.loads(config.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        fail(f"{config}: not UTF-8 text", ExitStatus.USAGE)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        fail(f"{config}: {exc}", ExitStatus.USAGE)
    table = data.get("server", data)
    if not isinstance(table, dict):
        fail(f"{config}: [server] must be a table", ExitStatus.USAGE)
    return {**index_settings, **table}, f"{config} [server]"


def _option(spec: SettingSpec) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """The click option for one setting, from its single declaration in ``Settings``."""
    shown = f"{spec.help}  [default: {spec.shown_default()}; env: {spec.variable}]"
    if spec.kind == "switch":
        return click.option(f"{spec.option}/--no-{spec.flag}", spec.name, default=None,
                            help=shown)
    return click.option(spec.option, spec.name, multiple=spec.kind == "multiple",
                        default=None, metavar=spec.metavar, help=shown)


def settings_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Every ``Settings`` field as a flag; None (not given) lets lower sources speak."""
    for spec in reversed(SETTING_SPECS):
        command = _option(spec)(command)
    return command


def _prepare(root: Path, index_path: Path, demo: bool, rescan: bool) -> None:
    """In a child process: encode the demo clips and scan, with PyAV loaded there only."""
    from mediaserve.adapters.library.store import load_index_if_exists
    from mediaserve.cli.scan import run_scan

    out = console(stderr=True)
    if demo:
        from mediaserve.adapters.media.clips import make_demo_library

        make_demo_library(root)
    library = Library(root, index_path, load_index_if_exists(index_path))
    if library.index is None or rescan or demo:
        summary = run_scan(library, show_progress=True)
        out.print(f"Scanned {shown(library.root)}: {summary.as_dict()['videos']} videos, "
                  f"{len(summary.failed)} failed, index {shown(library.index_path)}",
                  markup=False)


def _prepare_in_child(library: Library, *, demo: bool, rescan: bool) -> Library:
    """Generate/scan in a spawned child, then load the index it wrote.

    The serving process must not load PyAV (FFmpeg's libraries cost ~15 MB of RSS in every
    worker for nothing: serving bytes never decodes). A spawned child, not a fork, so no
    import leaks back; it writes the index atomically, so reading it afterwards is safe. A
    ``fail()`` in the child (exit code, one line on stderr) ends this process the same way.
    """
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
        try:
            pool.submit(_prepare, library.root, library.index_path, demo, rescan).result()
        except SystemExit as exc:
            sys.exit(exc.code)
    prepared = open_library(library.root, library.index_path)
    if prepared.index is None:
        fail(f"no index at {library.index_path} after scanning", ExitStatus.USAGE)
    return prepared


@click.command()
@click.argument("folder", required=False, type=click.Path(path_type=Path, readable=False))
@click.option("--index", "index_path", type=click.Path(path_type=Path, dir_okay=False),
              help="Index file (default: the one `scan` writes for FOLDER).")
@click.option("--config", type=click.Path(path_type=Path, dir_okay=False, exists=True),
              help="TOML file with a [server] table (overrides the index's [server] table).")
@settings_options
@click.option("--rescan/--no-rescan", default=False,
              help="Rescan the folder before serving (new files appear).")
def serve(folder: Path | None, index_path: Path | None, config: Path | None, rescan: bool,
          **options: Any) -> None:
    """Serve FOLDER's videos over HTTP with full RFC 9110 range support.

    Without FOLDER (and without --index) a small demo library is generated first, so you
    can see it work in a browser right away. A folder that has no index yet is scanned first.
    Settings: flags > MEDIASERVE_* environment variables > [server] table > defaults.
    """
    demo = folder is None and index_path is None
    if demo:
        folder = default_demo_folder()
        click.echo(f"No folder given: using the demo library in {shown(folder)}", err=True)
        folder.mkdir(parents=True, exist_ok=True)
    library = open_library(folder, index_path)
    if demo or library.index is None or rescan:
        library = _prepare_in_child(library, demo=demo, rescan=rescan)
    index = library.index
    assert index is not None
    try:
        index, mapping = ensure_id_secret(library.index_path, index)
    except OSError as exc:
        click.echo(f"mediaserve: WARNING: cannot write {shown(library.index_path)} to give it "
                   f"an id secret ({shown(exc.strerror or exc)}): serving the old ids, which "
                   "can be guessed from paths; run `mediaserve scan` with write access once",
                   err=True)
    else:
        if mapping:
            click.echo(f"Gave {shown(library.index_path)} an id secret: {len(mapping)} video "
                       "ids changed once (they can no longer be guessed from paths)", err=True)
    cli_values = {name: (value or None) if SPECS_BY_NAME[name].kind == "multiple" else value
                  for name, value in options.items()}
    file_values, file_name = _file_settings(config, index.settings)
    try:
        settings = resolve(cli_values, os.environ, file_values, file_name)
    except SettingsError as exc:
        fail(str(exc), ExitStatus.USAGE)
    unknown = unknown_keys_warning(settings, file_name)
    if unknown:
        print(f"mediaserve: WARNING: {shown(unknown)}", file=sys.stderr, flush=True)

    try:  # made here: a bad access setting is a usage error before anything listens, and
        # forked workers share its secrets (the login form's CSRF key)
        access = Access.from_settings(settings)
    except AccessError as exc:
        fail(str(exc), ExitStatus.USAGE)
    warning = exposure_warning(settings.host, bool(settings.auth_token or settings.auth_users))
    if warning:
        print(f"mediaserve: WARNING: {warning}", file=sys.stderr, flush=True)

    def make_site() -> Any:
        """What one serving process serves (built in each forked worker, after the fork)."""
        from mediaserve.adapters.server.site.site import Site

        return Site(index, library.root, settings, index_path=str(library.index_path),
                    access=access)

    count, duration, size = index.totals()
    # decided here, once, for every worker: they share this stderr
    settings = dataclasses.replace(settings, access_log=resolve_target(settings.access_log))

    def started(url: str) -> None:
        print(f"mediaserve: serving {count} videos ({human_duration(duration)}, "
              f"{human_size(size)}) from {shown(library.root)} at {url}  "
              f"(index {shown(library.index_path)})", file=sys.stderr, flush=True)
        if settings.access_log == "summary":
            _announce(summary_notice(url))

    if settings.access_log not in ("-", "off", "summary"):
        try:
            with open(settings.access_log, "a", encoding="utf-8"):
                pass
        except OSError as exc:
            fail(f"cannot open the access log {settings.access_log}: {exc.strerror or exc}",
                 ExitStatus.USAGE)
    try:
        make_ssl_context(settings)  # a bad certificate is a usage error, not a listen error
    except ValueError as exc:
        fail(str(exc), ExitStatus.USAGE)
    except OSError as exc:
        fail(f"cannot load the TLS certificate {settings.tls_cert} or key {settings.tls_key}: "
             f"{exc.strerror or exc}", ExitStatus.USAGE)
    configure_logging()
    watcher = _start_watcher(library) if settings.watch else None
    try:
        code = serve_forever(make_site, settings, started, announce=_announce)
    except OSError as exc:
        fail(listen_error(settings.host, settings.port, exc), ExitStatus.USAGE)
    except RuntimeError as exc:  # event_loop = uvloop without uvloop installed
        fail(str(exc), ExitStatus.USAGE)
    finally:
        if watcher is not None:
            stop_watcher(watcher)
    if code:
        sys.exit(code)
    _announce("stopped")


def _start_watcher(library: Library) -> Any:
    """The folder watcher (a child process), unless it could not write the index: then one
    line says why new files will not appear, and serving goes on (a node that only loads an
    index another machine publishes, or a library whose index is read-only)."""
    reason = index_not_writable(library.index_path)
    if reason is not None:
        _announce(f"not following {shown(library.root)} for new files: {reason} "
                  "(--no-watch says you know; `mediaserve scan` as a user who may write it "
                  "adds them)")
        return None
    return start_watcher(library.root, library.index_path)


def index_not_writable(index_path: Path) -> str | None:
    """Why the watcher could not write ``index_path`` (and its lock beside it), or None."""
    folder = index_path.parent
    if not os.access(folder, os.W_OK | os.X_OK):
        return f"cannot write in {shown(folder)}, where the index and its lock live"
    if index_path.exists() and not os.access(index_path, os.W_OK):
        return f"cannot write the index {shown(index_path)}"
    return None


def listen_error(host: str, port: int, exc: OSError) -> str:
    """Why the server could not listen, and what to do about it (a new user's first server
    often meets a port another one holds)."""
    shown_host = f"[{host}]" if ":" in host else host
    where = f"cannot listen on {shown_host}:{port}"
    if exc.errno == errno.EADDRINUSE:
        other = port + 1 if 0 < port < 65535 else 8081
        return (f"{where}: the port is in use (another mediaserve, or another server, is "
                f"listening there); stop it, or pick another port: --port {other}, or "
                "--port 0 for any free one (the start-up line says which)")
    if exc.errno == errno.EACCES and 0 < port < 1024:
        return (f"{where}: ports below 1024 need privileges; use a port from 1024 up "
                "(--port 8080), or a reverse proxy in front (see README, Deployment)")
    if exc.errno == errno.EADDRNOTAVAIL:
        return (f"{where}: no network interface of this machine has the address {host} "
                "(--host 127.0.0.1 for this machine only, 0.0.0.0 for all)")
    return f"{where}: {exc.strerror or exc}"


def _announce(line: str) -> None:
    print(f"mediaserve: {shown(line)}", file=sys.stderr, flush=True)

