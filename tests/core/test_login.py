"""The login form's pure decisions: where ``next`` may lead, and what a forged post looks
like (issue 17, finding 3)."""

from __future__ import annotations

import re
from urllib.parse import urljoin, urlsplit

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from mediaserve.core.http import login
from mediaserve.core.http.login import BadTarget, forged_post, login_target

#: the pieces open redirects are made of, so hypothesis reaches them quickly
TRICKY = st.lists(st.sampled_from(
    ["/", "\\", "\t", "\n", "\r", " ", "\x00", "\x0b", "\x1f", "\x7f", ":", ".", "@", "?",
     "#", "%", "%2F", "%09", "evil.host", "h", "http", "javascript", "login", "é", "\u3000",
     "\ufeff", "token="]), max_size=12).map("".join)


def whatwg_clean(value: str) -> str:
    """What a browser's URL parser does first to a relative URL: strip leading and
    trailing C0 controls and spaces, delete tabs and newlines, read ``\\`` as ``/``."""
    value = value.strip("".join(chr(c) for c in range(0x21)))
    value = re.sub(r"[\t\n\r]", "", value)
    return value.replace("\\", "/")


@given(st.one_of(TRICKY, st.text(max_size=40)))
@example("/\t/evil.host")
@example("/\\evil.host")
@example("\\/evil.host")
@example(" //evil.host")
@example("/%09/evil.host")
def test_an_accepted_target_stays_on_this_host_in_any_parser(value: str) -> None:
    try:
        target = login_target(value)
    except BadTarget:
        assert re.search(r"[\x00-\x1f\x7f]", value)
        return
    assert target.startswith("/") and not target.startswith("//")
    assert whatwg_clean(target) == target  # the browser follows exactly this string
    joined = urlsplit(urljoin("http://h/", target))
    assert (joined.scheme, joined.netloc) == ("http", "h")
    assert target == "/" or target == value or "REDACTED" in target


@pytest.mark.parametrize("value", ["/\t/evil.host", "/\r\n/evil.host", "/x\nSet-Cookie: a=b",
                                   "\x00/", "/a\x7f", "/\x0b"])
def test_control_characters_are_a_bad_request(value: str) -> None:
    with pytest.raises(BadTarget, match="control characters"):
        login_target(value)


@pytest.mark.parametrize("value", [
    "//evil.host", "/\\evil.host", "\\\\evil.host", "https://evil.host/", "evil.host",
    "javascript:alert(1)", " /x", "/a b", "/caf\u00e9", "/" + "a" * 3000, "/login",
    "/login?next=/x", ""])
def test_anything_but_a_plain_local_path_goes_home(value: str) -> None:
    assert login_target(value) == "/"


@pytest.mark.parametrize("value", ["/", "/watch/0123456789ab", "/?q=caf%C3%A9&sort=name",
                                   "/api/videos?offset=10#x", "/.//x"])
def test_local_paths_are_kept(value: str) -> None:
    assert login_target(value) == value


def test_a_token_in_the_target_is_redacted() -> None:
    assert login_target("/?token=abc&x=1") == "/?token=REDACTED&x=1"


@pytest.mark.parametrize(("origin", "site", "host", "refused"), [
    (None, None, "127.0.0.1:8080", False),  # curl: the CSRF token has to do
    ("http://127.0.0.1:8080", "same-origin", "127.0.0.1:8080", False),
    ("https://media.example", "same-origin", "media.example", False),  # TLS proxy in front
    ("https://media.example:8443", None, "media.example", False),  # proxy dropped the port
    ("http://MEDIA.example.", None, "media.example:80", False),
    ("http://[::1]:8080", None, "[::1]:8080", False),
    ("http://127.0.0.1:9999", "same-site", "127.0.0.1:8080", True),  # another port
    ("https://evil.example", "cross-site", "media.example", True),
    ("https://evil.example", None, "media.example", True),
    (None, "cross-site", "media.example", True),
    ("null", None, "media.example", True),  # a sandboxed frame, a data: URL
    ("http://media.example@evil.example", None, "media.example", True),
    ("ftp://media.example", None, "media.example", True),
    ("http://media.example/path", None, "media.example", True),
    ("http://media.example", None, None, True),
    ("http://media.example", None, "media.example:notaport", True),
])
def test_forged_posts(origin: str | None, site: str | None, host: str | None,
                      refused: bool) -> None:
    reason = forged_post(origin, site, host)
    assert (reason is not None) == refused, reason
    if refused:
        assert "another site" in reason


def test_the_csrf_field_is_tied_to_its_cookie_and_the_server() -> None:
    secret, other = b"s" * 32, b"t" * 32
    nonce = "A" * 22
    token = login.csrf_token(secret, nonce)
    assert login.csrf_ok(secret, nonce, token)
    assert not login.csrf_ok(other, nonce, token)  # another server's form
    assert not login.csrf_ok(secret, "B" * 22, token)  # the attacker's own cookie
    assert not login.csrf_ok(secret, None, token) and not login.csrf_ok(secret, nonce, None)
    assert not login.csrf_ok(secret, nonce, "")
    assert not login.csrf_ok(secret, nonce, token.upper() + "\udcff")
    assert not login.csrf_nonce_ok("short") and not login.csrf_nonce_ok("a;b" * 10)
