"""Where the index lives, and reading/writing it safely.

Writes are atomic (temp file in the same folder, fsync, rename, fsync of the folder) so a
crash or a full disk mid-write leaves the previous index intact. A file that does not parse is
never overwritten: loading raises, and every writer loads first.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
from pathlib import Path

from mediaserve.core.library.index import IndexFormatError, LibraryIndex, dumps, loads

INDEX_NAME = ".mediaserve-index.toml"
ENV_DATA_DIR = "MEDIASERVE_DATA_DIR"


def data_dir() -> Path:
    """Per-user data folder for indexes of read-only libraries ($XDG_DATA_HOME/mediaserve)."""
    override = os.environ.get(ENV_DATA_DIR)
    if override:
        return Path(override)
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(Path.home(), ".local", "share")
    return Path(base) / "mediaserve"


def _data_dir_index(root: Path) -> Path:
    real = os.path.realpath(root)
    digest = hashlib.sha256(real.encode("utf-8", "surrogateescape")).hexdigest()[:12]
    name = "".join(c if c.isalnum() or c in "-_" else "_" for c in Path(real).name) or "root"
    return data_dir() / "libraries" / f"{name}-{digest}.toml"


def default_index_path(root: Path) -> Path:
    """The index for ``root``: an existing one beside the library or in the data folder;
    for a new one, beside the library when the folder is writable, else the data folder."""
    beside = Path(root) / INDEX_NAME
    if beside.exists():
        return beside
    fallback = _data_dir_index(root)
    if fallback.exists():
        return fallback
    return beside if os.access(root, os.W_OK) else fallback


def load_index(path: Path) -> LibraryIndex:
    """Read and validate. Raises IndexFormatError (file:line:col) or OSError."""
    raw = Path(path).read_bytes()
    try:
        text = raw.decode("utf-8", errors="strict")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - raw.rfind(b"\n", 0, exc.start)
        raise IndexFormatError(str(path), line, column, "not UTF-8 text") from None
    return loads(text, source=str(path))


def load_index_if_exists(path: Path) -> LibraryIndex | None:
    try:
        return load_index(path)
    except FileNotFoundError:
        return None


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old or the new file, never half."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if path.exists():
            shutil.copymode(path, tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def save_index(path: Path, index: LibraryIndex) -> None:
    """Serialise and write atomically."""
    write_atomic(path, dumps(index).encode("utf-8"))


__all__ = [
    "INDEX_NAME",
    "IndexFormatError",
    "default_index_path",
    "load_index",
    "load_index_if_exists",
    "save_index",
    "write_atomic",
]
