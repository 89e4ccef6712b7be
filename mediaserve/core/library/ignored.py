"""Files the audit pruned while they were still on disk ("pruned stays pruned").

Without this record, the next ``scan`` would find the file again and index it as new, undoing
the prune. The index keeps each one as an ``[[ignored]]`` table (path, size, mtime_ns, reason);
scans skip it while it is unchanged, and index it again once it changes (a fixed copy) or
when ``mediaserve audit --unignore PATH`` forgets it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

Fail = Callable[[str | None, str | None, str], Exception]


@dataclass(frozen=True, slots=True)
class IgnoredFile:
    """A file the audit pruned while it was still on disk: scans leave it out until it
    changes (another size or mtime), so a prune is not undone by the next scan."""

    path: str  # POSIX, relative to the root
    size: int
    mtime_ns: int
    reason: str

    def matches(self, size: int, mtime_ns: int) -> bool:
        return self.size == size and self.mtime_ns == mtime_ns


def ignored_to_doc(ignored: Mapping[str, IgnoredFile]) -> list[dict[str, Any]]:
    """The ``[[ignored]]`` array, sorted by path so the file diffs stay small."""
    return [{"path": r.path, "size": r.size, "mtime_ns": r.mtime_ns, "reason": r.reason}
            for r in sorted(ignored.values(), key=lambda r: r.path)]


def ignored_from_doc(raw: Any, fail: Fail) -> dict[str, IgnoredFile]:
    """The ``[[ignored]]`` array of tables: path, size, mtime_ns, reason."""
    if not isinstance(raw, list):
        raise fail(None, "ignored", "'ignored' must be an array of tables ([[ignored]])")
    ignored: dict[str, IgnoredFile] = {}
    for item in raw:
        if not isinstance(item, dict):
            raise fail(None, "ignored", "each [[ignored]] entry must be a table")
        path, size, mtime, reason = (item.get(k) for k in ("path", "size", "mtime_ns",
                                                            "reason"))
        if (not isinstance(path, str) or not path or path.startswith("/")
                or ".." in path.split("/")):
            raise fail("ignored", "path", "[[ignored]]: 'path' must be a relative path")
        if (not isinstance(size, int) or not isinstance(mtime, int) or isinstance(size, bool)
                or isinstance(mtime, bool)):
            raise fail("ignored", "size", f"[[ignored]] {path}: 'size' and 'mtime_ns' must "
                       "be integers")
        if not isinstance(reason, str):
            raise fail("ignored", "reason", f"[[ignored]] {path}: 'reason' must be a string")
        ignored[path] = IgnoredFile(path, size, mtime, reason)
    return ignored
