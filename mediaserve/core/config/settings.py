"""Server settings and where they come from.

Precedence, highest first: command-line flags, ``MEDIASERVE_*`` environment variables, the
``[server]`` table of the library index (or of ``--config FILE``), built-in defaults. Merging is
pure so it can be tested without a process environment; every invalid value is reported
with the place it came from, because "port must be an integer" is useless when there are
three places a port can be set.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

ENV_PREFIX = "MEDIASERVE_"


class SettingsError(ValueError):
    """An invalid setting; the message names its source (flag, variable or file)."""


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything ``serve`` can be told. Field docs are the user-facing documentation."""

    host: str = "127.0.0.1"  # interface to bind; loopback unless told otherwise
    port: int = 8080  # TCP port; 0 picks a free one
    cache_control: str = "no-cache"  # Cache-Control of stream responses
    cors_origins: tuple[str, ...] = ()  # allowed origins for cross-origin players; none by default
    open_ended_cap: int = 0  # max bytes answered to one `bytes=N-` request; 0 = off
    max_ranges: int = 100  # more ranges than this in one request: answered 200 (whole file)
    access_log: str = "-"  # "-" stderr, "off", or a file path (combined log format)
    shutdown_timeout: float = 10.0  # seconds streams may finish after SIGINT/SIGTERM
    sendfile: bool = True  # zero-copy bodies; false forces the chunked fallback (TLS always)
    extra: dict[str, Any] = field(default_factory=dict, compare=False)  # unknown keys


def _to_int(minimum: int, maximum: int) -> Callable[[Any], int]:
    def convert(value: Any) -> int:
        if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
            raise ValueError("expected an integer")  # never silently truncate 80.5 to 80
        number = int(value)
        if not minimum <= number <= maximum:
            raise ValueError(f"must be between {minimum} and {maximum}")
        return number

    return convert


def _to_float(value: Any) -> float:
    number = float(value)
    if not math.isfinite(number) or number < 0:  # nan/inf: shutdown would never end
        raise ValueError("must be a finite, non-negative number")
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


def _to_host(value: Any) -> str:
    host = _to_str(value)
    if not host.strip():  # asyncio binds every interface for "": never by accident
        raise ValueError("must not be empty (use 0.0.0.0 to listen on all interfaces)")
    return host


_CONVERTERS: dict[str, Callable[[Any], Any]] = {
    "host": _to_host,
    "port": _to_int(0, 65535),
    "cache_control": _to_str,
    "cors_origins": _to_origins,
    "open_ended_cap": _to_int(0, 1 << 62),
    "max_ranges": _to_int(1, 10_000),
    "access_log": _to_str,
    "shutdown_timeout": _to_float,
    "sendfile": _to_bool,
}

SETTING_NAMES = tuple(f.name for f in fields(Settings) if f.name != "extra")


def _convert(name: str, value: Any, source: str) -> Any:
    try:
        return _CONVERTERS[name](value)
    except (TypeError, ValueError) as exc:
        raise SettingsError(f"{source}: invalid value {value!r}: {exc}") from None


def resolve(cli: Mapping[str, Any], env: Mapping[str, str], file: Mapping[str, Any],
            file_name: str = "index [server]") -> Settings:
    """Merge the three sources by precedence. ``cli`` values of None mean "not given"."""
    values: dict[str, Any] = {}
    extra = {key: value for key, value in file.items() if key not in _CONVERTERS}
    for name in SETTING_NAMES:
        if cli.get(name) is not None:
            values[name] = _convert(name, cli[name], f"--{name.replace('_', '-')}")
        elif f"{ENV_PREFIX}{name.upper()}" in env:
            variable = f"{ENV_PREFIX}{name.upper()}"
            values[name] = _convert(name, env[variable], variable)
        elif name in file:
            values[name] = _convert(name, file[name], f"{file_name}: {name}")
    return Settings(**values, extra=extra)
