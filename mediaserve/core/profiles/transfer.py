"""The export document: every profile, its preferences and its progress, as JSON.

``mediaserve profiles export`` writes it, ``import`` reads it back. The import validates the
whole document before the store changes anything (then writes it in one transaction), so a
hand-edited file with one bad row is refused whole, with the path of the bad value
(``profiles[2].progress[17].position: ...``). PIN hashes travel (a restored profile keeps
its PIN); the store's cookie secret does not (browsers choose their profile again after a
restore into a new store).

The document::

    {"format": "mediaserve-profiles", "version": 1, "exported_at": 1733000000.0,
     "profiles": [{"id": "3f9c0a7d2b1e4c55", "kind": "local", "name": "Alice",
                   "colour": "#e5484d", "pin_hash": null, "created": 1732000000.0,
                   "preferences": {...},
                   "progress": [{"video": "0123456789ab", "position": 754.2,
                                 "duration": 5400.0, "watched": false,
                                 "updated": 1733000000.0}]}]}
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from mediaserve.core.profiles.cookie import PROFILE_ID_RE
from mediaserve.core.profiles.home import Row
from mediaserve.core.profiles.pin import valid_pin_hash
from mediaserve.core.profiles.progress import MAX_SECONDS, VIDEO_ID_RE
from mediaserve.core.profiles.rules import (
    Preferences,
    RuleError,
    apply_preferences,
    check_colour,
    check_name,
    check_user_name,
    profile_key,
)

FORMAT = "mediaserve-profiles"
VERSION = 1
KINDS = ("local", "user")
#: rows one profile keeps at most; the oldest are dropped beyond it (a library of tens of
#: thousands of videos is rare, and one row per video ever played is what a profile grows by)
MAX_ROWS_PER_PROFILE = 20_000
#: profiles in a file at most (local ones are capped lower; users mode has one per user)
MAX_PROFILES_IN_FILE = 1_000
#: seconds since the epoch: anything from 1970 to the year 2200
MAX_TIME = 7_258_118_400.0


@dataclass(frozen=True, slots=True)
class ProfileRecord:
    """One profile and everything kept for it."""

    id: str
    kind: str
    name: str
    colour: str
    pin_hash: str | None
    created: float
    preferences: Preferences
    progress: tuple[Row, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "name": self.name, "colour": self.colour,
                "pin_hash": self.pin_hash, "created": self.created,
                "preferences": self.preferences.as_dict(),
                "progress": [{"video": r.video, "position": r.position,
                              "duration": r.duration, "watched": r.watched,
                              "updated": r.updated} for r in self.progress]}


class TransferError(ValueError):
    """The document is not a valid export; the message names where."""


def export_document(records: Iterable[ProfileRecord], exported_at: float) -> dict[str, Any]:
    return {"format": FORMAT, "version": VERSION, "exported_at": exported_at,
            "profiles": [record.as_dict() for record in records]}


def _field(data: dict[str, Any], key: str, where: str) -> Any:
    if key not in data:
        raise TransferError(f"{where}: {key} is missing")
    return data[key]


def _number(value: Any, where: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TransferError(f"{where}: must be a number")
    number = float(value)
    if not math.isfinite(number) or not low <= number <= high:
        raise TransferError(f"{where}: must be from {low:g} to {high:g}")
    return number


def _row(data: Any, where: str) -> Row:
    if not isinstance(data, dict):
        raise TransferError(f"{where}: must be an object")
    video = _field(data, "video", where)
    if not isinstance(video, str) or not VIDEO_ID_RE.fullmatch(video):
        raise TransferError(f"{where}.video: not a video id")
    duration = data.get("duration")
    watched = _field(data, "watched", where)
    if not isinstance(watched, bool):
        raise TransferError(f"{where}.watched: must be true or false")
    return Row(video, _number(_field(data, "position", where), f"{where}.position", 0,
                              MAX_SECONDS),
               None if duration is None else _number(duration, f"{where}.duration", 0,
                                                     MAX_SECONDS),
               watched, _number(_field(data, "updated", where), f"{where}.updated", 0,
                                MAX_TIME))


def _progress(value: Any, where: str) -> tuple[Row, ...]:
    if not isinstance(value, list):
        raise TransferError(f"{where}: must be a list")
    if len(value) > MAX_ROWS_PER_PROFILE:
        raise TransferError(f"{where}: more than {MAX_ROWS_PER_PROFILE} rows")
    rows = tuple(_row(item, f"{where}[{n}]") for n, item in enumerate(value))
    if len({row.video for row in rows}) != len(rows):
        raise TransferError(f"{where}: a video appears twice")
    return rows


def _record(data: Any, where: str) -> ProfileRecord:
    if not isinstance(data, dict):
        raise TransferError(f"{where}: must be an object")
    pid, kind = _field(data, "id", where), _field(data, "kind", where)
    if not isinstance(pid, str) or not PROFILE_ID_RE.fullmatch(pid):
        raise TransferError(f"{where}.id: must be 16 lower-case hexadecimal digits")
    if kind not in KINDS:
        raise TransferError(f"{where}.kind: must be 'local' or 'user'")
    pin_hash = data.get("pin_hash")
    if pin_hash is not None and (not isinstance(pin_hash, str)
                                 or not valid_pin_hash(pin_hash)):
        raise TransferError(f"{where}.pin_hash: not a PIN hash this version writes")
    try:
        raw_name = _field(data, "name", where)
        name = check_user_name(raw_name) if kind == "user" else check_name(raw_name)
        colour = check_colour(_field(data, "colour", where))
        prefs = apply_preferences(Preferences(), data.get("preferences", {}))
    except RuleError as exc:
        raise TransferError(f"{where}: {exc}") from None
    return ProfileRecord(pid, kind, name, colour, pin_hash,
                         _number(_field(data, "created", where), f"{where}.created", 0,
                                 MAX_TIME),
                         prefs, _progress(data.get("progress", []), f"{where}.progress"))


def parse_document(data: Any) -> list[ProfileRecord]:
    """The profiles of an export document, every value checked (:class:`TransferError`)."""
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise TransferError(f"not a {FORMAT} document (its 'format' must be {FORMAT!r})")
    if data.get("version") != VERSION:
        raise TransferError(f"version {data.get('version')!r} is not one this mediaserve "
                            f"reads (it reads version {VERSION})")
    profiles = data.get("profiles")
    if not isinstance(profiles, list):
        raise TransferError("profiles: must be a list")
    if len(profiles) > MAX_PROFILES_IN_FILE:
        raise TransferError(f"profiles: more than {MAX_PROFILES_IN_FILE}")
    records = [_record(item, f"profiles[{n}]") for n, item in enumerate(profiles)]
    _unique(records)
    return records


def _unique(records: Sequence[ProfileRecord]) -> None:
    ids: set[str] = set()
    names: set[tuple[str, str]] = set()
    for n, record in enumerate(records):
        key = (record.kind, profile_key(record.kind, record.name))
        if record.id in ids:
            raise TransferError(f"profiles[{n}].id: {record.id} appears twice")
        if key in names:
            raise TransferError(f"profiles[{n}].name: {record.name!r} appears twice")
        ids.add(record.id)
        names.add(key)
