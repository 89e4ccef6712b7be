"""A child process that writes to a state store, for the concurrency and crash tests.

``python -m tests.profiles.writer DB MODE ARGS...``; it prints one line per committed write
(flushed at once), so the parent knows exactly what was committed when it kills it.

* ``open TAG``: open (creating and migrating the file if needed), print the secret.
* ``reports PID TAG N``: N reports on its own videos, N on a shared one, N preference
  merges of its own key, N wrong PINs; one line each.
* ``loop PID``: report on a new video per iteration, forever (killed by the test).
* ``imports PID ROWS``: import the same profile with ROWS rows again and again, each time
  with a new position in every row, forever.
"""

from __future__ import annotations

import sys
from pathlib import Path

from mediaserve.adapters.profiles.store import StateStore
from mediaserve.adapters.profiles.transfer import import_all
from mediaserve.core.profiles.home import Row
from mediaserve.core.profiles.progress import ProgressReport
from mediaserve.core.profiles.rules import Preferences
from mediaserve.core.profiles.transfer import ProfileRecord

SHARED = "5ba5ed5ba5ed"


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def reports(store: StateStore, pid: str, tag: str, count: int) -> None:
    for n in range(count):
        store.report(pid, f"{tag}{n:011x}", ProgressReport(float(n), 1e6))
        say(f"own {n}")
        store.report(pid, SHARED, ProgressReport(float(n), 1e6))
        say(f"shared {n}")
        key, value = ("quality", "720p") if tag == "a" else ("subtitles", n % 2 == 0)
        store.set_preferences(pid, {key: value})
        say(f"pref {key} {value}")
        verdict = store.try_pin(pid, "9999", now=0.0)  # the clock stands still: no wait ends
        say("pin locked" if verdict.locked else "pin wrong")


def loop(store: StateStore, pid: str) -> None:
    n = 0
    while True:
        store.report(pid, f"{n:012x}", ProgressReport(float(n), 1e6))
        say(str(n))
        n += 1


def imports(store: StateStore, pid: str, rows: int) -> None:
    generation = 1
    while True:
        record = ProfileRecord(pid, "local", "Imported", "#000000", None, 1.0, Preferences(),
                               tuple(Row(f"{n:012x}", float(generation), None, False, 1.0)
                                     for n in range(rows)))
        import_all(store, [record])
        say(str(generation))
        generation += 1


def main(argv: list[str]) -> None:
    path, mode, *args = argv
    store = StateStore.open(Path(path))
    if mode == "open":
        say(f"{args[0]} {store.secret.hex()}")
    elif mode == "reports":
        reports(store, args[0], args[1], int(args[2]))
    elif mode == "loop":
        loop(store, args[0])
    elif mode == "imports":
        imports(store, args[0], int(args[1]))
    store.close()


if __name__ == "__main__":
    main(sys.argv[1:])
