"""What a profile's name, colour and preferences may be.

Every value arrives from a client (JSON body, command line, an imported file), so each check
takes ``object`` and either returns the normalised value or raises :class:`RuleError` with a
message fit for a 400 answer or a CLI error line. Messages never repeat a PIN.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any

MAX_NAME = 32
#: local profiles at most: a household, not a user directory (users mode has its own file)
MAX_PROFILES = 32
#: the colours a new profile gets when none is given, in order (distinct in light and dark)
PALETTE = ("#e5484d", "#0090ff", "#46a758", "#f76b15", "#8e4ec6", "#12a594", "#d6409f",
           "#ffc53d")
_USER_RE = re.compile(r"[^:\s]{1,64}")
_COLOUR_RE = re.compile(r"#[0-9a-fA-F]{6}")
#: invisible or control characters: a name that looks like another must not be possible
_BAD_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
#: a BCP 47 language tag as subtitle files name them: en, pt-BR, zh-Hant, sr-Latn-RS
_LANGUAGE_RE = re.compile(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8}){0,3}")
#: what a profile may prefer besides a rendition's height ("720p"); the player picks the
#: nearest rendition a video has (the tallest not above it, else the smallest)
QUALITIES = ("auto", "original")
#: a rendition by its height, as the playback engine names them: the source's own height
#: (576p, 180p) as well as the standard steps, from 100p to 4320p
_HEIGHT_RE = re.compile(r"[1-9][0-9]{2,3}p")
MAX_HEIGHT = 4320
#: bytes per second: below 16 KiB/s no video plays; above 10 GB/s is no limit at all
MIN_BANDWIDTH, MAX_BANDWIDTH = 16 * 1024, 10_000_000_000


class RuleError(ValueError):
    """A value a client sent is not acceptable; the message says why (for a 4xx)."""


def check_name(value: object) -> str:
    """A display name: NFC, inner runs of spaces collapsed, 1 to 32 visible characters."""
    if not isinstance(value, str):
        raise RuleError("name must be a string")
    name = " ".join(unicodedata.normalize("NFC", value).split())
    if not name:
        raise RuleError("name must not be empty")
    if len(name) > MAX_NAME:
        raise RuleError(f"name must be at most {MAX_NAME} characters")
    if any(unicodedata.category(ch) in _BAD_CATEGORIES for ch in name):
        raise RuleError("name must not contain control or invisible characters")
    return name


def name_key(name: str) -> str:
    """What two names must not share: "ALICE", "alice" and "Ａlice" are one profile."""
    return unicodedata.normalize("NFKC", name).casefold()


def check_user_name(value: object) -> str:
    """A user's profile is named exactly as the user of ``--auth-users`` (the users file's
    rule: 1 to 64 characters, no colon, no white space), case kept: Basic is exact."""
    if not isinstance(value, str) or not _USER_RE.fullmatch(value):
        raise RuleError("a user name is 1 to 64 characters without ':' or spaces")
    return value


def profile_key(kind: str, name: str) -> str:
    """The unique key of a profile's name within its kind."""
    return name if kind == "user" else name_key(name)


def check_colour(value: object) -> str:
    """``#rrggbb`` (lower case); the page draws the profile's avatar with it."""
    if not isinstance(value, str) or not _COLOUR_RE.fullmatch(value):
        raise RuleError("colour must be '#rrggbb' (six hexadecimal digits)")
    return value.lower()


def pick_colour(used: Iterable[str]) -> str:
    """The first palette colour no profile has yet (the first one again when all are)."""
    taken = {colour.lower() for colour in used}
    return next((colour for colour in PALETTE if colour not in taken), PALETTE[0])


def _check_language(value: object) -> str:
    if not isinstance(value, str) or (value and not _LANGUAGE_RE.fullmatch(value)):
        raise RuleError("subtitle_language must be '' or a language tag such as 'en' or "
                        "'pt-BR'")
    return value


def _check_bool(name: str) -> Callable[[object], bool]:
    def check(value: object) -> bool:
        if not isinstance(value, bool):
            raise RuleError(f"{name} must be true or false")
        return value

    return check


def _check_quality(value: object) -> str:
    if isinstance(value, str) and (value in QUALITIES or (
            _HEIGHT_RE.fullmatch(value) and int(value[:-1]) <= MAX_HEIGHT)):
        return value
    raise RuleError("quality must be auto, original or a rendition's height from 100p to "
                    f"{MAX_HEIGHT}p (such as 720p)")


def _check_bandwidth(value: object) -> int:
    if (isinstance(value, bool) or not isinstance(value, int)
            or not (value == 0 or MIN_BANDWIDTH <= value <= MAX_BANDWIDTH)):
        raise RuleError(f"bandwidth_limit must be 0 (no limit) or a whole number of bytes "
                        f"per second from {MIN_BANDWIDTH} to {MAX_BANDWIDTH}")
    return value


@dataclass(frozen=True, slots=True)
class Preferences:
    """One profile's playback preferences (README, *Profiles*)."""

    subtitles: bool = False
    subtitle_language: str = ""
    quality: str = "auto"
    bandwidth_limit: int = 0  # bytes per second; 0: no limit
    autoplay_next: bool = True

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


_CHECKS: dict[str, Callable[[object], Any]] = {
    "subtitles": _check_bool("subtitles"),
    "subtitle_language": _check_language,
    "quality": _check_quality,
    "bandwidth_limit": _check_bandwidth,
    "autoplay_next": _check_bool("autoplay_next"),
}


def apply_preferences(current: Preferences, changes: object) -> Preferences:
    """``current`` with the keys of ``changes`` (a JSON object) set; every key is checked and
    an unknown one refused, so a typo is an error rather than a silent no-op."""
    if not isinstance(changes, Mapping):
        raise RuleError("preferences must be a JSON object")
    unknown = sorted(str(key) for key in changes if key not in _CHECKS)
    if unknown:
        raise RuleError(f"unknown preference {unknown[0]!r}; known: {', '.join(_CHECKS)}")
    return replace(current, **{key: _CHECKS[key](value) for key, value in changes.items()})


def stored_preferences(data: object) -> Preferences:
    """Preferences read back from the store: what is valid is kept, the rest defaults (a
    value a newer version wrote must not make the profile unreadable)."""
    prefs = Preferences()
    if not isinstance(data, Mapping):
        return prefs
    for key, value in data.items():
        try:
            prefs = apply_preferences(prefs, {key: value})
        except RuleError:
            continue
    return prefs
