"""The audit's cheap evidence about files: a fresh stat, and a content key for duplicates.

Both are read-only and bounded: a stat and an access check per entry, and at most 2 MiB
read per duplicate candidate.
"""

from __future__ import annotations

import os
import stat as stat_mod
from pathlib import Path

from mediaserve.adapters.library.hashing import HASH_SPAN, content_key
from mediaserve.core.audit.model import FreshStat


def fresh_stat(path: Path) -> FreshStat:
    """Stat ``path`` now (following symlinks, as the server does) and check read permission
    with ``os.access``, which answers for this process's real user without opening."""
    try:
        st = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return FreshStat(exists=False)
    except PermissionError:  # a parent folder we cannot search
        return FreshStat(exists=True, readable=False)
    regular = stat_mod.S_ISREG(st.st_mode)
    return FreshStat(exists=True, size=st.st_size, mtime_ns=st.st_mtime_ns,
                     readable=os.access(path, os.R_OK), regular=regular)


__all__ = ["HASH_SPAN", "content_key", "fresh_stat"]
