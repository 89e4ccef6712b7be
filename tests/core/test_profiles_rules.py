"""Profiles' pure rules: names, colours, PINs and their lockout, preferences, the signed
cookie and the cross-site rule. Hypothesis feeds what a hostile client could send."""

from __future__ import annotations

import hmac

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mediaserve.core.profiles import cookie
from mediaserve.core.profiles.origin import cross_site_refusal
from mediaserve.core.profiles.pin import (
    FREE_TRIES,
    MAX_WAIT_S,
    check_pin,
    hash_pin,
    valid_pin_hash,
    verify_pin,
    wait_after,
)
from mediaserve.core.profiles.rules import (
    MAX_BANDWIDTH,
    MIN_BANDWIDTH,
    PALETTE,
    Preferences,
    RuleError,
    apply_preferences,
    check_colour,
    check_name,
    check_user_name,
    name_key,
    pick_colour,
    profile_key,
    stored_preferences,
)

SALT = bytes(range(16))
SECRET = b"s" * 32
PID = "0123456789abcdef"


@pytest.mark.parametrize(("given_name", "expected"), [
    ("Alice", "Alice"), ("  Bob  ", "Bob"), ("Ann   Marie", "Ann Marie"),
    ("Zoë", "Zoë"), ("Zoe\u0308", "Zoë"),  # NFC: the combining form is one name
    ("x" * 32, "x" * 32), ("家族", "家族"),
])
def test_names_are_normalised(given_name: str, expected: str) -> None:
    assert check_name(given_name) == expected


@pytest.mark.parametrize("bad", ["", "   ", "x" * 33, "a\x00b", "tab\x07", "zero\u200bwidth",
                                 "bidi\u202e", None, 3, ["Alice"]])
def test_bad_names_are_refused(bad: object) -> None:
    with pytest.raises(RuleError):
        check_name(bad)


def test_names_that_look_alike_share_a_key() -> None:
    assert name_key("ALICE") == name_key("alice") == name_key("Ａlice")
    assert profile_key("local", "Alice") == profile_key("local", "ALICE")
    assert profile_key("user", "Alice") != profile_key("user", "alice")  # Basic is exact


@pytest.mark.parametrize(("user", "ok"), [("alice", True), ("a" * 64, True), ("a" * 65, False),
                                          ("a:b", False), ("a b", False), ("", False)])
def test_user_names_follow_the_users_file(user: str, ok: bool) -> None:
    if ok:
        assert check_user_name(user) == user
    else:
        with pytest.raises(RuleError):
            check_user_name(user)


def test_colours() -> None:
    assert check_colour("#AbCdEf") == "#abcdef"
    for bad in ("abcdef", "#abcde", "#abcdefg", "#ggg000", "red", 0xABCDEF, None):
        with pytest.raises(RuleError):
            check_colour(bad)
    assert pick_colour([]) == PALETTE[0]
    assert pick_colour([PALETTE[0].upper()]) == PALETTE[1]
    assert pick_colour(PALETTE) == PALETTE[0]


@pytest.mark.parametrize(("pin", "ok"), [("1234", True), ("00001234", True), ("123", False),
                                         ("123456789", False), ("12a4", False), (1234, False),
                                         ("١٢٣٤", False), (" 1234", False), (None, False)])
def test_pins_are_four_to_eight_ascii_digits(pin: object, ok: bool) -> None:
    if ok:
        assert check_pin(pin) == pin
    else:
        with pytest.raises(RuleError) as caught:
            check_pin(pin)
        assert str(pin) not in str(caught.value) or pin is None


def test_pin_hashes_are_salted_and_verify() -> None:
    stored = hash_pin("1234", SALT)
    assert "1234" not in stored and valid_pin_hash(stored)
    assert verify_pin("1234", stored)
    assert not verify_pin("1235", stored)
    assert hash_pin("1234", bytes(16)) != stored  # another salt, another hash
    for broken in ("", "hs256$$", stored.replace("hs256", "md5"), stored[:-1],
                   "hs256$!!!$" + "0" * 64, stored + "$x"):
        assert not valid_pin_hash(broken) and not verify_pin("1234", broken)


def test_wrong_pins_wait_longer_and_longer_up_to_a_cap() -> None:
    waits = [wait_after(n) for n in range(40)]
    assert waits[:FREE_TRIES] == [0.0] * FREE_TRIES
    assert waits[FREE_TRIES] == 30.0 and waits[FREE_TRIES + 1] == 60.0
    assert waits == sorted(waits) and max(waits) == MAX_WAIT_S
    assert wait_after(10**9) == MAX_WAIT_S  # no overflow for a huge count


def test_preferences_merge_and_check_each_key() -> None:
    prefs = apply_preferences(Preferences(), {"quality": "720p", "subtitles": True})
    assert prefs.quality == "720p" and prefs.subtitles and prefs.autoplay_next
    prefs = apply_preferences(prefs, {"subtitle_language": "pt-BR",
                                      "bandwidth_limit": MIN_BANDWIDTH})
    assert prefs.quality == "720p" and prefs.subtitle_language == "pt-BR"
    assert apply_preferences(prefs, {"bandwidth_limit": 0}).bandwidth_limit == 0
    for bad in ({"quality": "8k"}, {"subtitles": 1}, {"autoplay_next": "yes"},
                {"bandwidth_limit": MIN_BANDWIDTH - 1}, {"bandwidth_limit": MAX_BANDWIDTH + 1},
                {"bandwidth_limit": True}, {"bandwidth_limit": 1e6},
                {"subtitle_language": "english please"}, {"subtitle_language": None},
                {"volume": 3}, [], "quality"):
        with pytest.raises(RuleError):
            apply_preferences(prefs, bad)


@pytest.mark.parametrize(("quality", "ok"), [
    ("auto", True), ("original", True), ("360p", True), ("576p", True), ("180p", True),
    ("4320p", True), ("100p", True), ("99p", False), ("4321p", False), ("0720p", False),
    ("720", False), ("720P", False), ("8k", False), ("", False), (720, False)])
def test_quality_is_auto_original_or_a_renditions_height(quality: object, ok: bool) -> None:
    """A rendition is named by its height, the source's own (576p) as well as the standard
    steps: the quality menu's choice is saved as it is."""
    if ok:
        assert apply_preferences(Preferences(), {"quality": quality}).quality == quality
    else:
        with pytest.raises(RuleError):
            apply_preferences(Preferences(), {"quality": quality})


def test_stored_preferences_keep_what_is_valid() -> None:
    assert stored_preferences({"quality": "1080p", "volume": 3, "subtitles": "yes"}) == \
        Preferences(quality="1080p")
    assert stored_preferences(None) == Preferences()


@given(st.dictionaries(st.text(max_size=20), st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=40))))
def test_preferences_from_any_json_object_are_valid_or_refused(data: dict) -> None:
    try:
        prefs = apply_preferences(Preferences(), data)
    except RuleError:
        return
    assert apply_preferences(Preferences(), prefs.as_dict()) == prefs


@given(st.text(max_size=60))
def test_any_text_is_a_name_or_refused(text: str) -> None:
    try:
        name = check_name(text)
    except RuleError:
        return
    assert 1 <= len(name) <= 32 and name == name.strip() and check_name(name) == name


# --------------------------------------------------------------------------- the cookie


def test_the_cookie_names_a_profile_and_is_signed() -> None:
    value = cookie.sign(SECRET, PID, None)
    assert cookie.claimed_profile(value) == PID
    assert cookie.verify(SECRET, value, PID, None)
    assert not cookie.verify(b"t" * 32, value, PID, None)  # another store's secret
    assert not cookie.verify(SECRET, value, PID, hash_pin("1234", SALT))  # a PIN was set
    other = "fedcba9876543210"
    forged = value.replace(PID, other)  # another profile's id with this MAC
    assert cookie.claimed_profile(forged) == other
    assert not cookie.verify(SECRET, forged, other, None)


def test_the_cookie_mac_covers_the_pin_hash() -> None:
    first, second = hash_pin("1234", SALT), hash_pin("1234", bytes(16))
    a, b = cookie.sign(SECRET, PID, first), cookie.sign(SECRET, PID, second)
    assert a != b and cookie.verify(SECRET, a, PID, first)
    assert not cookie.verify(SECRET, a, PID, second)


@pytest.mark.parametrize("bad", [None, "", "1", "1.x.y", f"2.{PID}.00", f"1.{PID.upper()}.00",
                                 f"1.{PID}", f"1.{PID}.a.b", "t." + "0" * 64])
def test_malformed_cookies_claim_nothing(bad: str | None) -> None:
    assert cookie.claimed_profile(bad) is None
    if bad is not None:
        assert not cookie.verify(SECRET, bad, PID, None)


@given(st.text(max_size=120))
def test_no_text_but_the_signed_value_verifies(text: str) -> None:
    assert not cookie.verify(SECRET, text, PID, None) or hmac.compare_digest(
        text, cookie.sign(SECRET, PID, None))


# --------------------------------------------------------------------------- cross-site

OWN = "http://127.0.0.1:8080"


@pytest.mark.parametrize(("site", "origin", "allowed"), [
    ("same-origin", OWN, True),  # our page, sendBeacon included
    ("none", None, True),  # the user's own action
    ("same-site", "http://127.0.0.1:9999", False),  # another port: the same *site*
    ("cross-site", "http://evil.example", False),
    ("cross-site", None, False),
    ("cross-site", "https://trusted.example", True),  # listed with --cors-origin
    ("bogus", OWN, False),
    (None, OWN, True),  # an older browser: Origin decides
    (None, OWN.upper(), True),
    (None, "http://evil.example", False),
    (None, "null", False),
    (None, None, True),  # not a browser: curl, a script
])
def test_state_changes_only_from_our_pages(site: str | None, origin: str | None,
                                           allowed: bool) -> None:
    reason = cross_site_refusal("POST", site, origin, OWN, ("https://trusted.example",))
    assert (reason is None) is allowed, reason


def test_reading_is_never_refused() -> None:
    assert cross_site_refusal("GET", "cross-site", "http://evil.example", OWN) is None
    assert cross_site_refusal("HEAD", "cross-site", None, OWN) is None
    for method in ("PUT", "DELETE", "PATCH", "post"):
        assert cross_site_refusal(method, "cross-site", None, OWN) is not None


@given(st.sampled_from(["POST", "PUT", "DELETE"]), st.one_of(st.none(), st.text(max_size=30)),
       st.one_of(st.none(), st.text(max_size=300)))
def test_any_headers_give_a_verdict_and_a_short_reason(method: str, site: str | None,
                                                       origin: str | None) -> None:
    reason = cross_site_refusal(method, site, origin, OWN)
    assert reason is None or len(reason) < 250
