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
from datetime import datetime
from pathlib import Path

from mediaserve.adapters.data_dir import data_dir
from mediaserve.core.library.index import IndexFormatError, LibraryIndex, dumps, loads

INDEX_NAME = ".mediaserve-index.toml"


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
            shutil.copymode(path, tmp)  # a rewrite keeps the mode the user gave the file
        else:  # mkstemp makes 0600; a new index gets what the user's umask says
            os.chmod(tmp, 0o666 & ~current_umask())
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


def current_umask() -> int:
    """The process umask, read from /proc (setting it to read it would race with threads)."""
    try:
        with open("/proc/self/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)  # pragma: no cover - kernels before 4.7
    os.umask(mask)
    return mask


def move_aside(path: Path, now: datetime | None = None) -> Path:
    """Rename a corrupt index to ``NAME.corrupt-YYYYmmdd-HHMMSS`` (kept for a person to
    look at) so a rebuild can start afresh; returns the new name."""
    stamp = (now or datetime.now()).strftime("%Y%m%d-%H%M%S")
    target = Path(path).with_name(f"{Path(path).name}.corrupt-{stamp}")
    os.replace(path, target)
    return target


def recovery_hint(index_path: Path, root: Path | None) -> str:
    """How to get going again after a corrupt index, as commands to copy: restore the
    audit's backup when there is one, or rebuild by scanning afresh."""
    from shlex import quote

    backup = Path(index_path).with_name(Path(index_path).name + ".bak")
    steps = []
    if backup.exists():
        steps.append(f"restore the previous index: cp {quote(str(backup))} "
                     f"{quote(str(index_path))}")
    where = quote(str(root)) if root is not None else "FOLDER"
    steps.append(f"rebuild it: mediaserve scan --rebuild {where} --index "
                 f"{quote(str(index_path))} (the corrupt file is kept as "
                 f"{Path(index_path).name}.corrupt-DATE-TIME)")
    return "; or ".join(steps)


def save_index(path: Path, index: LibraryIndex) -> None:
    """Serialise and write atomically."""
    write_atomic(path, dumps(index).encode("utf-8"))


__all__ = [
    "INDEX_NAME",
    "IndexFormatError",
    "default_index_path",
    "load_index",
    "load_index_if_exists",
    "move_aside",
    "recovery_hint",
    "save_index",
    "write_atomic",
]
