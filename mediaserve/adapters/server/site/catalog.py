"""The server's in-memory view of the library.

Everything a request needs that does not change per request is computed once at start-up:
the relative path, Content-Type, Content-Disposition and the JSON document. Validators are
cached per file version (size, mtime, inode, ctime) so formatting an HTTP date is not on the
hot path either.
"""

from __future__ import annotations

import dataclasses
import os
import stat
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from mediaserve.adapters.server.site.listing_cache import ListingCache
from mediaserve.adapters.server.site.safe_open import OutsideRoot, RootOpener
from mediaserve.core.audit.rules import FindingsFor
from mediaserve.core.http import ranges
from mediaserve.core.http.headers import content_disposition
from mediaserve.core.library.facts import facts_json
from mediaserve.core.library.failure import ProbeFailure
from mediaserve.core.library.formats import content_type_for
from mediaserve.core.library.index import LibraryIndex, VideoEntry
from mediaserve.core.library.status import EntryStatus
from mediaserve.core.naming import ParsedName, parse_path
from mediaserve.core.shows import Item, Shows, build_shows
from mediaserve.core.web.media import media_json


class Presence(StrEnum):
    """What the server saw when it last opened the file (the entry's status is what the scan
    saw). ``missing`` and ``unreadable`` replace the status in the listing."""

    PRESENT = "present"
    MISSING = "missing"  # gone, not a regular file, or leading out of the root
    UNREADABLE = "unreadable"  # there, but the server may not open it (streams answer 403)


@dataclass(slots=True)
class Video:
    """One servable entry plus its cached per-file header values."""

    entry: VideoEntry
    content_type: str
    disposition: str
    findings: list[dict[str, Any]] = field(default_factory=list)
    presence: Presence = Presence.PRESENT
    #: what the name says: read when the catalog is built (5,000 names: ~0.2 s of CPU),
    #: and kept by the next catalog for a path that did not change
    parsed: ParsedName = field(default_factory=lambda: ParsedName("untitled"))
    #: for an episode: its show, and the episodes before and after it across seasons
    show_id: str | None = None
    previous_episode_id: str | None = None
    next_episode_id: str | None = None
    _validators: ranges.Validators | None = None
    _validators_key: tuple[int, int, int, int] = (-1, -1, -1, -1)

    @property
    def stats_id(self) -> str:
        return self.entry.id

    @property
    def missing(self) -> bool:
        return self.presence is Presence.MISSING

    @property
    def status(self) -> str:
        """The status the API shows: the scan's, unless the server found otherwise."""
        return self.entry.status if self.presence is Presence.PRESENT else str(self.presence)

    def validators(self, size: int, mtime_ns: int, inode: int = 0,
                   ctime_ns: int = 0) -> ranges.Validators:
        """Cached per file version; the key is what the ETag is made of (see
        :func:`ranges.make_validators`: inode and ctime tell a ``cp -p`` copy apart)."""
        key = (size, mtime_ns, inode, ctime_ns)
        cached = self._validators
        if cached is None or self._validators_key != key:
            cached = self._validators = ranges.make_validators(*key)
            self._validators_key = key
        return cached

    def as_json(self, base: str = "") -> dict[str, Any]:
        entry = self.entry
        doc: dict[str, Any] = {
            "id": entry.id,
            "name": entry.path.rsplit("/", 1)[-1],
            "path": entry.path,
            "size": entry.size,
            "mtime_ns": entry.mtime_ns,
            "status": self.status,
            "error": entry.error,
            "content_type": self.content_type,
            "stream_url": f"{base}/api/videos/{entry.id}/stream",
        }
        doc.update(facts_json(entry.facts))
        doc["findings"] = self.findings
        doc.update(media_json(entry, base, self.parsed))  # title, kind, show… (the web UI's)
        doc.update(show_id=self.show_id, previous_episode_id=self.previous_episode_id,
                   next_episode_id=self.next_episode_id)
        return doc


class Catalog:
    """Videos by id, as loaded from the index.

    ``version`` changes whenever :meth:`listing` would return something else (a file found
    missing, unreadable or back), so ``listing_cache`` re-encodes the listing only then.
    """

    def __init__(self, index: LibraryIndex, findings: FindingsFor | None = None,
                 this_year: int | None = None, previous: Catalog | None = None) -> None:
        """``previous``: the catalog this one replaces, whose parsed names are reused for
        paths that did not change (a reload after one file came costs one parse)."""
        self.index = index
        self._findings = findings
        self.videos: dict[str, Video] = {}
        self.version = 0
        self.listing_cache = ListingCache(self.listing, lambda: self.version,
                                          lambda: len(self.videos))
        #: bounds plausible years in names (next year is still one)
        self.year = this_year if this_year is not None else datetime.now().year
        reuse = previous.videos if previous is not None and previous.year == self.year else {}
        for entry in index.videos.values():
            old = reuse.get(entry.id)
            video = Video(
                entry=entry,
                content_type=content_type_for(entry.path, entry.facts.container),
                disposition=content_disposition(entry.path),
                presence=(Presence.MISSING if entry.status == EntryStatus.MISSING
                          else Presence.PRESENT),
                parsed=(old.parsed if old is not None and old.entry.path == entry.path
                        else parse_path(entry.path, self.year)),
            )
            self._refresh_findings(video)
            self.videos[entry.id] = video
        self.shows = self._link_episodes()

    def _link_episodes(self) -> Shows:
        """Group the episodes into shows (names never change within a catalog: a renamed
        file comes with a new index, hence a new catalog) and give each its neighbours."""
        shows = build_shows((Item(v.entry.id, v.entry.path, v.parsed)
                             for v in self.videos.values()), self.index.id_secret)
        for show in shows.shows.values():
            for season in show.seasons:
                for item in season.episodes:
                    video = self.videos[item.id]
                    video.show_id = show.id
                    video.previous_episode_id = shows.previous(item.id)
                    video.next_episode_id = shows.next(item.id)
        return shows

    def get(self, vid: str) -> Video | None:
        return self.videos.get(vid)

    def _refresh_findings(self, video: Video) -> None:
        """Findings from the recorded facts, as the file is now (present, missing or
        unreadable by the server)."""
        if self._findings is None:
            return
        entry = video.entry
        if video.presence is Presence.MISSING and entry.status != EntryStatus.MISSING:
            entry = dataclasses.replace(entry, status=EntryStatus.MISSING)
        elif video.presence is Presence.UNREADABLE:
            entry = dataclasses.replace(entry, status=EntryStatus.ERROR,
                                        error_kind=ProbeFailure.UNREADABLE)
        video.findings = [f.as_dict() for f in self._findings(entry)]

    def _mark(self, video: Video, presence: Presence) -> None:
        if video.presence is presence:
            return
        video.presence = presence
        if presence is Presence.PRESENT and video.entry.status == EntryStatus.MISSING:
            video.entry = dataclasses.replace(video.entry, status=EntryStatus.OK)
        self._refresh_findings(video)
        self.version += 1  # the listing shows presence: encode it again

    def mark_missing(self, video: Video) -> None:
        self._mark(video, Presence.MISSING)

    def mark_unreadable(self, video: Video) -> None:
        self._mark(video, Presence.UNREADABLE)

    def mark_present(self, video: Video) -> None:
        self._mark(video, Presence.PRESENT)

    def check_presence(self, opener: RootOpener) -> int:
        """Open every file once (at start-up, in an executor) the way a stream would, so the
        listing shows files that vanished since the scan, or that now lead out of the root,
        as missing, and files the server may not read as unreadable, before anyone tries to
        play them. Returns how many are not playable."""
        absent = 0
        for video in self.videos.values():
            presence = self._probe_presence(opener, video.entry.path)
            self._mark(video, presence)
            absent += presence is not Presence.PRESENT
        return absent

    @staticmethod
    def _probe_presence(opener: RootOpener, path: str) -> Presence:
        try:
            fd = opener.open(path)
        except OutsideRoot:
            return Presence.MISSING
        except PermissionError:
            return Presence.UNREADABLE
        except OSError:
            return Presence.MISSING
        try:
            return Presence.PRESENT if stat.S_ISREG(os.fstat(fd).st_mode) else Presence.MISSING
        finally:
            os.close(fd)

    def listing(self, base: str = "") -> list[dict[str, Any]]:
        return [v.as_json(base) for v in sorted(self.videos.values(), key=lambda v: v.entry.path)]
