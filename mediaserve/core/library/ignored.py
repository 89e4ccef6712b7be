"""Files the audit pruned while they were still on disk ("pruned stays pruned").

Without this record, the next ``scan`` would find the file again and index it as new, undoing
the prune. The index keeps each one as an ``[[ignored]]`` table (path, size, mtime_ns, reason);
scans skip it while it is unchanged, and index it again once it changes (a fixed copy) or
when ``mediaserve audit --unignore PATH`` forgets it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

Fail = Callable[[str | None, str | None, str], Exception]


class _Stat(Protocol):
    @property
    def path(self) -> str: ...
    @property
    def size(self) -> int: ...
    @property
    def mtime_ns(self) -> int: ...


S = TypeVar("S", bound=_Stat)


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


def is_ignored(ignored: Mapping[str, IgnoredFile], state: _Stat) -> bool:
    """True when ``state`` is an ignored file that has not changed since it was ignored."""
    record = ignored.get(state.path)
    return record is not None and record.matches(state.size, state.mtime_ns)


def skip_ignored(ignored: Mapping[str, IgnoredFile], found: Iterable[S], blind: tuple[str, ...],
                 ) -> tuple[list[S], dict[str, IgnoredFile], list[str]]:
    """Split a walk (``FileState``s) for a scan: (the files to index, the ignored records
    that still hold, the paths skipped). A record whose file changed is dropped (the file is
    indexed again); one whose file was not seen is dropped too, unless it is under a folder
    the walk could not read (``blind``: relative paths ending in "/")."""
    remaining = dict(ignored)
    kept: dict[str, IgnoredFile] = {}
    files: list[S] = []
    for state in found:
        record = remaining.pop(state.path, None)
        if record is not None and record.matches(state.size, state.mtime_ns):
            kept[state.path] = record
        else:
            files.append(state)
    for record in remaining.values():
        if blind and (record.path + "/").startswith(blind):
            kept[record.path] = record
    return files, kept, sorted(kept.keys() - remaining.keys())


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
