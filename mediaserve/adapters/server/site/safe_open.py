"""Open a file *beneath* the library root, and nowhere else.

The index only holds paths that were inside the root when they were scanned, but a file or a
directory can be swapped for a symlink afterwards. Linux's ``openat2(RESOLVE_BENEATH)`` makes
the kernel refuse any resolution that leaves the root directory (``..``, absolute paths, and
symlinks that point out), while symlinks that stay inside keep working; it costs one syscall,
so it is affordable on every request. Where the kernel lacks it, we fall back to a
``realpath`` check, which is slower but equivalent apart from a race we document.
"""

from __future__ import annotations

import ctypes
import errno
import os

_SYS_OPENAT2 = 437  # same number on x86_64 and aarch64
_RESOLVE_NO_MAGICLINKS = 0x02
_RESOLVE_BENEATH = 0x08
# O_NONBLOCK: a FIFO swapped in for a video would otherwise block open() (and the event
# loop with it) until a writer shows up; it changes nothing for regular files.
_FLAGS = os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0)
# With RESOLVE_BENEATH, a lookup through ".." fails with EAGAIN when any rename on the system
# races it (the kernel cannot prove it stayed beneath); openat2(2) says to retry.
_EAGAIN_TRIES = 32


class _OpenHow(ctypes.Structure):
    _fields_ = [("flags", ctypes.c_uint64), ("mode", ctypes.c_uint64),
                ("resolve", ctypes.c_uint64)]


class OutsideRoot(PermissionError):
    """The path resolves outside the library root."""


def _load_syscall() -> ctypes._CFuncPtr | None:  # type: ignore[name-defined]
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.syscall
    except (OSError, AttributeError):
        return None


def _realpath(path: str) -> str:
    """``os.path.realpath``, whose ``readlink`` fails with EINVAL when a symlink it has just
    seen is swapped back for a directory (a folder-to-symlink swap while a request resolves
    it): the path is changing under us, which to the client is "not there" (404), not a
    server failure (it was 503 "Invalid argument" for ~1 in 3,000 requests during swaps)."""
    try:
        return os.path.realpath(path)
    except OSError as exc:
        raise FileNotFoundError(errno.ENOENT, "the path changed while it was resolved",
                                path) from exc


class RootOpener:
    """Opens relative paths beneath one root directory, returning raw file descriptors."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = os.path.realpath(root)
        self._prefix = self.root.rstrip(os.sep) + os.sep
        self.root_fd = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        self._syscall = _load_syscall()
        self._how = _OpenHow(_FLAGS, 0, _RESOLVE_BENEATH | _RESOLVE_NO_MAGICLINKS)
        self.uses_openat2 = self._syscall is not None and self._probe_openat2()

    def _probe_openat2(self) -> bool:
        try:
            fd = self._openat2(b".")
        except OSError:
            return False
        os.close(fd)
        return True

    def _openat2(self, rel: bytes) -> int:
        assert self._syscall is not None
        code = errno.EAGAIN
        for _ in range(_EAGAIN_TRIES):
            fd = self._syscall(_SYS_OPENAT2, self.root_fd, ctypes.c_char_p(rel),
                               ctypes.byref(self._how),
                               ctypes.c_size_t(ctypes.sizeof(self._how)))
            if fd >= 0:
                return int(fd)
            code = ctypes.get_errno()
            if code != errno.EAGAIN:
                break
        if code == errno.EXDEV:
            raise OutsideRoot(code, "path resolves outside the library root")
        raise OSError(code, os.strerror(code))

    def open(self, relpath: str) -> int:
        """A read-only fd for ``relpath`` (relative, POSIX). Raises OSError / OutsideRoot."""
        if relpath.startswith("/") or "\x00" in relpath:
            raise OutsideRoot(errno.EXDEV, "not a relative path")
        if self.uses_openat2:
            try:
                return self._openat2(os.fsencode(relpath))
            except OutsideRoot:
                # RESOLVE_BENEATH refuses every absolute symlink, even one that leads back
                # inside the root (which the scanner indexes). Resolve it here, then let the
                # kernel check the resolved path beneath the root again: realpath only finds
                # the way, it never grants access.
                real = _realpath(os.path.join(self.root, relpath))
                if not real.startswith(self._prefix):
                    raise
                return self._openat2(os.fsencode(real[len(self._prefix):]))
        full = os.path.join(self.root, relpath)
        if not _realpath(full).startswith(self._prefix):
            raise OutsideRoot(errno.EXDEV, "path resolves outside the library root")
        return os.open(full, _FLAGS)

    def close(self) -> None:
        if self.root_fd >= 0:
            os.close(self.root_fd)
            self.root_fd = -1
