"""The HTTP Basic users file on disk: read it, notice it changed, and replace one user's
hash in it (the rehash of a stronger scrypt cost, at the user's next good login).

A rewrite keeps every other line as it was, is atomic (a temporary file renamed over the
old one, so a reader sees the old or the new file) and leaves mode 0600: the file holds
hashes that are slow to crack, not impossible. Workers of one server, and a ``mediaserve
passwd`` run at the same moment, are kept apart with ``flock`` on the file, re-checked after
the lock is taken (the file it locked may have been replaced meanwhile). Everything here
blocks: the server calls it in an executor.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from mediaserve.core.http import auth

#: what tells one version of the file from the next (inode, size, mtime, ctime)
Signature = tuple[int, int, int, int]


class UsersFileError(ValueError):
    """The users file cannot be read, or is not a users file (the message says which)."""


def signature(path: str) -> Signature | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns


def read_users(path: str) -> tuple[dict[str, str], Signature | None]:
    """{user: hash} and the signature of the version read."""
    before = signature(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise UsersFileError(f"cannot read the users file {path}: {reason}") from None
    users = auth.parse_users(text, path)  # ValueError names the line
    if not users:
        raise UsersFileError(f"the users file {path} has no users")
    return users, before


@contextlib.contextmanager
def _locked(path: str) -> Iterator[int]:
    """An fd of ``path``, flock'ed, that is still the file at ``path``."""
    for _ in range(10):
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            if os.fstat(fd).st_ino == os.stat(path).st_ino:
                yield fd
                return
        finally:
            os.close(fd)  # closing it drops the lock
    raise OSError("the users file keeps being replaced")


def replace_hash(path: str, user: str, old: str, new: str) -> dict[str, str]:
    """Rewrite the file with ``user``'s hash ``new`` if it still holds ``old``; the users
    the file holds afterwards either way (someone else's change wins over a rehash).
    OSError when the file or its folder cannot be written."""
    path = os.path.realpath(path)  # a symlinked users file stays a symlink
    with _locked(path) as fd:
        with os.fdopen(os.dup(fd), "rb") as handle:
            text = handle.read().decode("utf-8")
        users = auth.parse_users(text, path)
        if users.get(user) != old:
            return users
        updated = auth.set_user(text, user, new)
        folder = os.path.dirname(os.path.abspath(path))
        tmp_fd, tmp = tempfile.mkstemp(prefix=".users.", suffix=".tmp", dir=folder)
        try:
            with os.fdopen(tmp_fd, "wb") as out:  # mkstemp makes it 0600
                out.write(updated.encode("utf-8"))
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
    return auth.parse_users(updated, path)
