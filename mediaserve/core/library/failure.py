"""Why probing a file failed, as a kind the rest of the program can branch on.

The prober used to say why only in words ("cannot stat: ...", "empty file"), and the audit
rules parsed those words. The kind is now part of the probe outcome and of the index entry
(``error_kind``), so the message is free to change; the words stay for people.
"""

from __future__ import annotations

from enum import StrEnum


class ProbeFailure(StrEnum):
    """What kind of failure a probe met. The value is what the index stores."""

    CANNOT_STAT = "cannot-stat"  # the path could not be stat'ed: gone, or a parent unsearchable
    EMPTY = "empty"  # zero bytes
    UNREADABLE = "unreadable"  # stat'ed, but opening or reading it failed (permissions, EIO)
    NOT_MEDIA = "not-media"  # read, but FFmpeg could not open it as a container

    @classmethod
    def recorded(cls, raw: object, message: str | None) -> ProbeFailure | None:
        """The kind an index entry records (``error_kind``, read as TOML gives it); for an
        index written before kinds existed, the kind behind its ``error`` message (derived
        once, on load, and written explicitly by the next save). ValueError names the
        allowed kinds when ``raw`` is none of them."""
        if raw is None:
            return cls.from_message(message)
        known = {kind.value: kind for kind in cls}
        if not isinstance(raw, str) or raw not in known:
            raise ValueError(f"'error_kind' must be one of {', '.join(known)}")
        return known[raw]

    @classmethod
    def from_message(cls, message: str | None) -> ProbeFailure | None:
        """The kind behind a message written before kinds existed (indexes from older
        versions), from the prober's fixed message prefixes; None when unknown."""
        if not message:
            return None
        for prefix, kind in _LEGACY_PREFIXES:
            if message.startswith(prefix):
                return kind
        return None


_LEGACY_PREFIXES: tuple[tuple[str, ProbeFailure], ...] = (
    ("cannot stat", ProbeFailure.CANNOT_STAT),
    ("empty file", ProbeFailure.EMPTY),
    ("cannot read", ProbeFailure.UNREADABLE),
    ("cannot open container", ProbeFailure.NOT_MEDIA),
)

__all__ = ["ProbeFailure"]
