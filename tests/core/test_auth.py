"""Pure access-control pieces: password hashes, users files, cookies, hosts, redaction,
content-coding negotiation."""

from __future__ import annotations

import base64

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from yarl import URL

from mediaserve.core.http import auth
from mediaserve.core.http.encoding import choose_encoding, etag_matches
from mediaserve.core.http.request_head import query_value
from tests.complexity import growth

FAST = {"n": 1 << 4, "r": 1, "p": 1}  # scrypt's cost parameters do not change the logic


def test_password_hash_round_trip_with_a_salt_per_user() -> None:
    one = auth.hash_password("pw", b"s" * 16, **FAST)
    two = auth.hash_password("pw", b"t" * 16, **FAST)
    assert one != two and "pw" not in one
    assert auth.verify_password("pw", one) and auth.verify_password("pw", two)
    assert not auth.verify_password("pW", one)
    assert not auth.verify_password("pw", "plain-text")
    assert not auth.verify_password("pw", "scrypt$x$1$1$AAAA$AAAA")
    default = auth.hash_password("pw", b"s" * 16)
    assert default.startswith(f"scrypt${auth.SCRYPT_N}${auth.SCRYPT_R}${auth.SCRYPT_P}$")


def test_users_file_accepts_hashes_only() -> None:
    entry = auth.hash_password("secret", b"salt" * 4, **FAST)
    text = auth.set_user("# users\n", "alice", entry)
    text = auth.set_user(text, "bob", entry)
    text = auth.set_user(text, "alice", entry.replace("scrypt$16", "scrypt$32"))
    users = auth.parse_users(text)
    assert list(users) == ["alice", "bob"] and users["alice"].startswith("scrypt$32$")
    assert text.startswith("# users\n")
    with pytest.raises(ValueError, match=r"users file:1: not a") as info:
        auth.parse_users("carol:hunter2\n")
    assert "hunter2" not in str(info.value)
    with pytest.raises(ValueError):
        auth.set_user("", "a:b", entry)


def test_tokens_and_their_errors_never_echo_the_token() -> None:
    assert auth.check_token("A" * 16) == "A" * 16
    for bad in ("short", "has space in it!!", "quote\"quote-quote-quote"):
        with pytest.raises(ValueError) as info:
            auth.check_token(bad)
        assert bad not in str(info.value)


def test_cookies_are_macs_not_secrets() -> None:
    token = "t" * 20
    cookie = auth.token_cookie(token)
    assert token not in cookie and cookie != auth.token_cookie(token + "x")
    user = auth.user_cookie("Zoë", "scrypt$1$1$1$a$b")
    assert auth.cookie_user(user) == "Zoë"
    assert user != auth.user_cookie("Zoë", "scrypt$1$1$1$a$c")  # new password, new cookie
    assert auth.cookie_user("t.abc") is None and auth.cookie_user("u.%%%.x") is None


def test_basic_and_authorization_parsing() -> None:
    creds = base64.b64encode(b"alice:pa:ss").decode()
    assert auth.split_authorization(f"Basic {creds}") == ("basic", creds)
    assert auth.parse_basic(creds) == ("alice", "pa:ss")
    assert auth.parse_basic("!!!") is None
    assert auth.parse_basic(base64.b64encode(b"nocolon").decode()) is None
    assert auth.split_authorization(None) is None


@pytest.mark.parametrize(("host", "ok"), [
    ("localhost", True), ("localhost:8080", True), ("127.0.0.1:80", True), ("[::1]:8080", True),
    ("10.1.2.3", True), ("media.lan", True), ("MEDIA.LAN.", True), ("evil.example", False),
    ("evil.example:8080", False), ("localhost.evil.example", False), ("", False),
    (None, True), ("[::1]", True), ("[::1]:", True), ("[::1]:80", True),
    # after a bracketed address, only :port (ASCII digits)
    ("[::1]evil.example", False), ("[::1].evil.example", False), ("[::1]:80x", False),
    ("[::1]:80:80", False), ("[::1]:١٢", False), ("[::1]@evil.example", False),
    ("[::1", False), ("[]", False), ("[evil.example]", False), ("localhost:١", False),
])
def test_host_policy(host: str | None, ok: bool) -> None:
    policy = auth.HostPolicy.build("127.0.0.1", ("media.lan",))
    assert policy.allows(host) is ok
    assert auth.HostPolicy.build("127.0.0.1", ("*",)).allows("anything.example")
    assert auth.HostPolicy.build("myhost.lan", ()).allows("myhost.lan:8080")


def test_exposure_warning() -> None:
    for host in ("127.0.0.1", "127.1.2.3", "::1", "localhost"):
        assert auth.exposure_warning(host, protected=False) is None
    for host in ("0.0.0.0", "::", "192.168.1.2", "myhost.lan"):
        assert host in (auth.exposure_warning(host, protected=False) or "")
        assert auth.exposure_warning(host, protected=True) is None


@given(st.text(alphabet="abcXYZ019-_.~", min_size=1, max_size=40))
def test_redact_removes_any_token_value(value: str) -> None:
    for text in (f"GET /a?token={value} HTTP/1.1", f'"http://h/?x=1&token={value}" "ua"',
                 f"/p?Token={value}&b=2"):
        cleaned = auth.redact(text)
        assert f"token={value}" not in cleaned.lower() or value.lower() == "redacted"
        assert "REDACTED" in cleaned
    assert auth.redact("/p?mytoken=abc") == "/p?mytoken=abc"  # not our parameter


# every spelling aiohttp (yarl) and the fast path (parse_qsl) read as ``token``: each letter
# as itself, in upper case, or percent-escaped in either case of hex digit
_SPELLINGS = st.tuples(*(st.sampled_from([c, c.upper(), f"%{ord(c):02x}", f"%{ord(c):02X}"])
                         for c in "token")).map("".join)
_TOKEN68 = "ABCXYZabcxyz0189-._~+/"
_SECRET = st.text(_TOKEN68, min_size=16, max_size=24)
_OTHER = st.text("abtokenTOKEN%=+?;/25", max_size=8)  # no "#": a fragment is never sent


def _escape_some(secret: str, which: list[bool]) -> str:
    """``secret`` as a URL may carry it: some characters percent-escaped, ``+`` always (a
    bare ``+`` is a space in a query)."""
    return "".join(f"%{ord(c):02X}" if flag or c == "+" else c
                   for c, flag in zip(secret, which + [False] * len(secret), strict=False))


def _query_values(target: str) -> list[tuple[str, str]]:
    """The query pairs of ``target`` as aiohttp reads them and as the fast path does."""
    query = URL(target, encoded=True).raw_query_string
    pairs = list(URL(target, encoded=True).query.items())
    fast = [(key, query_value(query, key)) for key, _ in pairs]
    return pairs + [(key, value) for key, value in fast if value is not None]


@given(key=_SPELLINGS, secret=_SECRET, escaped=st.lists(st.booleans(), max_size=24),
       before=st.lists(st.tuples(_OTHER, _OTHER), max_size=3),
       after=st.lists(st.tuples(_OTHER, _OTHER), max_size=3))
def test_no_spelling_of_the_token_parameter_survives_redaction(
        key: str, secret: str, escaped: list[bool], before: list[tuple[str, str]],
        after: list[tuple[str, str]]) -> None:
    sent = _escape_some(secret, escaped)
    params = [f"{k}={v}" for k, v in before] + [f"{key}={sent}"] + [f"{k}={v}"
                                                                    for k, v in after]
    target = "/api/videos/0123456789ab/stream?" + "&".join(params)
    read = [value for name, value in _query_values(target) if name == "token"]
    assume(secret in read)  # the server would take it (another pair may shadow it)
    for text in (target, f"GET {target} HTTP/1.1", f'"http://host:8080{target}" "agent"'):
        cleaned = auth.redact(text)
        assert secret not in cleaned and sent not in cleaned, cleaned
    cleaned = auth.redact(target)
    assert all(value == auth.REDACTED for name, value in _query_values(cleaned)
               if name.lower() == "token"), cleaned


@given(st.text("tokenTOKEN%74%6f6F=&?;+# \"'abc", max_size=60))
def test_after_redaction_no_token_parameter_holds_anything_else(query: str) -> None:
    target = "/x?" + query.replace(" ", "").replace('"', "").replace("'", "")
    cleaned = auth.redact(target)
    for name, value in _query_values(cleaned):
        if name.lower() == "token":  # ("token" with no "=" has nothing to hide)
            assert value in ("", auth.REDACTED), (target, cleaned)


@pytest.mark.parametrize("make", [
    lambda n: "/x?" + "%74oken=a" * n,
    lambda n: "/x?" + "&%74oken=" * n,
    lambda n: "/x?" + "?" * n + "token=a",
    lambda n: "/x?token=" + "?;" * n,
    lambda n: "/x?" + "%" * n + "=1",
    lambda n: "/x?" + "=" * n,
    lambda n: '"' + "a=b " * n + '"',
])
def test_redaction_is_linear(make) -> None:
    assert growth(lambda n: auth.redact(make(n)), 2000) < 2.3


@pytest.mark.parametrize(("header", "expected"), [
    (None, "identity"), ("", "identity"), ("gzip", "gzip"), ("GZIP, deflate", "gzip"),
    ("gzip;q=0", "identity"), ("*", "gzip"), ("*;q=0", "identity"), ("deflate", "identity"),
    ("gzip;q=0.5, identity", "gzip"), ("gzip;q=bad", "identity"), ("br", "identity"),
])
def test_choose_encoding(header: str | None, expected: str) -> None:
    assert choose_encoding(header, ("gzip",)) == expected


def test_choose_encoding_prefers_our_order_on_ties_and_the_client_weights() -> None:
    assert choose_encoding("gzip, br", ("br", "gzip")) == "br"
    assert choose_encoding("gzip, br;q=0.5", ("br", "gzip")) == "gzip"


def test_etag_matches() -> None:
    tags = ('"abc"', '"abc-gzip"')
    assert etag_matches('"abc"', tags) and etag_matches('W/"abc-gzip"', tags)
    assert etag_matches('"x", "abc"', tags) and etag_matches("*", tags)
    assert not etag_matches('"ab"', tags) and not etag_matches(None, tags)


def test_new_hashes_cost_2_17_and_old_ones_still_verify_then_want_a_rehash() -> None:
    assert (auth.SCRYPT_N, auth.SCRYPT_R, auth.SCRYPT_P) == (1 << 17, 8, 1)
    assert auth.SCRYPT_MAXMEM >= 128 * 1024 * 1024  # what N = 2^17, r = 8 needs
    old = auth.hash_password("pw", b"s" * 16, n=1 << 14)  # what passwd made before
    assert auth.verify_password("pw", old) and auth.needs_rehash(old)
    assert auth.parse_users(f"alice:{old}\n") == {"alice": old}
    assert not auth.needs_rehash("scrypt$131072$8$1$c2FsdA==$aGFzaA==")


@pytest.mark.parametrize("cost", ["262144$8$1", "131072$8$2", "2097152$1$1", "3$8$1",
                                  "0$8$1", "16384$0$1"])
def test_a_users_file_line_beyond_the_memory_bound_is_refused_at_start(cost: str) -> None:
    with pytest.raises(ValueError, match=r"users file:2: the hash of bob") as info:
        auth.parse_users(f"# x\nbob:scrypt${cost}$c2FsdA==$aGFzaA==\n")
    assert "mediaserve passwd" in str(info.value)


@pytest.mark.parametrize("field", ["１６", "²", "9" * 5000, "-1"])
def test_odd_numbers_in_a_hash_are_not_a_hash(field: str) -> None:
    with pytest.raises(ValueError, match="not a 'user:scrypt"):
        auth.parse_users(f"bob:scrypt${field}$8$1$c2FsdA==$aGFzaA==\n")


def test_the_decoy_costs_what_a_known_user_costs_and_matches_nothing() -> None:
    old = auth.hash_password("pw", b"s" * 16, n=1 << 14)
    decoy = auth.decoy_hash(b"d" * 16, b"e" * 32, like=old)
    assert auth.hash_cost(decoy) == (1 << 14, 8, 1)
    assert not auth.verify_password("pw", decoy) and not auth.verify_password("", decoy)
    assert auth.hash_cost(auth.decoy_hash(b"d" * 16, b"e" * 32)) == (1 << 17, 8, 1)
