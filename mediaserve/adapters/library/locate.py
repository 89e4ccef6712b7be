"""Resolve "which library and which index" the same way for every command and the server."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from mediaserve.adapters.library.store import (
    data_dir,
    default_index_path,
    load_index_if_exists,
)
from mediaserve.core.library.index import LibraryIndex


class LibraryError(Exception):
    """A user mistake about the library folder or the index (exit code 2)."""


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


def open_library(folder: Path | None, index_path: Path | None) -> Library:
    """Find root and index from a folder, an --index, or both.

    With a folder, the folder is the root (so a library moved with its index still works);
    with only --index, the root recorded in the index is used.
    """
    if folder is None and index_path is None:
        raise LibraryError("give a library FOLDER or --index PATH")
    if folder is not None:
        root = check_folder(folder)
        path = index_path or default_index_path(root)
        return Library(root, path, load_index_if_exists(path))
    assert index_path is not None
    if not index_path.exists():
        raise LibraryError(f"index not found: {index_path}")
    index = load_index_if_exists(index_path)
    assert index is not None
    return Library(check_folder(Path(index.root)), index_path, index)


def default_demo_folder() -> Path:
    """Where ``serve`` without a folder puts its demo library (``MEDIASERVE_DEMO_DIR``
    overrides it). Here rather than beside the clip encoder so that finding it does not
    load PyAV."""
    return Path(os.environ.get("MEDIASERVE_DEMO_DIR") or data_dir() / "demo-library")
