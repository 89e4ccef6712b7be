"""``mediaserve audit --unignore PATH`` / ``--unignore-all``: bring pruned files back."""

from __future__ import annotations

from mediaserve.adapters.library.ignore import library_path
from mediaserve.adapters.library.locate import Library
from mediaserve.adapters.library.lock import IndexLocked, writer_lock
from mediaserve.adapters.library.store import load_index, save_index
from mediaserve.cli.common import ExitStatus, console, fail, print_json, shown


def unignore(library: Library, paths: tuple[str, ...], everything: bool,
             as_json: bool) -> None:
    """Forget ignored records under the writer lock; say what the next scan will do."""
    try:
        with writer_lock(library.index_path):
            index = load_index(library.index_path)
            if everything:
                back = sorted(index.ignored)
                index.ignored.clear()
            else:
                wanted = [library_path(library.root, p) for p in paths]
                unknown = [p for p in wanted if p not in index.ignored]
                if unknown:
                    known = ", ".join(sorted(index.ignored)) or "none"
                    fail(f"not ignored: {', '.join(unknown)} (ignored files: {known})",
                         ExitStatus.USAGE)
                back = [p for p in wanted if index.unignore(p)]
            if back:
                save_index(library.index_path, index)
    except IndexLocked as exc:
        fail(str(exc), ExitStatus.REFUSED)
    if as_json:
        print_json({"index": str(library.index_path), "unignored": back})
        return
    out = console()
    if not back:
        out.print("No ignored files.")
        return
    out.print(f"No longer ignored ({len(back)}):", markup=False)
    for path in back:
        out.print(f"  - {shown(path)}", markup=False)
    out.print(f"Run `mediaserve scan {shown(library.root)}` to index them again.", markup=False)
