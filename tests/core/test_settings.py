"""Settings resolution: flags > MEDIASERVE_* environment > [server] table > defaults, and
every invalid value reported with the place it came from."""

from __future__ import annotations

import dataclasses
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mediaserve.core.config.settings import (
    ENV_PREFIX,
    SETTING_NAMES,
    Settings,
    SettingsError,
    resolve,
)

#: one valid value per setting, as each source would spell it: (flag, env, file)
SAMPLES = {
    "host": ("127.0.0.2", "127.0.0.3", "127.0.0.4"),
    "port": (8001, "8002", 8003),
    "cache_control": ("public", "private", "no-store"),
    "cors_origins": (("https://a.example",), "https://b.example", ["https://c.example"]),
    "open_ended_cap": (1000, "2000", 3000),
    "max_ranges": (5, "6", 7),
    "access_log": ("off", "/tmp/env.log", "/tmp/file.log"),
    "shutdown_timeout": (1.5, "2.5", 3),
    "sendfile": (False, "false", False),
    "fast_path": (False, "no", False),
    "workers": (2, "auto", "3"),
    "worker_timeout": (5, "6", 7.5),
    "event_loop": ("asyncio", "UVLOOP", "auto"),
    "stats": (False, "off", False),
    "auth_token": ("flag-token-0123456789", "env-token-0123456789", "file-token-0123456789"),
    "auth_users": ("/tmp/flag.users", "/tmp/env.users", "/tmp/file.users"),
    "login_attempts": (3, "0", 20),
    "allowed_hosts": (("a.example",), "b.example,B2.example", ["c.example"]),
    "header_timeout": (1.5, "2", 3),
    "keepalive_timeout": (4, "5.5", 6),
    "send_timeout": (7, "8", 9.5),
    "max_connections": (10, "11", 12),
    "max_connections_per_address": (4, "5", 6),
    "tls_cert": ("/a.pem", "/b.pem", "/c.pem"),
    "tls_key": ("/a.key", "/b.key", "/c.key"),
    "hsts_max_age": (100, "200", 300),
    "transcode": (False, "off", False),
    "live_transcode": (False, "no", False),
    "transcode_workers": (3, "4", 5),
    "transcode_queue": (0, "1", 2),
    "transcode_idle": (1.5, "2", 30),
    "segment_timeout": (5, "6.5", 7),
    "cache_dir": ("/a", "/b", "/c"),
    "cache_size": (1000, "500M", "10G"),
    "state_db": ("/a/state.db", "/b/state.db", "/c/state.db"),
    "watch": (False, "no", False),
}
EXPECTED = {
    "host": ("127.0.0.2", "127.0.0.3", "127.0.0.4"),
    "port": (8001, 8002, 8003),
    "cache_control": ("public", "private", "no-store"),
    "cors_origins": (("https://a.example",), ("https://b.example",), ("https://c.example",)),
    "open_ended_cap": (1000, 2000, 3000),
    "max_ranges": (5, 6, 7),
    "access_log": ("off", "/tmp/env.log", "/tmp/file.log"),
    "shutdown_timeout": (1.5, 2.5, 3.0),
    "sendfile": (False, False, False),
    "fast_path": (False, False, False),
    "workers": (2, 0, 3),  # "auto" is 0: one per CPU, counted by the server at start-up
    "worker_timeout": (5.0, 6.0, 7.5),
    "event_loop": ("asyncio", "uvloop", "auto"),
    "stats": (False, False, False),
    "auth_token": ("flag-token-0123456789", "env-token-0123456789", "file-token-0123456789"),
    "auth_users": ("/tmp/flag.users", "/tmp/env.users", "/tmp/file.users"),
    "login_attempts": (3, 0, 20),
    "allowed_hosts": (("a.example",), ("b.example", "b2.example"), ("c.example",)),
    "header_timeout": (1.5, 2.0, 3.0),
    "keepalive_timeout": (4.0, 5.5, 6.0),
    "send_timeout": (7.0, 8.0, 9.5),
    "max_connections": (10, 11, 12),
    "max_connections_per_address": (4, 5, 6),
    "tls_cert": ("/a.pem", "/b.pem", "/c.pem"),
    "tls_key": ("/a.key", "/b.key", "/c.key"),
    "hsts_max_age": (100, 200, 300),
    "transcode": (False, False, False),
    "live_transcode": (False, False, False),
    "transcode_workers": (3, 4, 5),
    "transcode_queue": (0, 1, 2),
    "transcode_idle": (1.5, 2.0, 30.0),
    "segment_timeout": (5.0, 6.5, 7.0),
    "cache_dir": ("/a", "/b", "/c"),
    "cache_size": (1000, 500 * 1024**2, 10 * 1024**3),
    "state_db": ("/a/state.db", "/b/state.db", "/c/state.db"),
    "watch": (False, False, False),
}


def env_name(name: str) -> str:
    return f"{ENV_PREFIX}{name.upper()}"


def test_samples_cover_every_setting() -> None:
    assert set(SAMPLES) == set(SETTING_NAMES) == set(EXPECTED)


def test_defaults() -> None:
    settings = resolve({}, {}, {})
    assert settings == Settings()
    assert settings.host == "127.0.0.1"  # loopback unless told otherwise
    assert settings.cors_origins == ()  # no CORS unless told otherwise
    assert settings.open_ended_cap == 0
    assert settings.sendfile is True
    assert settings.cache_control == "no-cache"
    assert settings.watch is True  # new files appear without asking (a child process)
    assert settings.access_log == "auto"  # summarised on a terminal, every line elsewhere
    assert settings.extra == {}


@pytest.mark.parametrize("name", SETTING_NAMES)
def test_precedence_for_each_setting(name: str) -> None:
    flag, env, file = SAMPLES[name]
    want_flag, want_env, want_file = EXPECTED[name]
    default = getattr(Settings(), name)
    variable = env_name(name)
    assert getattr(resolve({name: flag}, {variable: env}, {name: file}), name) == want_flag
    assert getattr(resolve({}, {variable: env}, {name: file}), name) == want_env
    assert getattr(resolve({name: None}, {variable: env}, {name: file}), name) == want_env
    assert getattr(resolve({}, {}, {name: file}), name) == want_file
    assert getattr(resolve({name: None}, {}, {}), name) == default


def test_sources_mix_per_setting() -> None:
    settings = resolve({"port": 9000}, {"MEDIASERVE_CACHE_CONTROL": "private"},
                       {"max_ranges": 3, "port": 1})
    assert (settings.port, settings.cache_control, settings.max_ranges) == (9000, "private", 3)


def test_unrelated_environment_variables_are_ignored() -> None:
    settings = resolve({}, {"PORT": "1", "MEDIASERVE_DATA_DIR": "/x", "mediaserve_port": "2"},
                       {})
    assert settings == Settings()


def test_unknown_file_keys_are_kept_as_extra() -> None:
    settings = resolve({}, {}, {"port": 1234, "theme": "dark", "future_knob": [1, 2]})
    assert settings.port == 1234
    assert settings.extra == {"theme": "dark", "future_knob": [1, 2]}
    assert settings == dataclasses.replace(settings, extra={})  # extra is not compared


def test_settings_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        Settings().port = 1  # type: ignore[misc]


# --- errors name their source -----------------------------------------------------------

def test_flag_error_names_the_flag() -> None:
    with pytest.raises(SettingsError, match=r"^--max-ranges: invalid value 0"):
        resolve({"max_ranges": 0}, {}, {})


def test_env_error_names_the_variable() -> None:
    with pytest.raises(SettingsError, match=r"^MEDIASERVE_PORT: invalid value 'eighty'"):
        resolve({}, {"MEDIASERVE_PORT": "eighty"}, {})


def test_file_error_names_the_file_and_key() -> None:
    with pytest.raises(SettingsError, match=r"^index \[server\]: port: invalid value 70000"):
        resolve({}, {}, {"port": 70000})
    with pytest.raises(SettingsError, match=r"^/etc/ms\.toml \[server\]: sendfile: "):
        resolve({}, {}, {"sendfile": "perhaps"}, "/etc/ms.toml [server]")


def test_a_lower_source_is_not_read_when_a_higher_one_is_set() -> None:
    """An invalid variable does not matter while a flag overrides it."""
    settings = resolve({"port": 1}, {"MEDIASERVE_PORT": "eighty"}, {"port": "also bad"})
    assert settings.port == 1


def test_settings_error_is_a_value_error() -> None:
    assert issubclass(SettingsError, ValueError)


# --- conversions ------------------------------------------------------------------------

@pytest.mark.parametrize(("value", "expected"), [
    (0, 0), (65535, 65535), ("8080", 8080), (" 42 ", 42), (8080.0, 8080)])
def test_port_accepts(value, expected: int) -> None:
    assert resolve({}, {}, {"port": value}).port == expected


@pytest.mark.parametrize("value", [-1, 65536, "80a", "", True, False, None, [80], 80.5,
                                   "1e3", float("nan")])
def test_port_rejects(value) -> None:
    with pytest.raises(SettingsError, match="port"):
        resolve({}, {}, {"port": value})


@pytest.mark.parametrize(("name", "low", "high"), [
    ("max_ranges", 1, 10_000), ("open_ended_cap", 0, 1 << 62), ("port", 0, 65535),
    ("login_attempts", 0, 1_000_000)])
def test_integer_bounds(name: str, low: int, high: int) -> None:
    assert getattr(resolve({}, {}, {name: low}), name) == low
    assert getattr(resolve({}, {}, {name: high}), name) == high
    for bad in (low - 1, high + 1):
        with pytest.raises(SettingsError, match=f"between {low} and {high}"):
            resolve({}, {}, {name: bad})


@pytest.mark.parametrize("text", ["1", "true", "TRUE", " yes ", "on", "On"])
def test_sendfile_true_spellings(text: str) -> None:
    assert resolve({}, {"MEDIASERVE_SENDFILE": text}, {}).sendfile is True


@pytest.mark.parametrize("text", ["0", "false", "False", "no", " off"])
def test_sendfile_false_spellings(text: str) -> None:
    assert resolve({}, {"MEDIASERVE_SENDFILE": text}, {}).sendfile is False


@pytest.mark.parametrize("text", ["", "2", "maybe", "nope", "y"])
def test_sendfile_rejects(text: str) -> None:
    with pytest.raises(SettingsError, match="MEDIASERVE_SENDFILE"):
        resolve({}, {"MEDIASERVE_SENDFILE": text}, {})


@pytest.mark.parametrize(("value", "expected"), [
    ("0", 0.0), ("2.5", 2.5), (10, 10.0), (0.25, 0.25)])
def test_shutdown_timeout_accepts(value, expected: float) -> None:
    assert resolve({}, {}, {"shutdown_timeout": value}).shutdown_timeout == expected


@pytest.mark.parametrize("value", ["-1", -0.5, "soon", "nan", "inf", float("inf"),
                                   float("nan"), None])
def test_shutdown_timeout_rejects(value) -> None:
    """NaN or infinity would make shutdown wait forever (or compare false everywhere)."""
    with pytest.raises(SettingsError, match="shutdown_timeout"):
        resolve({}, {}, {"shutdown_timeout": value})


@pytest.mark.parametrize(("value", "expected"), [
    ("https://a.example", ("https://a.example",)),
    ("https://a.example/, http://localhost:3000 ,", ("https://a.example",
                                                     "http://localhost:3000")),
    (["https://a.example/", " http://b.example "], ("https://a.example", "http://b.example")),
    ("", ()),
    ([], ()),
])
def test_cors_origins_accepts(value, expected: tuple[str, ...]) -> None:
    assert resolve({}, {}, {"cors_origins": value}).cors_origins == expected
    if isinstance(value, str):
        assert resolve({}, {"MEDIASERVE_CORS_ORIGINS": value}, {}).cors_origins == expected


@pytest.mark.parametrize("value", ["*", "https://a.example,*", ["*"], "a.example",
                                   "ftp://a.example", ["https://a.example", "//b.example"]])
def test_cors_origins_rejects(value) -> None:
    with pytest.raises(SettingsError, match="cors_origins"):
        resolve({}, {}, {"cors_origins": value})


def test_cors_wildcard_message_explains_why() -> None:
    with pytest.raises(SettingsError, match="credentials"):
        resolve({}, {"MEDIASERVE_CORS_ORIGINS": "*"}, {})


@pytest.mark.parametrize("name", ["cache_control", "access_log", "host"])
@pytest.mark.parametrize("value", ["a\r\nSet-Cookie: x=1", "a\nb", "a\rb", 5, ["x"]])
def test_strings_reject_line_breaks_and_non_strings(name: str, value) -> None:
    with pytest.raises(SettingsError, match=name):
        resolve({}, {}, {name: value})


@pytest.mark.parametrize("value", ["", "   "])
def test_an_empty_host_is_rejected(value: str) -> None:
    """An empty host makes asyncio listen on every interface: an exported-but-empty
    MEDIASERVE_HOST must not silently expose the library to the network."""
    with pytest.raises(SettingsError, match="MEDIASERVE_HOST"):
        resolve({}, {"MEDIASERVE_HOST": value}, {})


@given(st.text().filter(lambda t: "\r" not in t and "\n" not in t))
def test_cache_control_is_passed_through_verbatim(value: str) -> None:
    assert resolve({"cache_control": value}, {}, {}).cache_control == value


@given(st.builds(lambda a, brk, b: a + brk + b, st.text(),
                 st.sampled_from(["\r", "\n", "\r\n"]), st.text()))
def test_cache_control_with_a_line_break_is_always_rejected(value: str) -> None:
    with pytest.raises(SettingsError, match="--cache-control"):
        resolve({"cache_control": value}, {}, {})


@given(st.floats(allow_nan=True, allow_infinity=True))
def test_shutdown_timeout_is_finite_and_not_negative(value: float) -> None:
    try:
        settings = resolve({}, {}, {"shutdown_timeout": value})
    except SettingsError:
        assert math.isnan(value) or math.isinf(value) or value < 0
    else:
        assert math.isfinite(settings.shutdown_timeout) and settings.shutdown_timeout >= 0


# --- one declaration per setting: flags, variables and messages come from it --------------


def test_every_setting_has_one_spec_with_flag_variable_and_help() -> None:
    from mediaserve.core.config.settings import SETTING_SPECS, Settings

    defaults = Settings()
    for spec in SETTING_SPECS:
        assert getattr(defaults, spec.name) == spec.default
        assert spec.variable == f"MEDIASERVE_{spec.name.upper()}"
        assert spec.option.startswith("--") and "_" not in spec.option
        assert spec.help.strip()


@pytest.mark.parametrize(("cli", "env", "message"), [
    ({"cors_origins": ("foo",)}, {}, "--cors-origin: invalid value 'foo'"),
    ({"port": "abc"}, {}, "--port: invalid value 'abc': expected a whole number"),
    ({}, {"MEDIASERVE_PORT": "xyz"}, "MEDIASERVE_PORT: invalid value 'xyz': expected a whole"),
    ({}, {"MEDIASERVE_SHUTDOWN_TIMEOUT": "soon"}, "expected a number of seconds"),
])
def test_errors_name_the_flag_users_typed_in_words(cli, env, message) -> None:
    with pytest.raises(SettingsError) as caught:
        resolve(cli, env, {})
    assert message in str(caught.value)
    assert "invalid literal" not in str(caught.value)
    assert "could not convert" not in str(caught.value)


def test_serve_help_shows_defaults_from_settings() -> None:
    from click.testing import CliRunner

    from mediaserve.cli import cli
    from mediaserve.core.config.settings import SETTING_SPECS

    text = " ".join(CliRunner().invoke(cli, ["serve", "--help"], terminal_width=200).output
                    .split())
    for spec in SETTING_SPECS:
        assert spec.option in text
        assert f"[default: {spec.shown_default()}; env: {spec.variable}]" in text


@pytest.mark.parametrize(("name", "value"), [("workers", "0"), ("workers", "two"),
                                             ("workers", 1.5), ("event_loop", "trio")])
def test_bad_workers_and_event_loop_name_their_source(name: str, value: object) -> None:
    with pytest.raises(SettingsError, match=env_name(name)):
        resolve({}, {env_name(name): value}, {})  # type: ignore[dict-item]


def test_limits_default_to_nginx() -> None:
    settings = Settings()
    # client_header_timeout, keepalive_timeout, send_timeout
    assert (settings.header_timeout, settings.keepalive_timeout, settings.send_timeout) == (
        60.0, 75.0, 60.0)
    assert settings.max_connections == 0  # derived from the descriptor limit at start
    assert (settings.tls_cert, settings.tls_key, settings.hsts_max_age) == ("", "", 0)


@pytest.mark.parametrize("name", ["header_timeout", "keepalive_timeout", "send_timeout"])
@pytest.mark.parametrize("value", ["0", "-1", "nan", "inf", "86401", "soon"])
def test_connection_timeouts_must_be_positive_and_bounded(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=env_name(name)):
        resolve({}, {env_name(name): value}, {})


@pytest.mark.parametrize("bad", ["-1", "10X", "1.5G", "", "2P", True])
def test_cache_size_refuses_what_is_not_a_size(bad) -> None:
    with pytest.raises(SettingsError, match="cache_size"):
        resolve({}, {}, {"cache_size": bad})


def test_unknown_keys_are_named_with_what_they_were_probably_meant_to_be() -> None:
    from mediaserve.core.config.settings import unknown_keys_warning

    settings = resolve({}, {}, {"max_conections": 5, "port": 8081, "colour": "red"},
                       "lib.toml [server]")
    assert settings.port == 8081 and settings.max_connections == 0
    warning = unknown_keys_warning(settings, "lib.toml [server]")
    assert warning is not None and warning.startswith("lib.toml [server]: unknown settings ")
    assert "'max_conections' (did you mean 'max_connections'?)" in warning
    assert "'colour'" in warning and "did you mean 'colour" not in warning
    assert unknown_keys_warning(resolve({}, {}, {"port": 1}, "x"), "x") is None
