"""The file-system half of "pruned stays pruned": what the audit's fix and ``--unignore``
need besides the pure model (:meth:`LibraryIndex.ignore` / ``unignore``)."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

from mediaserve.core.library.index import LibraryIndex, VideoEntry


def ignore_pruned(index: LibraryIndex, pruned: Iterable[tuple[VideoEntry, str]],
                  root: Path) -> list[str]:
    """Record each pruned entry whose file is still on disk as ignored, with the file's size
    and mtime *now* (a later change to the file brings it back). Returns their paths."""
    done = []
    for entry, reason in pruned:
        try:
            st = os.stat(Path(root) / entry.path)
        except OSError:
            continue  # gone: nothing a scan could add back
        if stat.S_ISREG(st.st_mode):
            index.ignore(entry, reason, st.st_size, st.st_mtime_ns)
            done.append(entry.path)
    return done


def library_path(root: Path, given: str) -> str:
    """``given`` as an index path (relative, POSIX): a path inside ``root`` (absolute or
    relative to the working folder), or else taken as relative to the root already."""
    full = Path(given) if Path(given).is_absolute() else Path.cwd() / given
    real = Path(os.path.realpath(full.parent)) / full.name
    try:
        return real.relative_to(os.path.realpath(root)).as_posix()
    except ValueError:
        return PurePosixPath(given).as_posix()
