"""The per-user data folder: indexes of read-only libraries, the demo library, caches.

Shared by several wings (the index store, the demo clips, poster caches), so it sits at the
adapters' root rather than inside one of them.
"""

from __future__ import annotations

import os
from pathlib import Path

ENV_DATA_DIR = "MEDIASERVE_DATA_DIR"


def data_dir() -> Path:
    """$MEDIASERVE_DATA_DIR, else $XDG_DATA_HOME/mediaserve (~/.local/share/mediaserve)."""
    override = os.environ.get(ENV_DATA_DIR)
    if override:
        return Path(override)
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(Path.home(), ".local", "share")
    return Path(base) / "mediaserve"


def default_demo_folder() -> Path:
    """Where ``serve`` without a folder puts its demo library (``MEDIASERVE_DEMO_DIR``
    overrides it). Here, not beside the clip encoder, so that finding it never loads PyAV
    in the serving process."""
    return Path(os.environ.get("MEDIASERVE_DEMO_DIR") or data_dir() / "demo-library")
