"""The library index: model, TOML (de)serialisation and incremental-scan bookkeeping.

The index is the single source of truth the server, the audit and the CLI read. It is a
TOML file so a person can read and fix it by hand; because people *will* edit it by hand,
parsing is strict and every error names the line and column it is about.

Nothing here touches the file system: the adapters stat, probe and write; this module
decides what the results mean.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import tomli_w

try:  # tomli is tomllib's upstream compiled with mypyc: same API and errors, ~2.5x faster
    import tomli as tomllib  # (0.25 s instead of 0.64 s for a 10,000-entry index)
except ImportError:  # pragma: no cover - the pure stdlib parser gives the same answers
    import tomllib  # type: ignore[no-redef]

from mediaserve import __version__
from mediaserve.core.library.facts import FACT_FIELDS as FACT_FIELDS  # re-exported
from mediaserve.core.library.facts import (
    FACT_KEYS,
    PROBE_VERSION,
    facts_from_table,
    facts_to_table,
    probe_is_stale,
)
from mediaserve.core.library.facts import AudioTrack as AudioTrack  # re-exported
from mediaserve.core.library.facts import MediaFacts as MediaFacts  # re-exported
from mediaserve.core.library.failure import ProbeFailure
from mediaserve.core.library.ids import is_valid_secret, video_id
from mediaserve.core.library.ignored import (
    IgnoredFile,
    ignored_from_doc,
    ignored_to_doc,
    is_ignored,
    skip_ignored,
)
from mediaserve.core.library.status import EntryStatus
from mediaserve.core.library.summary import ScanSummary

SCHEMA_VERSION = 1



@dataclass(frozen=True, slots=True)
class VideoEntry:
    """One file in the library."""

    id: str
    path: str  # POSIX, relative to the root
    size: int
    mtime_ns: int
    status: EntryStatus = EntryStatus.OK
    facts: MediaFacts = field(default_factory=MediaFacts)
    error: str | None = None
    error_kind: ProbeFailure | None = None  # what kind of failure ``error`` describes
    #: hash of the first and last MiB when probed: a file moved behind the watcher keeps its id
    content_hash: str | None = None
    #: subtitle files beside the video (names in its folder), found by the walk
    subtitles: tuple[str, ...] = ()
    #: what the probe behind ``facts`` recorded (facts.PROBE_VERSION); older ones re-probe
    probe_version: int = PROBE_VERSION

    def same_file_state(self, size: int, mtime_ns: int) -> bool:
        """True when a fresh stat shows the file unchanged since it was probed."""
        return self.size == size and self.mtime_ns == mtime_ns


@dataclass(slots=True)
class LibraryIndex:
    """The whole index: where the library is, per-library settings, and the videos by id."""

    root: str
    videos: dict[str, VideoEntry] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)  # the [server] table, kept verbatim
    scanned_at: datetime | None = None
    #: key of the ids (hex); None in indexes written before ids were keyed (see ids.py)
    id_secret: str | None = None
    ignored: dict[str, IgnoredFile] = field(default_factory=dict)  # by path

    def by_path(self) -> dict[str, VideoEntry]:
        return {entry.path: entry for entry in self.videos.values()}

    def ignore(self, entry: VideoEntry, reason: str, size: int | None = None,
               mtime_ns: int | None = None) -> None:
        """Drop ``entry``; scans skip its file while it keeps this size and mtime (.ignored)."""
        self.videos.pop(entry.id, None)
        self.ignored[entry.path] = IgnoredFile(
            entry.path, entry.size if size is None else size,
            entry.mtime_ns if mtime_ns is None else mtime_ns, reason)

    def unignore(self, path: str) -> bool:
        """Forget that ``path`` is ignored (the next scan indexes it). False if it was not."""
        return self.ignored.pop(path, None) is not None

    def totals(self) -> tuple[int, float, int]:
        """(videos, seconds, bytes) of the entries not flagged missing."""
        present = [e for e in self.videos.values() if e.status != EntryStatus.MISSING]
        return (len(present), sum(e.facts.duration or 0.0 for e in present),
                sum(e.size for e in present))


class IndexFormatError(ValueError):
    """The index file is not valid; names the file, line and column so it can be fixed."""

    def __init__(self, source: str, line: int, column: int, message: str) -> None:
        super().__init__(f"{source}:{line}:{column}: {message}")
        self.source = source
        self.line = line
        self.column = column
        self.message = message


# --------------------------------------------------------------------------- serialisation


def dumps(index: LibraryIndex) -> str:
    """Serialise to TOML. Keys are written in a stable order so diffs of the index stay small."""
    doc: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "generated_by": f"mediaserve {__version__}",
        "root": index.root,
    }
    if index.id_secret is not None:
        doc["id_secret"] = index.id_secret
    if index.scanned_at is not None:
        doc["scanned_at"] = index.scanned_at
    if index.settings:
        doc["server"] = index.settings
    videos: dict[str, Any] = {}
    for entry in sorted(index.videos.values(), key=lambda e: e.path):
        table: dict[str, Any] = {
            "path": entry.path,
            "size": entry.size,
            "mtime_ns": entry.mtime_ns,
            "status": entry.status,
        }
        if entry.error:
            table["error"] = entry.error
        if entry.error_kind is not None:
            table["error_kind"] = str(entry.error_kind)
        if entry.subtitles:
            table["subtitles"] = list(entry.subtitles)
        facts_to_table(entry.facts, table)
        if entry.probe_version != 1:  # absent means 1: indexes written before versions
            table["probe_version"] = entry.probe_version
        if entry.content_hash:
            table["content_hash"] = entry.content_hash
        videos[entry.id] = table
    doc["videos"] = videos
    if index.ignored:
        doc["ignored"] = ignored_to_doc(index.ignored)
    return tomli_w.dumps(doc)


_TOML_POS = re.compile(r"\(at line (\d+), column (\d+)\)")



class _Locator:
    """Finds the line of a key in the TOML text, for semantic errors tomllib cannot place.

    Plain string comparisons, line by line: linear in the file whatever its keys. (Patterns
    built from the file's own keys were not: ``videos."a..........b"`` made the table
    header's pattern exponential, 12.7 s for a 272-byte index.)"""

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()

    def find(self, table: str | None, key: str | None) -> tuple[int, int]:
        start = 0
        if table is not None:
            header = "[" + "".join(table.split()) + "]"  # blanks around the dots allowed
            for number, line in enumerate(self.lines):
                if line.lstrip().startswith("[") and "".join(line.split()).startswith(header):
                    start = number + 1
                    break
            else:
                return (1, 1)
            if key is None:
                return (start, 1)
        key = key or ""
        for number in range(start, len(self.lines)):
            line = self.lines[number]
            stripped = line.lstrip()
            if table is not None and number > start and stripped.startswith("["):
                break
            if stripped.startswith(key) and stripped[len(key):].lstrip().startswith("="):
                return (number + 1, len(line) - len(stripped) + 1)
        return (max(start, 1), 1)


def loads(text: str, source: str = "<index>") -> LibraryIndex:
    """Parse and validate an index. Raises IndexFormatError naming source, line and column."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = _TOML_POS.search(str(exc))
        line, column = (int(match.group(1)), int(match.group(2))) if match else (
            getattr(exc, "lineno", 1) or 1, getattr(exc, "colno", 1) or 1)
        message = _TOML_POS.sub("", str(exc)).strip()
        raise IndexFormatError(source, line, column, f"invalid TOML: {message}") from None

    where = _Locator(text)

    def fail(table: str | None, key: str | None, message: str) -> IndexFormatError:
        line, column = where.find(table, key)
        return IndexFormatError(source, line, column, message)

    version = doc.get("schema_version")
    if version != SCHEMA_VERSION:
        raise fail(None, "schema_version", f"unsupported schema_version {version!r} "
                   f"(this mediaserve reads {SCHEMA_VERSION})")
    root = doc.get("root")
    if not isinstance(root, str) or not root:
        raise fail(None, "root", "'root' must be a non-empty string")
    settings = doc.get("server", {})
    if not isinstance(settings, dict):
        raise fail(None, "server", "'server' must be a table")
    scanned_at = doc.get("scanned_at")
    if scanned_at is not None and not isinstance(scanned_at, datetime):
        raise fail(None, "scanned_at", "'scanned_at' must be a TOML date-time")
    id_secret = doc.get("id_secret")
    if id_secret is not None and not is_valid_secret(id_secret):
        raise fail(None, "id_secret", "'id_secret' must be 64 lower-case hex digits")
    raw_videos = doc.get("videos", {})
    if not isinstance(raw_videos, dict):
        raise fail(None, "videos", "'videos' must be a table of tables")

    videos: dict[str, VideoEntry] = {}
    for vid, table in raw_videos.items():
        name = f"videos.{vid}"
        if not isinstance(table, dict):
            raise fail("videos", vid, f"video {vid!r} must be a table")
        videos[vid] = _entry_from_table(vid, table, lambda key, msg, n=name: fail(n, key, msg))
    return LibraryIndex(root=root, videos=videos, settings=settings, scanned_at=scanned_at,
                        id_secret=id_secret, ignored=ignored_from_doc(doc.get("ignored", []), fail))


def _entry_from_table(vid: str, table: Mapping[str, Any], fail: Any) -> VideoEntry:
    path = table.get("path")
    if not isinstance(path, str) or not path:
        raise fail("path", f"video {vid}: 'path' must be a non-empty string")
    if path.startswith("/") or ".." in path.split("/"):
        raise fail("path", f"video {vid}: 'path' must be relative to the root, without '..'")
    size = table.get("size")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise fail("size", f"video {vid}: 'size' must be a non-negative integer")
    mtime_ns = table.get("mtime_ns")  # negative for files dated before 1970
    if not isinstance(mtime_ns, int) or isinstance(mtime_ns, bool):
        raise fail("mtime_ns", f"video {vid}: 'mtime_ns' must be an integer")
    status = table.get("status", EntryStatus.OK)
    if status not in set(EntryStatus):
        raise fail("status", f"video {vid}: 'status' must be one of {', '.join(EntryStatus)}")
    error = table.get("error")
    if error is not None and not isinstance(error, str):
        raise fail("error", f"video {vid}: 'error' must be a string")
    try:
        error_kind = ProbeFailure.recorded(table.get("error_kind"), error)
    except ValueError as exc:
        raise fail("error_kind", f"video {vid}: {exc}") from None
    if not isinstance(content_hash := table.get("content_hash"), str | None):
        raise fail("content_hash", f"video {vid}: 'content_hash' must be a string")
    facts = facts_from_table(vid, table, fail)
    probe_version = table.get("probe_version", 1)
    if isinstance(probe_version, bool) or not isinstance(probe_version, int) or not (
            1 <= probe_version <= 1_000):
        raise fail("probe_version", f"video {vid}: 'probe_version' must be a whole number "
                   "from 1 to 1000")
    subtitles = table.get("subtitles", [])
    if not isinstance(subtitles, list) or not all(
            isinstance(name, str) and name and "/" not in name and name not in (".", "..")
            for name in subtitles):
        raise fail("subtitles", f"video {vid}: 'subtitles' must be a list of file names "
                   "in the video's folder")
    known = {"path", "size", "mtime_ns", "status", "error", "error_kind", "content_hash",
             "subtitles", "probe_version", *FACT_KEYS}
    unknown = sorted(set(table) - known)
    if unknown:
        raise fail(unknown[0], f"video {vid}: unknown key '{unknown[0]}'")
    return VideoEntry(id=vid, path=path, size=table["size"], mtime_ns=table["mtime_ns"],
                      status=EntryStatus(status), facts=facts, error=error,
                      error_kind=error_kind, content_hash=content_hash,
                      subtitles=tuple(subtitles), probe_version=probe_version)


# --------------------------------------------------------------------------- incremental scan


@dataclass(frozen=True, slots=True)
class FileState:
    """A stat of one video file found by the walk."""

    path: str  # POSIX, relative to the root
    size: int
    mtime_ns: int
    subtitles: tuple[str, ...] = ()  # subtitle files beside it (names in its folder)


@dataclass(frozen=True, slots=True)
class ProbeOutcome:
    """What the prober said about one file: facts, or an error message and its kind."""

    facts: MediaFacts
    error: str | None = None
    kind: ProbeFailure | None = None  # set with ``error`` by the prober
    content_hash: str | None = None  # see VideoEntry.content_hash


def files_to_probe(old: LibraryIndex | None, found: Iterable[FileState],
                   force: bool = False) -> list[FileState]:
    """New files, and changed ones (all with ``force``); unchanged ignored ones are left out."""
    known = old.by_path() if old else {}
    todo = []
    for state in found:
        if old is not None and is_ignored(old.ignored, state):
            continue
        entry = known.get(state.path)
        if (force or entry is None or entry.status == EntryStatus.MISSING
                or not entry.same_file_state(state.size, state.mtime_ns)
                or probe_is_stale(entry.probe_version, entry.facts.container)):
            todo.append(state)
    return todo


def apply_scan(
    old: LibraryIndex | None,
    root: str,
    found: Iterable[FileState],
    probed: Mapping[str, ProbeOutcome],
    now: datetime | None = None,
    unreadable_dirs: Iterable[str] = (),
    id_secret: str | None = None,
) -> tuple[LibraryIndex, ScanSummary]:
    """Merge a walk and its probe results into a new index.

    Unchanged files keep their recorded facts; files that vanished are kept and flagged
    missing (deleting entries is the audit's job, with a dry run first); the [server]
    settings a person wrote survive the rescan. Entries under a folder the walk could not
    read (``unreadable_dirs``, relative POSIX paths) are kept as they were: not seeing a file
    is not evidence that it is gone, and a "missing" flag would invite the audit to prune it.
    Known files keep the id they have; new files get one keyed with the old index's
    ``id_secret`` (or ``id_secret`` for a first scan; an old index without one must be
    re-keyed first, see ``core.library.rekey``).
    """
    secret = old.id_secret if old is not None else id_secret
    blind = tuple(d.rstrip("/") + "/" for d in unreadable_dirs)
    known = old.by_path() if old else {}
    summary = ScanSummary()
    found, ignored, summary.ignored = skip_ignored(old.ignored if old else {}, found, blind)
    videos: dict[str, VideoEntry] = {}
    for state in found:
        previous = known.pop(state.path, None)
        vid = previous.id if previous is not None else video_id(state.path, secret=secret)
        outcome = probed.get(state.path)
        if outcome is None and previous is not None:
            entry = previous
            if entry.subtitles != state.subtitles:  # a subtitle file came or went
                entry = dataclasses.replace(entry, subtitles=state.subtitles)
            summary.unchanged.append(vid)
        elif outcome is None:
            raise ValueError(f"no probe result for new file {state.path!r}")
        else:
            entry = VideoEntry(
                id=vid, path=state.path, size=state.size, mtime_ns=state.mtime_ns,
                status=EntryStatus.ERROR if outcome.error else EntryStatus.OK,
                facts=outcome.facts, error=outcome.error, error_kind=outcome.kind,
                content_hash=outcome.content_hash,
                subtitles=state.subtitles,
            )
            fresh = previous is None or previous.status == EntryStatus.MISSING
            (summary.new if fresh else summary.changed).append(vid)
        if entry.status == EntryStatus.ERROR:
            summary.failed.append(vid)
            summary.failed_files.append((entry.path, entry.error or "unknown error"))
        if vid in videos:  # 48 bits of sha256 colliding inside one library: refuse loudly
            raise ValueError(f"id collision between {videos[vid].path!r} and {state.path!r}")
        videos[vid] = entry
        summary.total_size += entry.size
        summary.total_duration += entry.facts.duration or 0.0
    for entry in known.values():
        if entry.id in videos:  # same file under another Unicode normalisation (NFC/NFD)
            continue
        if blind and (entry.path + "/").startswith(blind):
            videos[entry.id] = entry
            summary.unchanged.append(entry.id)
            summary.total_size += entry.size
            summary.total_duration += entry.facts.duration or 0.0
            continue
        gone = entry if entry.status == EntryStatus.MISSING else dataclasses.replace(
            entry, status=EntryStatus.MISSING)
        videos[gone.id] = gone
        summary.missing.append(gone.id)
    settings = dict(old.settings) if old else {}
    index = LibraryIndex(root=root, videos=videos, settings=settings,
                         scanned_at=(now or datetime.now(UTC)).replace(microsecond=0),
                         id_secret=secret, ignored=ignored)
    return index, summary


def looks_unmounted(old: LibraryIndex | None, found_count: int) -> bool:
    """An index with present entries but a root with no videos at all is most likely a
    drive that is not mounted: rescanning would flag the whole library missing."""
    if old is None or found_count:
        return False
    return any(entry.status != EntryStatus.MISSING for entry in old.videos.values())
