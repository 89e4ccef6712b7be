"""The buffer a response's content is read into: one anonymous memory map that grows in
place, so holding up to ``--max-body`` of content costs ``--max-body`` of memory.

A ``bytearray`` grown chunk by chunk is ``realloc``'d, and once glibc has raised its mmap
threshold (it does after the first large buffer is freed) a big buffer lives on the heap,
where growing it means allocating a larger block and copying: two copies at once, so a
probe with a 16 MiB cap peaked anywhere between 1x and 2x the cap. A private anonymous map
grows with ``mremap`` (page tables move, bytes do not), and the kernel commits its pages
only as they are written, so reserving ahead costs nothing.
"""

from __future__ import annotations

import mmap

from mediaserve.core.probe.bytecheck import ByteCheck
from mediaserve.core.probe.exchange import Body

__all__ = ["SMALL_CONTENT", "Content"]

SMALL_CONTENT = 64 * 1024
"""Content up to this size ends up as plain ``bytes`` and its map is released at once."""
_START = 1024 * 1024  # first reservation when the length is not announced


class Content:
    """Bytes appended up to ``limit``; :meth:`body` hands them over without a copy (or as
    ``bytes`` when small). ``expected``: the announced length, if any, to reserve at once.

    With ``check``, the bytes are compared with the reference as they come and not kept;
    with ``keep=False`` they are only counted (content no judge reads)."""

    def __init__(self, limit: int, expected: int | None = None, *,
                 check: ByteCheck | None = None, keep: bool = True) -> None:
        self.limit = limit
        self.size = 0
        self.check = check
        self._keep = keep and check is None
        self._reserve = min(limit, expected if expected is not None else _START)
        self._map: mmap.mmap | None = None

    def __len__(self) -> int:
        return self.size

    def append(self, chunk: bytes) -> None:
        """Add ``chunk``; the caller keeps the total within ``limit``."""
        if not chunk:
            return
        if not self._keep:
            if self.check is not None:
                self.check.feed(chunk)
            self.size += len(chunk)
            return
        need = self.size + len(chunk)
        if self._map is None:
            self._map = _new_map(max(need, self._reserve))
        elif need > len(self._map):
            self._map = _grown(self._map, self.size, min(self.limit, max(need, 2 * len(self._map))))
        self._map[self.size:need] = chunk
        self.size = need

    @property
    def kept(self) -> bool:
        return self._keep

    def body(self) -> Body:
        """The content: ``bytes`` when small (the map is released), else a view of the map
        (released when the last view goes); ``b""`` when not kept. Call once, after the
        last :meth:`append`."""
        if self._map is None:
            return b""
        if self.size <= SMALL_CONTENT:
            data = self._map[:self.size]
            self._map.close()
            self._map = None
            return data
        return memoryview(self._map)[:self.size]


def _new_map(size: int) -> mmap.mmap:
    return mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE)


def _grown(old: mmap.mmap, used: int, size: int) -> mmap.mmap:
    try:
        old.resize(size)  # mremap on Linux: no copy
        return old
    except (OSError, SystemError, ValueError):  # a platform without mremap: copy once
        new = _new_map(size)
        new[:used] = memoryview(old)[:used]
        old.close()
        return new
