"""Progress reports from a player, and when a video counts as watched or in progress.

A player reports its position every few seconds, on pause, and with ``navigator.sendBeacon``
when the page goes away; a beacon's body is a string (``text/plain``) or a JSON blob, so the
body is read as JSON whatever its Content-Type says.

**Watched** (automatic): the position is within the last 10 % of the duration *and* within
the last 10 minutes, or the player says the video ended. 90 % alone is the usual rule (Plex,
Jellyfin) and right up to 100 minutes; past that, 10 % of a three-hour film is 18 minutes of
story, while end credits run 5 to 10 minutes, so the stretch is capped at the credits'
length. (A rule of "90 %, *or* fewer than N seconds left" never fires its second half on a
long video, where 10 % is already more than N, and marks a short clip watched halfway.)
A watched mark stays when a later report is earlier (watching a scene again); by hand it
can be set and cleared (clearing also rewinds to the start).

**In progress** (Continue watching, "Resume from"): not watched, and at least 5 s in (the
player's own resume rule).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass

from mediaserve.core.profiles.rules import RuleError

#: a body is a handful of numbers; anything longer is not a progress report
MAX_BODY = 4096
#: no video is longer than ~115 days; bigger numbers are mistakes or attacks
MAX_SECONDS = 10_000_000.0
#: the last stretch of a video that counts as its end: 10 %, at most the credits' 10 min
END_FRACTION = 0.1
CREDITS_MAX_S = 600.0
RESUME_MIN_S = 5.0
VIDEO_ID_RE = re.compile(r"[0-9a-f]{12,64}")
_KEYS = ("position", "duration", "ended")


@dataclass(frozen=True, slots=True)
class ProgressReport:
    position: float
    duration: float | None = None
    ended: bool = False


def _seconds(name: str, value: object, *, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise RuleError(f"{name} must be a number of seconds")
    number = float(value)
    low_ok = number > 0 if positive else number >= 0
    if not math.isfinite(number) or not low_ok or number > MAX_SECONDS:
        bound = "more than 0" if positive else "at least 0"
        raise RuleError(f"{name} must be {bound} and at most {MAX_SECONDS:.0f} seconds")
    return number


def read_json_object(body: bytes, max_size: int) -> dict[str, object]:
    """A request body that must be one JSON object of at most ``max_size`` bytes."""
    if len(body) > max_size:
        raise RuleError(f"the body must be at most {max_size} bytes")
    try:
        data = json.loads(body.decode("utf-8")) if body.strip() else None
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise RuleError("the body must be a JSON object") from None
    if not isinstance(data, dict):
        raise RuleError("the body must be a JSON object")
    return data


def parse_report(body: bytes) -> ProgressReport:
    """``{"position": 754.2, "duration": 5400.5, "ended": false}`` (duration and ended
    optional); the position is clamped to the duration (players overshoot by a frame)."""
    data = read_json_object(body, MAX_BODY)
    unknown = sorted(key for key in data if key not in _KEYS)
    if unknown:
        raise RuleError(f"unknown field {unknown[0]!r}; a progress report has "
                        f"{', '.join(_KEYS)}")
    if "position" not in data:
        raise RuleError("position is required")
    position = _seconds("position", data["position"])
    raw_duration = data.get("duration")
    duration = None if raw_duration is None else _seconds("duration", raw_duration,
                                                          positive=True)
    ended = data.get("ended", False)
    if not isinstance(ended, bool):
        raise RuleError("ended must be true or false")
    if duration is not None:
        position = min(position, duration)
    return ProgressReport(position, duration, ended)


def finished(position: float, duration: float | None, ended: bool = False) -> bool:
    """Whether a report at ``position`` of ``duration`` makes the video watched."""
    if ended:
        return True
    if duration is None or duration <= 0:
        return False
    stretch = min(duration * END_FRACTION, CREDITS_MAX_S)
    return duration - position <= stretch


def in_progress(position: float, watched: bool) -> bool:
    """Whether the video belongs in Continue watching (and gets "Resume from")."""
    return not watched and position >= RESUME_MIN_S
