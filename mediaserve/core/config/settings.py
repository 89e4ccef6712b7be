"""Server settings and where they come from.

Precedence, highest first: command-line flags, ``MEDIASERVE_*`` environment variables, the
``[server]`` table of the library index (or of ``--config FILE``), built-in defaults. Merging is
pure so it can be tested without a process environment; every invalid value is reported
with the place it came from, because "port must be an integer" is useless when there are
three places a port can be set.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any, TypeVar

from mediaserve.core.http.auth import check_token

ENV_PREFIX = "MEDIASERVE_"
_T = TypeVar("_T")


class SettingsError(ValueError):
    """An invalid setting; the message names its source (flag, variable or file)."""


def _to_int(minimum: int, maximum: int) -> Callable[[Any], int]:
    def convert(value: Any) -> int:
        if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
            raise ValueError("expected an integer")  # never silently truncate 80.5 to 80
        try:
            number = int(value)
        except (TypeError, ValueError):
            raise ValueError("expected a whole number") from None
        if not minimum <= number <= maximum:
            raise ValueError(f"must be between {minimum} and {maximum}")
        return number

    return convert


def _to_float(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError("expected a number of seconds")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError("expected a number of seconds") from None
    if not math.isfinite(number) or number < 0:  # nan/inf: shutdown would never end
        raise ValueError("must be a finite, non-negative number")
    return number


def _to_timeout(value: Any) -> float:
    """Seconds for a connection timeout: positive (0 would mean "never", which is exactly
    what a timeout is there to prevent) and at most a day."""
    number = _to_float(value)
    if not 0 < number <= 86_400:
        raise ValueError("must be more than 0 and at most 86400 seconds")
    return number


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError("expected true or false")


def _to_origins(value: Any) -> tuple[str, ...]:
    items = value.split(",") if isinstance(value, str) else list(value)
    origins = tuple(str(item).strip().rstrip("/") for item in items if str(item).strip())
    for origin in origins:
        if origin != "*" and not origin.startswith(("http://", "https://")):
            raise ValueError(f"origin {origin!r} must start with http:// or https://")
    if "*" in origins:
        raise ValueError("'*' is not allowed: credentials are allowed, so list the origins")
    return origins


def _to_str(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("expected a string")
    if "\r" in value or "\n" in value:
        raise ValueError("must not contain line breaks")
    return value


def _to_token(value: Any) -> str:
    token = _to_str(value)
    return check_token(token) if token else ""  # "" (the default): no token required


def _to_hosts(value: Any) -> tuple[str, ...]:
    items = value.split(",") if isinstance(value, str) else list(value)
    hosts = tuple(str(item).strip().lower() for item in items if str(item).strip())
    for host in hosts:
        if host != "*" and not re.fullmatch(r"[a-z0-9.\-_]+|\[[0-9a-f:.]+\]", host):
            raise ValueError(f"{host!r} is not a host name (no scheme, port or path)")
    return hosts


def _to_host(value: Any) -> str:
    host = _to_str(value)
    if not host.strip():  # asyncio binds every interface for "": never by accident
        raise ValueError("must not be empty (use 0.0.0.0 to listen on all interfaces)")
    return host


def _to_workers(value: Any) -> int:
    """A count of worker processes; "auto" is kept as 0 (one per CPU, counted at start-up:
    the core does not look at the machine)."""
    if isinstance(value, str) and value.strip().lower() == "auto":
        return 0
    return _to_int(1, 512)(value)


_SIZE = re.compile(r"([0-9]{1,15})\s*([kmgt]?)i?b?", re.IGNORECASE)


def _to_size(value: Any) -> int:
    """Bytes: a whole number, or with a unit: 500M, 10G, 1T (powers of 1024)."""
    if isinstance(value, int) and not isinstance(value, bool):
        number, unit = int(value), ""
    else:
        match = _SIZE.fullmatch(_to_str(value).strip())
        if match is None:
            raise ValueError("expected a size such as 500M, 10G or a number of bytes")
        number, unit = int(match.group(1)), match.group(2).lower()
    size: int = number * (1024 ** " kmgt".index(unit or " "))
    if not 0 <= size <= 1 << 50:
        raise ValueError("must be between 0 and 1P")
    return size


def _to_choice(*choices: str) -> Callable[[Any], str]:
    def convert(value: Any) -> str:
        text = _to_str(value).strip().lower()
        if text not in choices:
            raise ValueError(f"expected one of {', '.join(choices)}")
        return text

    return convert


@dataclass(frozen=True, slots=True)
class SettingSpec:
    """How one setting is given and checked: the single declaration that the ``serve``
    flags, their ``--help`` defaults, the ``MEDIASERVE_*`` variable and the ``[server]`` key
    are all generated from, so none of them can drift from the others."""

    name: str
    default: Any
    convert: Callable[[Any], Any]
    help: str
    flag: str  # without the leading dashes
    kind: str  # "value", "multiple" (repeatable flag, comma list in the variable), "switch"
    metavar: str
    secret: bool = False  # never echoed: not in errors, --help or repr

    @property
    def option(self) -> str:
        return f"--{self.flag}"

    @property
    def variable(self) -> str:
        return f"{ENV_PREFIX}{self.name.upper()}"

    def shown_default(self) -> str:
        """The default as ``--help`` and the docs show it."""
        if self.secret or self.default == "":
            return "none"
        if self.kind == "switch":
            return "on" if self.default else "off"
        if self.kind == "multiple":
            return ", ".join(self.default) or "none"
        if isinstance(self.default, float) and self.default.is_integer():
            return str(int(self.default))
        return str(self.default)


def setting(default: _T, convert: Callable[[Any], Any], help: str, *, flag: str | None = None,
            kind: str = "value", metavar: str = "TEXT", secret: bool = False) -> _T:
    """A ``Settings`` field carrying its :class:`SettingSpec` (name filled in later)."""
    spec = {"default": default, "convert": convert, "help": help, "flag": flag, "kind": kind,
            "metavar": metavar, "secret": secret}
    return field(default=default, metadata={"setting": spec}, repr=not secret)


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything ``serve`` can be told. Each field is one setting, declared once: its
    default, converter, help text and flag name. Add a setting by adding a field here."""

    host: str = setting("127.0.0.1", _to_host,
                        "Interface to bind; loopback unless told otherwise.", metavar="ADDRESS")
    port: int = setting(8080, _to_int(0, 65535), "TCP port; 0 picks a free one.",
                        metavar="PORT")
    cache_control: str = setting("no-cache", _to_str, "Cache-Control of stream responses.")
    cors_origins: tuple[str, ...] = setting(
        (), _to_origins, "Allow this origin to fetch videos cross-origin (repeatable).",
        flag="cors-origin", kind="multiple", metavar="ORIGIN")
    open_ended_cap: int = setting(
        0, _to_int(0, 1 << 62), "Answer `Range: bytes=N-` with at most this many bytes (0: off).",
        metavar="BYTES")
    max_ranges: int = setting(
        100, _to_int(1, 10_000),
        "Ranges allowed in one request before it is answered 200 (whole file).",
        metavar="N")
    access_log: str = setting(
        "auto", _to_str, "'auto': a summary line every 30 s when stderr is a terminal, a "
        "line per request otherwise; '-': a line per request on stderr; 'summary'; 'off'; or "
        "a file (combined log format).", metavar="FILE")
    shutdown_timeout: float = setting(10.0, _to_float,
                                      "Seconds streams may finish after SIGINT/SIGTERM.",
                                      metavar="SECONDS")
    sendfile: bool = setting(True, _to_bool,
                             "Zero-copy bodies with sendfile; --no-sendfile forces the chunked "
                             "fallback (for debugging).", kind="switch")
    fast_path: bool = setting(True, _to_bool,
                              "Serve plain stream requests on mediaserve's own lean path "
                              "(aiohttp answers everything else); --no-fast-path sends every "
                              "request through aiohttp (to compare, or to debug).",
                              kind="switch")
    workers: int = setting(1, _to_workers,
                           "Processes serving the port (a supervisor restarts one that dies); "
                           "'auto' = one per CPU.", metavar="N|auto")
    worker_timeout: float = setting(
        30.0, _to_timeout, "With workers: seconds a worker's event loop may stay silent "
        "before the supervisor kills and restarts it (a hung worker serves nobody).",
        metavar="SECONDS")
    event_loop: str = setting("auto", _to_choice("auto", "uvloop", "asyncio"),
                              "Event loop: 'auto' uses uvloop when installed (faster per "
                              "request), else asyncio's.", metavar="auto|uvloop|asyncio")
    stats: bool = setting(True, _to_bool,
                          "Streaming statistics (/api/stats, /metrics, seek analytics); "
                          "--no-stats turns the collector off.", kind="switch")
    auth_token: str = setting(
        "", _to_token, "Require this token from every client (Authorization: Bearer, "
        "?token= or the /login cookie); prefer the variable: flags show in `ps`.",
        metavar="TOKEN", secret=True)
    auth_users: str = setting(
        "", _to_str, "File of HTTP Basic users with scrypt-hashed passwords "
        "(create entries with `mediaserve passwd FILE USER`).", metavar="FILE")
    login_attempts: int = setting(
        10, _to_int(0, 1_000_000), "Failed logins (form or HTTP Basic) a client address may "
        "make before each further try must wait: 1 s, doubling up to 15 min, forgotten after "
        "an hour without one; early tries get 429 with Retry-After. 0: no per-address limit.",
        metavar="N")
    allowed_hosts: tuple[str, ...] = setting(
        (), _to_hosts, "Also accept this Host name (repeatable; '*': any). Always accepted: "
        "IP addresses, localhost and the --host name; others get 421 (DNS rebinding).",
        flag="allowed-host", kind="multiple", metavar="NAME")
    # Limits and timeouts: nginx's defaults, so a client meets what it would meet there.
    header_timeout: float = setting(
        60.0, _to_timeout, "Seconds a client has to send a whole request head, counted from "
        "the connection (or its first byte after a keep-alive wait); nginx's "
        "client_header_timeout.", metavar="SECONDS")
    keepalive_timeout: float = setting(
        75.0, _to_timeout, "Seconds an idle keep-alive connection stays open; nginx's "
        "keepalive_timeout.", metavar="SECONDS")
    send_timeout: float = setting(
        60.0, _to_timeout, "Seconds a response may make no write progress (a client that "
        "stopped reading) before the connection is dropped and the file closed; nginx's "
        "send_timeout.", metavar="SECONDS")
    max_connections: int = setting(
        0, _to_int(0, 1 << 24), "Open client connections at most; at the cap the longest-idle "
        "one (else the slowest half-sent request head) makes room for a newcomer, and "
        "accepting waits while all are busy. 0: half the descriptor limit less 64 (a stream "
        "holds a socket and a file).", metavar="N")
    max_connections_per_address: int = setting(
        0, _to_int(0, 1 << 24), "Open connections one client address may hold; over it, that "
        "address's own idle or slowest connection makes room, or the newcomer is closed. "
        "0: half of --max-connections, at least 16 (behind a proxy every client shares the "
        "proxy's address: set it to the cap).", metavar="N")
    tls_cert: str = setting("", _to_str, "PEM certificate chain: serve HTTPS (with --tls-key).",
                            metavar="FILE")
    tls_key: str = setting("", _to_str, "PEM private key of --tls-cert.", metavar="FILE")
    hsts_max_age: int = setting(
        0, _to_int(0, 1 << 31), "With TLS, send Strict-Transport-Security with this max-age "
        "(0: off, the default: once sent, browsers refuse plain HTTP for that long).",
        metavar="SECONDS")
    # Playback of what the browser cannot play as it is (HLS; see README, Playback modes).
    transcode: bool = setting(
        True, _to_bool, "Play what a browser cannot play as it is over HLS: repackaged, its "
        "sound converted, or transcoded to H.264; --no-transcode: direct play only.",
        kind="switch")
    live_transcode: bool = setting(
        True, _to_bool, "Convert at request time; --no-live-transcode serves only what "
        "`mediaserve prepare` made ahead, and says so for the rest.", kind="switch")
    transcode_workers: int = setting(
        0, _to_int(0, 256), "Producer processes converting at once; 0: the CPU count less "
        "one, at least 1.", metavar="N")
    transcode_queue: int = setting(
        4, _to_int(0, 10_000), "Conversions that may wait for a free producer; past it a "
        "request gets 503 with Retry-After.", metavar="N")
    transcode_idle: float = setting(
        20.0, _to_timeout, "Seconds a producer runs on after its last request (its viewers "
        "left or seeked elsewhere) before it stops.", metavar="SECONDS")
    segment_timeout: float = setting(
        60.0, _to_timeout, "Seconds one segment may take; a producer over it is killed (a "
        "file that hangs FFmpeg costs one producer, never the server).", metavar="SECONDS")
    cache_dir: str = setting(
        "", _to_str, "Folder of converted segments (default: the data folder's cache).",
        metavar="DIR")
    cache_size: int = setting(
        10 * 1024 ** 3, _to_size, "Size cap of the segment cache (500M, 10G, ...); the least "
        "recently used segments go first.", metavar="SIZE")
    watch: bool = setting(
        True, _to_bool, "Follow FOLDER (a child process, `mediaserve scan --watch`): added, "
        "changed, moved and deleted videos reach the index within seconds; --no-watch: "
        "only what the last scan found.", kind="switch")
    state_db: str = setting(
        "", _to_str, "SQLite file of profiles and their state (resume positions, watched "
        "marks, preferences); default: state.db in the data folder.", metavar="FILE")
    extra: dict[str, Any] = field(default_factory=dict, compare=False)  # unknown keys


def _specs() -> tuple[SettingSpec, ...]:
    specs = []
    for item in fields(Settings):
        if "setting" not in item.metadata:
            continue
        raw = dict(item.metadata["setting"])
        raw["flag"] = raw["flag"] or item.name.replace("_", "-")
        specs.append(SettingSpec(name=item.name, **raw))
    return tuple(specs)


SETTING_SPECS: tuple[SettingSpec, ...] = _specs()
SPECS_BY_NAME: dict[str, SettingSpec] = {spec.name: spec for spec in SETTING_SPECS}
SETTING_NAMES = tuple(SPECS_BY_NAME)


def _convert(spec: SettingSpec, value: Any, source: str) -> Any:
    try:
        return spec.convert(value)
    except (TypeError, ValueError) as exc:
        if spec.secret:
            raise SettingsError(f"{source}: invalid value: {exc}") from None
        shown = ", ".join(map(str, value)) if isinstance(value, (list, tuple)) else value
        raise SettingsError(f"{source}: invalid value {shown!r}: {exc}") from None


def resolve(cli: Mapping[str, Any], env: Mapping[str, str], file: Mapping[str, Any],
            file_name: str = "index [server]") -> Settings:
    """Merge the three sources by precedence. ``cli`` values of None mean "not given"."""
    values: dict[str, Any] = {}
    extra = {key: value for key, value in file.items() if key not in SPECS_BY_NAME}
    for spec in SETTING_SPECS:
        name = spec.name
        if cli.get(name) is not None:
            values[name] = _convert(spec, cli[name], spec.option)
        elif spec.variable in env:
            values[name] = _convert(spec, env[spec.variable], spec.variable)
        elif name in file:
            values[name] = _convert(spec, file[name], f"{file_name}: {name}")
    return Settings(**values, extra=extra)


def unknown_keys_warning(settings: Settings, source: str) -> str | None:
    """One line naming the ``[server]`` keys nobody reads (a typo like ``max_conections``
    would otherwise be ignored in silence), with the setting each was probably meant to be."""
    if not settings.extra:
        return None
    shown = []
    for key in sorted(settings.extra):
        close = difflib.get_close_matches(str(key), SETTING_NAMES, n=1)
        shown.append(f"{key!r} (did you mean {close[0]!r}?)" if close else repr(key))
    return (f"{source}: unknown setting{'s' if len(shown) > 1 else ''} "
            f"{', '.join(shown)}: ignored (see sample_library.toml for every setting)")
