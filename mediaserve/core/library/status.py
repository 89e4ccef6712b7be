"""What the index knows about an entry's file, as one closed vocabulary."""

from enum import StrEnum


class EntryStatus(StrEnum):
    """An index entry's status; the TOML and JSON carry the value."""

    OK = "ok"
    ERROR = "error"  # indexed, but probing failed; ``error`` and ``error_kind`` say why
    MISSING = "missing"  # indexed earlier, gone from disk now; kept for the audit to prune
