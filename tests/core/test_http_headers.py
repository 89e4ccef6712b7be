"""Pure header builders: Content-Disposition for any file name, and the CORS decisions."""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import unquote

import pytest
from aiohttp.multipart import content_disposition_filename, parse_content_disposition
from hypothesis import given
from hypothesis import strategies as st

from mediaserve.core.http.headers import content_disposition, cors_headers, cors_preflight
from mediaserve.core.text.controls import BIDI_CONTROLS, strip_controls

# RFC 6266 with an RFC 8187 ext-value: the only two shapes we produce
DISPOSITION = re.compile(
    r"(?P<type>inline|attachment); filename=\"(?P<ascii>[\x20-\x7e]*)\""
    r"(?:; filename\*=UTF-8''(?P<exact>[A-Za-z0-9!#$&+\-.^_`|~%]*))?")
ATTR_OR_PCT = re.compile(r"(?:[A-Za-z0-9!#$&+\-.^_`|~]|%[0-9A-F]{2})*")


def parse(value: str) -> re.Match[str]:
    match = DISPOSITION.fullmatch(value)
    assert match, value
    assert '"' not in match["ascii"] and "\\" not in match["ascii"]
    return match


def test_plain_ascii_name_has_no_extended_parameter() -> None:
    assert content_disposition("movie.mp4") == 'inline; filename="movie.mp4"'
    assert content_disposition("Holiday-2024_v2.mkv") == 'inline; filename="Holiday-2024_v2.mkv"'


def test_only_the_last_path_component_is_named() -> None:
    assert content_disposition("a/b/Camera Roll/clip.mp4").startswith(
        'inline; filename="clip.mp4"')


def test_disposition_type() -> None:
    assert content_disposition("x.mp4", "attachment") == 'attachment; filename="x.mp4"'


def test_a_space_keeps_the_ascii_name_and_adds_the_exact_one() -> None:
    value = content_disposition("my movie.mp4")
    match = parse(value)
    assert match["ascii"] == "my movie.mp4"
    assert match["exact"] == "my%20movie.mp4"


@pytest.mark.parametrize(("name", "ascii_name"), [
    ('say "hi".mp4', "say _hi_.mp4"),
    ("back\\slash.mp4", "back_slash.mp4"),
    ("line\r\nX-Evil: 1.mp4", "lineX-Evil: 1.mp4"),  # control characters are dropped
    ("tab\there.mp4", "tabhere.mp4"),
    ("del\x7f.mp4", "del.mp4"),
    ("rtl\u202egpj.mp4", "rtlgpj.mp4"),  # and bidi ones: it would show as "rtlmp4.jpg"
    ("Café Crème.mp4", "Cafe Creme.mp4"),
    ("ﬁlm.mp4", "film.mp4"),  # NFKD turns the ligature into letters
    ("日本語のビデオ.mp4", ".mp4"),
    ("日本語", "video"),
    ("  padded  .mp4", "padded  .mp4"),
    ("100%.mp4", "100%.mp4"),
])
def test_hostile_and_unicode_names(name: str, ascii_name: str) -> None:
    value = content_disposition(name)
    assert "\r" not in value and "\n" not in value
    assert value.isascii()
    match = parse(value)
    assert match["ascii"] == ascii_name
    exact = match["exact"] or match["ascii"]  # none when the ASCII name is the whole name
    assert unquote(exact, errors="strict") == strip_controls(name)


@pytest.mark.parametrize("name", ['say "hi".mp4', "Café Crème.mp4", "日本語のビデオ.mp4",
                                  "line\r\nX-Evil: 1 é.mp4", "50% off; really.mp4",
                                  "\u202e\u2066bidi é\x1b[31m.mp4"])
def test_an_independent_rfc6266_parser_recovers_the_exact_name(name: str) -> None:
    """aiohttp's client-side parser (which prefers filename*, as browsers do): the exact
    name but its control and bidi characters."""
    kind, params = parse_content_disposition(content_disposition(name))
    assert kind == "inline"
    assert set(params) == {"filename", "filename*"}
    assert content_disposition_filename(params) == strip_controls(name)
    assert not BIDI_CONTROLS.intersection(content_disposition_filename(params))


NAMES = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)


@given(path=st.lists(NAMES, min_size=1, max_size=3).map("/".join),
       kind=st.sampled_from(["inline", "attachment"]))
def test_any_name_gives_one_safe_header_value(path: str, kind: str) -> None:
    value = content_disposition(path, kind)
    assert all(0x20 <= ord(c) < 0x7F for c in value), value  # no CR, LF, NUL, obs-text
    match = parse(value)
    assert match["type"] == kind
    name = strip_controls(path.rsplit("/", 1)[-1]) or "video"
    if match["exact"] is None:
        assert match["ascii"] == name
    else:
        assert ATTR_OR_PCT.fullmatch(match["exact"])
        assert unquote(match["exact"], errors="strict") == name
    for shown in (match["ascii"], unquote(match["exact"] or "")):  # nothing a browser reorders
        assert not any(c in BIDI_CONTROLS or unicodedata.category(c) == "Cc" for c in shown)
    assert match["ascii"] == match["ascii"].strip()
    assert match["ascii"]  # never an empty filename=""
    if name:
        _, params = parse_content_disposition(value)
        assert content_disposition_filename(params) == name


# --- CORS ---------------------------------------------------------------------------------

ALLOWED = ("https://player.example", "http://localhost:3000")


def test_no_allow_list_means_no_headers_at_all() -> None:
    for origin in (None, "https://player.example", "null", ""):
        assert cors_headers(origin, ()) == []
        assert cors_preflight(origin, "GET", ()) is None


def test_allowed_origin_is_echoed_with_credentials_and_exposed_headers() -> None:
    headers = dict(cors_headers("https://player.example", ALLOWED))
    assert headers["Access-Control-Allow-Origin"] == "https://player.example"
    assert headers["Access-Control-Allow-Credentials"] == "true"
    assert headers["Vary"] == "Origin"
    exposed = {h.strip() for h in headers["Access-Control-Expose-Headers"].split(",")}
    assert {"Content-Range", "Content-Length", "Accept-Ranges", "ETag"} <= exposed
    assert len(cors_headers("https://player.example", ALLOWED)) == len(headers)  # no dupes


def test_a_trailing_slash_still_matches_and_is_echoed_verbatim() -> None:
    headers = dict(cors_headers("http://localhost:3000/", ALLOWED))
    assert headers["Access-Control-Allow-Origin"] == "http://localhost:3000/"


@pytest.mark.parametrize("origin", [
    None, "null", "", "https://evil.example", "http://player.example",
    "https://player.example:8443", "https://player.example.evil.example",
    "https://sub.player.example", "http://localhost:3001", "http://localhost",
    "https://player.example/path", " https://player.example"])
def test_other_origins_get_only_vary(origin: str | None) -> None:
    assert cors_headers(origin, ALLOWED) == [("Vary", "Origin")]
    assert cors_preflight(origin, "GET", ALLOWED) is None


@pytest.mark.parametrize("method", ["GET", "HEAD", "get", "head"])
def test_preflight_for_reading_methods(method: str) -> None:
    headers = cors_preflight("https://player.example", method, ALLOWED)
    assert headers is not None
    found = dict(headers)
    assert len(found) == len(headers)
    assert found["Access-Control-Allow-Origin"] == "https://player.example"
    assert found["Access-Control-Allow-Credentials"] == "true"
    assert found["Vary"] == "Origin"
    methods = {m.strip() for m in found["Access-Control-Allow-Methods"].split(",")}
    assert {"GET", "HEAD"} <= methods
    assert not methods & {"POST", "PUT", "DELETE", "PATCH"}
    allowed = {h.strip().lower() for h in found["Access-Control-Allow-Headers"].split(",")}
    assert {"range", "if-range", "if-none-match", "if-modified-since"} <= allowed
    assert int(found["Access-Control-Max-Age"]) > 0


@pytest.mark.parametrize("method", [None, "", "POST", "PUT", "DELETE", "OPTIONS", "GETX"])
def test_preflight_refused_for_other_methods(method: str | None) -> None:
    assert cors_preflight("https://player.example", method, ALLOWED) is None


@given(origin=st.one_of(st.none(), st.text(max_size=40)),
       allowed=st.lists(st.sampled_from((*ALLOWED, "https://x.example")), max_size=3,
                        unique=True).map(tuple))
def test_allow_origin_only_ever_names_an_allowed_origin(origin: str | None,
                                                        allowed: tuple[str, ...]) -> None:
    headers = dict(cors_headers(origin, allowed))
    if not allowed:
        assert headers == {}
        return
    assert headers["Vary"] == "Origin"
    if "Access-Control-Allow-Origin" in headers:
        assert headers["Access-Control-Allow-Origin"] == origin
        assert origin is not None and origin.rstrip("/") in allowed
    else:
        assert origin is None or origin.rstrip("/") not in allowed


@pytest.mark.parametrize("name", [";;", "a;;b.mp4", ";", "x; y;.webm"])
def test_semicolons_survive_a_naive_client_parser(name: str) -> None:
    """Found by the property test above: aiohttp's parser dropped the whole header for
    `filename=";;"`. The ASCII fallback now avoids `;`; filename* carries the exact name."""
    _, params = parse_content_disposition(content_disposition(name))
    assert content_disposition_filename(params) == name
    assert ";" not in params["filename"]
