"""Give a library its id secret: new indexes get one, old ones are re-keyed once.

The secret is drawn here (``secrets``) because the core draws no random bytes; the index is
written atomically by ``store.save_index``, so a crash leaves either the old ids or the new.
"""

from __future__ import annotations

import secrets
from pathlib import Path

from mediaserve.adapters.library.store import save_index
from mediaserve.core.library.ids import ID_SECRET_BYTES
from mediaserve.core.library.index import LibraryIndex
from mediaserve.core.library.rekey import needs_rekey, rekey


def new_id_secret() -> str:
    return secrets.token_hex(ID_SECRET_BYTES)


def ensure_id_secret(path: Path, index: LibraryIndex) -> tuple[LibraryIndex, dict[str, str]]:
    """``index`` with keyed ids, saved to ``path`` if it had to be re-keyed; returns the
    old -> new mapping (empty when nothing changed). Raises OSError when the index cannot
    be written: the caller then keeps serving the old ids (they must stay stable, and a
    secret that is not saved would change them at every start)."""
    if not needs_rekey(index):
        return index, {}
    migrated, mapping = rekey(index, new_id_secret())
    save_index(path, migrated)
    return migrated, mapping
