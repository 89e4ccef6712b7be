"""Resolve "which library and which index" the same way for every command and the server."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from mediaserve.adapters.library.store import (
    default_index_path,
    load_index_if_exists,
    recovery_hint,
)
from mediaserve.core.library.index import IndexFormatError, LibraryIndex


class LibraryError(Exception):
    """A user mistake about the library folder or the index (exit code 2)."""


class CorruptIndex(LibraryError):
    """The index does not parse; the message says where and how to recover."""

    def __init__(self, error: IndexFormatError, index_path: Path, root: Path | None) -> None:
        super().__init__(f"{error} -- to recover, {recovery_hint(index_path, root)}")
        self.error = error


def _load(path: Path, root: Path | None) -> LibraryIndex | None:
    try:
        return load_index_if_exists(path)
    except IndexFormatError as exc:
        raise CorruptIndex(exc, path, root) from exc


@dataclass(slots=True)
class Library:
    root: Path
    index_path: Path
    index: LibraryIndex | None  # None: never scanned


def check_folder(folder: Path) -> Path:
    """The folder, resolved, or a LibraryError that says in one line what is wrong."""
    if not folder.exists():
        raise LibraryError(f"library folder not found: {folder}")
    if not folder.is_dir():
        raise LibraryError(f"not a folder: {folder}")
    if not os.access(folder, os.R_OK | os.X_OK):
        raise LibraryError(f"library folder not readable: {folder}")
    resolved = folder.resolve()
    try:
        str(resolved).encode("utf-8")
    except UnicodeEncodeError:  # bytes from an old system; the index (UTF-8 TOML) records it
        shown = os.fsencode(resolved).decode("utf-8", "backslashreplace")
        raise LibraryError(f"library folder path is not valid UTF-8: {shown} "
                           "(rename the folder)") from None
    return resolved


def open_library(folder: Path | None, index_path: Path | None, load: bool = True) -> Library:
    """Find root and index from a folder, an --index, or both.

    With a folder, the folder is the root (so a library moved with its index still works);
    with only --index, the root recorded in the index is used. ``load=False`` leaves the
    index unread (a writer reads it once it holds the lock). A corrupt index raises
    :class:`CorruptIndex`, whose message says how to recover.
    """
    if folder is None and index_path is None:
        raise LibraryError("give a library FOLDER or --index PATH")
    if folder is not None:
        root = check_folder(folder)
        path = index_path or default_index_path(root)
        return Library(root, path, _load(path, root) if load else None)
    assert index_path is not None
    if not index_path.exists():
        raise LibraryError(f"index not found: {index_path}")
    index = _load(index_path, None)
    assert index is not None
    return Library(check_folder(Path(index.root)), index_path, index)
