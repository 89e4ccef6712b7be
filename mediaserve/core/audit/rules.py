"""Audit rules: what is wrong with a library entry, how bad it is, and what would fix it.

Pure (no I/O): the adapter (``mediaserve.adapters.audit.auditor``) stats, hashes, demuxes and
re-probes, and hands the results in. Each rule is one small function from what is known about
an entry to at most one :class:`Finding`, so the same rules run

* in ``mediaserve audit`` with a fresh stat (and, with ``--deep``, a fresh demux), and
* in the server with ``stat=None, deep=None``: recorded facts only, a few attribute reads,
  cheap enough for every ``GET /api/videos/{id}``.

Rules are evaluated in tiers, and a tier that finds an error stops the later ones, so one
broken file yields the one finding that explains it, with the fix that applies:

1. the file itself: missing, not a regular file, empty, unreadable;
2. the index: stale (size, mtime or status changed since the scan) and a deep check that
   timed out; these never stop later tiers;
3. content errors: truncated (which explains "cannot be opened" and "too few frames", so it
   suppresses them), not a media file, corrupt, no video stream, too few frames;
4. advice for files that play: not faststart, codec pair not playable everywhere, duplicate.

Errors make ``plan_fix`` drop the entry from the index; warnings never change the index
(except ``stale``, which replaces the entry with its re-probed version). Nothing here, nor in
the adapter, deletes or modifies a media file.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from mediaserve.core.library.formats import MP4_FAMILY, VIDEO_EXTENSIONS, extension_of
from mediaserve.core.library.index import (
    STATUS_ERROR,
    STATUS_MISSING,
    STATUS_OK,
    LibraryIndex,
    MediaFacts,
    ProbeOutcome,
    VideoEntry,
)


class Severity(StrEnum):
    """How bad a finding is. Errors are pruned from the index by a fix; warnings are advice."""

    ERROR = "error"
    WARNING = "warning"

    @property
    def rank(self) -> int:
        return 2 if self is Severity.ERROR else 1


class FailOn(StrEnum):
    """The lowest severity that makes ``mediaserve audit`` exit 1."""

    ERROR = "error"
    WARNING = "warning"
    NEVER = "never"


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem with one entry: a stable ``code`` for scripts, a sentence for people."""

    code: str
    severity: Severity
    message: str
    fix: str

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "severity": str(self.severity), "message": self.message,
                "fix": self.fix}


@dataclass(frozen=True, slots=True)
class Rule:
    """A rule's identity for documentation and ``--json``: code, severity, what it means."""

    code: str
    severity: Severity
    title: str

    def finding(self, message: str, fix: str) -> Finding:
        return Finding(self.code, self.severity, message, fix)


E, W = Severity.ERROR, Severity.WARNING
MISSING = Rule("missing", E, "the file is gone")
NOT_REGULAR = Rule("not-regular", E, "the path is a folder, device or pipe, not a file")
EMPTY = Rule("empty", E, "the file has zero bytes")
UNREADABLE = Rule("unreadable", E, "permission denied")
NOT_MEDIA = Rule("not-media", E, "the container cannot be opened")
TRUNCATED = Rule("truncated", E, "the file ends before its data does")
CORRUPT = Rule("corrupt", E, "demuxing failed part-way")
NO_VIDEO = Rule("no-video", E, "no video stream")
TOO_FEW_FRAMES = Rule("too-few-frames", E, "fewer frames than --min-frames")
STALE = Rule("stale", W, "the file changed since the scan")
TIMEOUT = Rule("timeout", W, "the --deep check ran out of time")
NOT_FASTSTART = Rule("not-faststart", W, "MP4 with the moov box after the media data")
UNPLAYABLE = Rule("unplayable", W, "codecs Chromium and Firefox cannot play")
CHROMIUM_ONLY = Rule("chromium-only", W, "plays in Chromium but not in every browser")
DUPLICATE = Rule("duplicate", W, "same content as another entry")

#: every rule, in the order they are documented (man page, README, ``--json``)
RULES: tuple[Rule, ...] = (
    MISSING, NOT_REGULAR, EMPTY, UNREADABLE, NOT_MEDIA, TRUNCATED, CORRUPT, NO_VIDEO,
    TOO_FEW_FRAMES, STALE, TIMEOUT, NOT_FASTSTART, UNPLAYABLE, CHROMIUM_ONLY, DUPLICATE,
)


# --------------------------------------------------------------------------- inputs


@dataclass(frozen=True, slots=True)
class FreshStat:
    """A stat taken by the audit now (the index holds the one taken at scan time)."""

    exists: bool
    size: int = 0
    mtime_ns: int = 0
    readable: bool = True
    regular: bool = True  # a regular file (after following symlinks)


@dataclass(frozen=True, slots=True)
class DeepFacts:
    """What re-demuxing the whole file (packets only, no decoding) showed."""

    opened: bool = True
    has_video: bool = True
    video_packets: int = 0  # non-empty packets of the first real video stream
    end_time: float | None = None  # seconds from the start: where the last packet ends
    duration: float | None = None  # seconds, as the container declares it
    error: str | None = None  # why it would not open (opened=False) or stopped part-way
    timed_out: bool = False  # hit the time or packet budget: everything else is partial
    elapsed: float = 0.0  # seconds spent, for throughput reports


@dataclass(frozen=True, slots=True)
class AuditOptions:
    """Thresholds. The truncation slack is generous because audio priming and the last
    frame's duration make packet end times differ from the declared duration by a frame or
    two; a cut-short copy misses far more than that."""

    min_frames: int = 10
    truncation_slack_s: float = 0.5
    truncation_slack_ratio: float = 0.05


DEFAULT_OPTIONS = AuditOptions()


# --------------------------------------------------------------------------- what rules see


@dataclass(frozen=True, slots=True)
class _View:
    """Everything a rule may look at: the entry, the fresh evidence, and the facts to trust
    (re-probed ones when the file changed, else the ones recorded at scan time)."""

    entry: VideoEntry
    stat: FreshStat | None
    deep: DeepFacts | None
    facts: MediaFacts
    status: str
    error: str | None
    reprobed: bool
    options: AuditOptions

    @property
    def deep_ok(self) -> bool:
        """Deep facts that can be trusted: present and not cut short by the budget."""
        return self.deep is not None and not self.deep.timed_out


def _file_error_kind(error: str | None) -> str | None:
    """Map the prober's error text to a file-level rule (the prober's messages are the
    contract: ``cannot stat:``, ``empty file``, ``cannot read:``)."""
    if not error:
        return None
    if error.startswith("cannot stat"):
        return MISSING.code
    if error.startswith("empty file"):
        return EMPTY.code
    if error.startswith("cannot read"):
        return UNREADABLE.code
    return None


# --------------------------------------------------------------------------- tier 1: the file


def check_missing(v: _View) -> Finding | None:
    gone = (not v.stat.exists) if v.stat is not None else (
        v.entry.status == STATUS_MISSING or _file_error_kind(v.error) == MISSING.code)
    if not gone:
        return None
    return MISSING.finding(f"file not found: {v.entry.path}",
                           "restore the file, or let the fix remove the entry from the index")


def check_not_regular(v: _View) -> Finding | None:
    if v.stat is None or v.stat.regular:
        return None
    return NOT_REGULAR.finding(f"not a regular file: {v.entry.path}",
                               "put the video back, or let the fix remove the entry")


def check_empty(v: _View) -> Finding | None:
    empty = v.stat.size == 0 if v.stat is not None else (
        _file_error_kind(v.error) == EMPTY.code)
    if not empty:
        return None
    return EMPTY.finding("the file is empty (0 bytes): an interrupted copy or download",
                         "copy the file again from its source")


def check_unreadable(v: _View) -> Finding | None:
    unreadable = not v.stat.readable if v.stat is not None else (
        _file_error_kind(v.error) == UNREADABLE.code)
    if not unreadable:
        return None
    return UNREADABLE.finding("permission denied: the server cannot read this file",
                              "make it readable (chmod a+r) and rescan")


FILE_RULES: tuple[Callable[[_View], Finding | None], ...] = (
    check_missing, check_not_regular, check_empty, check_unreadable)


# --------------------------------------------------------------------------- tier 2: the index


def check_stale(v: _View) -> Finding | None:
    if v.stat is None:
        return None
    changed = not v.entry.same_file_state(v.stat.size, v.stat.mtime_ns)
    # the index recorded a failure (missing, unreadable...) and the file is fine now
    revived = (v.entry.status != v.status if v.reprobed
               else v.entry.status == STATUS_MISSING)
    if not (changed or revived):
        return None
    if changed:
        what = (f"size {v.entry.size} → {v.stat.size}" if v.entry.size != v.stat.size
                else "modification time")
        message = f"changed since the scan ({what})"
    else:
        message = f"the index says '{v.entry.status}' but the file is readable now"
    if v.reprobed:
        message += "; findings below are from a fresh probe"
    return STALE.finding(message, "the fix re-probes it (or run mediaserve scan)")


def check_timeout(v: _View) -> Finding | None:
    if v.deep is None or not v.deep.timed_out:
        return None
    why = f" ({v.deep.error})" if v.deep.error else ""
    return TIMEOUT.finding(
        f"the deep check gave up after {v.deep.elapsed:.1f} s{why}; "
        "only the facts recorded at scan time were checked",
        "rerun with a larger --deep-timeout; a file that never finishes is likely corrupt")


# --------------------------------------------------------------------------- tier 3: content


def _deep_gap(v: _View) -> tuple[float, float] | None:
    """(end of the last packet, declared duration) when the packets stop well short."""
    if not v.deep_ok or v.deep is None or not v.deep.opened:
        return None
    end, duration = v.deep.end_time, v.deep.duration
    if end is None or not duration:
        return None
    slack = max(v.options.truncation_slack_s, v.options.truncation_slack_ratio * duration)
    return (end, duration) if duration - end > slack else None


def check_truncated(v: _View) -> Finding | None:
    fix = "copy the file again from its source; the missing part cannot be recovered here"
    gap = _deep_gap(v)
    if gap is not None:
        end, duration = gap
        return TRUNCATED.finding(
            f"packets end at {end:.2f} s of a declared {duration:.2f} s "
            f"({end / duration:.0%} present)", fix)
    if v.facts.truncated:
        container = v.facts.container or VIDEO_EXTENSIONS.get(
            extension_of(v.entry.path), ("", ""))[0]
        part = "an MP4 box (mdat or moov)" if container in MP4_FAMILY else "the Matroska segment"
        return TRUNCATED.finding(f"the file ends before {part} it declares does", fix)
    return None


def check_not_media(v: _View) -> Finding | None:
    if v.deep_ok and v.deep is not None:  # a fresh open outranks the recorded outcome
        if v.deep.opened:
            return None
        reason = v.deep.error or "unknown error"
    elif v.status == STATUS_ERROR:
        reason = v.error or "unknown error"
    else:
        return None
    return NOT_MEDIA.finding(f"cannot be opened as media: {reason}",
                             "check what the file is; remove or replace it")


def check_corrupt(v: _View) -> Finding | None:
    if not v.deep_ok or v.deep is None or not v.deep.opened or not v.deep.error:
        return None
    return CORRUPT.finding(f"demuxing failed after {v.deep.video_packets} video packets: "
                           f"{v.deep.error}", "copy the file again from its source")


def check_no_video(v: _View) -> Finding | None:
    has_video = v.deep.has_video if v.deep_ok and v.deep is not None else (
        v.facts.video_codec is not None)
    if has_video:
        return None
    audio = f" ({v.facts.audio_codec} audio only)" if v.facts.audio_codec else ""
    return NO_VIDEO.finding(f"no video stream{audio}",
                            "move it out of the video library (e.g. to a music folder)")


def _frame_count(v: _View) -> int | None:
    if v.deep_ok and v.deep is not None:
        return v.deep.video_packets
    return v.facts.frames


def check_frames(v: _View) -> Finding | None:
    frames = _frame_count(v)
    if frames is None or frames >= v.options.min_frames:
        return None
    return TOO_FEW_FRAMES.finding(
        f"only {frames} frame{'s' if frames != 1 else ''} (minimum {v.options.min_frames})",
        "delete it yourself if it is an accidental recording; the fix removes the entry")


# --------------------------------------------------------------------------- tier 4: advice


def check_faststart(v: _View) -> Finding | None:
    if v.facts.container not in MP4_FAMILY or v.facts.faststart is not False:
        return None
    return NOT_FASTSTART.finding(
        "the moov box (the index) is at the end: browsers must fetch the end of the file "
        "before playing, so start and seeks are slow",
        "mediaserve audit --remux-faststart (stream copy, no re-encoding)")


#: (container, video codecs, audio codecs) that Chromium and Firefox both play natively;
#: ``None`` in the audio set means "no audio stream"
_PLAYS_EVERYWHERE: tuple[tuple[str, frozenset[str], frozenset[str | None]], ...] = (
    ("mp4", frozenset({"h264", "av1", "vp9"}),
     frozenset({None, "aac", "mp3", "opus", "flac"})),
    ("webm", frozenset({"vp8", "vp9", "av1"}), frozenset({None, "opus", "vorbis"})),
)
_WEBM_VIDEO = frozenset({"vp8", "vp9", "av1"})
_WEBM_AUDIO: frozenset[str | None] = frozenset({None, "opus", "vorbis"})
_MP4_AUDIO: frozenset[str | None] = frozenset({None, "aac", "mp3", "opus", "flac"})

_CODEC_NOTES = {
    "hevc": "HEVC (H.265) plays in Safari, and in Chromium only with a hardware decoder",
    "mpeg4": "MPEG-4 Part 2 (DivX/Xvid) plays in no browser",
    "msmpeg4v3": "MS MPEG-4 v3 (DivX 3) plays in no browser",
    "wmv1": "Windows Media Video plays in no browser",
    "wmv2": "Windows Media Video plays in no browser",
    "wmv3": "Windows Media Video plays in no browser",
    "vc1": "VC-1 plays in no browser",
    "mpeg2video": "MPEG-2 video plays in no browser",
    "mpeg1video": "MPEG-1 video plays in no browser",
    "theora": "Theora no longer plays in Chromium",
    "ac3": "AC-3 audio does not play in Chromium or Firefox",
    "eac3": "E-AC-3 audio does not play in Chromium or Firefox",
    "dts": "DTS audio plays in no browser",
}

_TRANSCODE = ("transcode to H.264/AAC in MP4 (or VP9/Opus in WebM); "
              "mediaserve does not re-encode")


def playable_everywhere(container: str | None, video: str | None, audio: str | None) -> bool:
    """True when Chromium and Firefox both play this container/codec combination natively."""
    return any(container == c and video in vs and audio in aus
               for c, vs, aus in _PLAYS_EVERYWHERE)


def check_playable(v: _View) -> Finding | None:
    container, video, audio = v.facts.container, v.facts.video_codec, v.facts.audio_codec
    if container is None or video is None or playable_everywhere(container, video, audio):
        return None
    pair = f"{video}" + (f"/{audio}" if audio else "") + f" in {container}"
    if container == "matroska" and video in _WEBM_VIDEO and audio in _WEBM_AUDIO:
        return CHROMIUM_ONLY.finding(
            f"{pair}: plays in Chromium; other browsers expect these codecs in WebM",
            "remux to .webm without re-encoding (e.g. ffmpeg -i IN -c copy OUT.webm)")
    if container == "matroska" and video == "h264" and audio in _MP4_AUDIO:
        return CHROMIUM_ONLY.finding(
            f"{pair}: plays in Chromium only (Safari never; Firefox only in recent versions)",
            "remux to MP4 without re-encoding "
            "(e.g. ffmpeg -i IN -c copy -movflags +faststart OUT.mp4)")
    if container == "mov" and video == "h264" and audio in _MP4_AUDIO:
        return CHROMIUM_ONLY.finding(
            f"{pair}: QuickTime plays in Chromium and Safari; Firefox refuses video/quicktime",
            "remux to MP4 without re-encoding "
            "(e.g. ffmpeg -i IN -c copy -movflags +faststart OUT.mp4)")
    notes = [_CODEC_NOTES[c] for c in (video, audio) if c in _CODEC_NOTES]
    reason = "; ".join(notes) if notes else "not natively playable in Chromium and Firefox"
    return UNPLAYABLE.finding(f"{pair}: {reason}", _TRANSCODE)


CONTENT_ERROR_RULES: tuple[Callable[[_View], Finding | None], ...] = (
    check_corrupt, check_no_video)
ADVICE_RULES: tuple[Callable[[_View], Finding | None], ...] = (
    check_faststart, check_playable)


# --------------------------------------------------------------------------- one entry


def needs_reprobe(entry: VideoEntry, stat: FreshStat) -> bool:
    """Whether the recorded facts can no longer be trusted: the file is there and readable
    but changed since the scan, or the index recorded a failure that may have been fixed
    (permissions, a file put back). Re-probing is read-only and costs ~1 ms."""
    if not (stat.exists and stat.regular and stat.readable and stat.size > 0):
        return False
    return (not entry.same_file_state(stat.size, stat.mtime_ns)
            or entry.status != STATUS_OK)


def refreshed_entry(entry: VideoEntry, stat: FreshStat, outcome: ProbeOutcome) -> VideoEntry:
    """The entry as a rescan would write it, from a fresh stat and probe."""
    return dataclasses.replace(
        entry, size=stat.size, mtime_ns=stat.mtime_ns,
        status=STATUS_ERROR if outcome.error else STATUS_OK,
        facts=outcome.facts, error=outcome.error)


def audit_entry(entry: VideoEntry, stat: FreshStat | None = None,
                deep: DeepFacts | None = None, options: AuditOptions = DEFAULT_OPTIONS,
                *, reprobed: ProbeOutcome | None = None) -> list[Finding]:
    """The findings for one entry, most important first.

    ``stat=None, deep=None`` judges the facts recorded at scan time only (what the server
    does for ``GET /api/videos/{id}``: no I/O, a few microseconds). ``reprobed`` is a fresh
    probe of a file that changed since the scan; its facts replace the recorded ones.
    """
    facts, status, error = entry.facts, entry.status, entry.error
    if reprobed is not None:
        facts, error = reprobed.facts, reprobed.error
        status = STATUS_ERROR if reprobed.error else STATUS_OK
    v = _View(entry, stat, deep, facts, status, error, reprobed is not None, options)
    for rule in FILE_RULES:
        found = rule(v)
        if found is not None:
            return [found]
    findings = [f for f in (check_stale(v), check_timeout(v)) if f is not None]
    if v.status == STATUS_MISSING:  # back on disk but not re-probed: no facts to judge
        return findings
    gate = check_truncated(v) or check_not_media(v)
    if gate is not None:
        return [*findings, gate]
    errors = [f for rule in CONTENT_ERROR_RULES if (f := rule(v)) is not None]
    if not any(f.code == NO_VIDEO.code for f in errors):
        frames = check_frames(v)
        if frames is not None:
            errors.append(frames)
    if errors:
        return [*findings, *errors]
    return [*findings, *(f for rule in ADVICE_RULES if (f := rule(v)) is not None)]


def findings_from_facts(entry: VideoEntry,
                        options: AuditOptions = DEFAULT_OPTIONS) -> list[Finding]:
    """The findings the server shows with ``GET /api/videos/{id}``: recorded facts only,
    no I/O (``audit_entry(entry, None, None, options)``)."""
    return audit_entry(entry, None, None, options)


# --------------------------------------------------------------------------- the library


@dataclass(frozen=True, slots=True)
class EntryAudit:
    """One entry's verdict; ``refreshed`` is the re-probed entry when it was stale."""

    entry: VideoEntry
    findings: tuple[Finding, ...] = ()
    refreshed: VideoEntry | None = None

    @property
    def has_error(self) -> bool:
        return any(f.severity is Severity.ERROR for f in self.findings)

    def codes(self) -> list[str]:
        return [f.code for f in self.findings]

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.entry.id, "path": self.entry.path,
                "findings": [f.as_dict() for f in self.findings]}


@dataclass(frozen=True, slots=True)
class AuditReport:
    """Every entry's verdict, sorted by path, and the counts the summary line shows."""

    entries: tuple[EntryAudit, ...]
    options: AuditOptions = DEFAULT_OPTIONS
    deep: bool = False

    @property
    def total(self) -> int:
        return len(self.entries)

    @property
    def invalid(self) -> int:
        """Entries with at least one error (the ones a fix removes)."""
        return sum(1 for e in self.entries if e.has_error)

    @property
    def valid(self) -> int:
        return self.total - self.invalid

    @property
    def warned(self) -> int:
        """Valid entries with warnings."""
        return sum(1 for e in self.entries if e.findings and not e.has_error)

    def by_id(self) -> dict[str, EntryAudit]:
        return {e.entry.id: e for e in self.entries}

    def findings(self, severity: Severity | None = None) -> list[tuple[EntryAudit, Finding]]:
        """(entry, finding) pairs, errors first, then by path, in rule order."""
        pairs = [(e, f) for e in self.entries for f in e.findings
                 if severity is None or f.severity is severity]
        return sorted(pairs, key=lambda p: -p[1].severity.rank)

    def counts(self) -> dict[str, int]:
        """Findings per code, in documentation order."""
        seen: dict[str, int] = defaultdict(int)
        for e in self.entries:
            for f in e.findings:
                seen[f.code] += 1
        return {r.code: seen[r.code] for r in RULES if seen.get(r.code)}

    def summary_line(self) -> str:
        return (f"Total: {self.total} | Valid: {self.valid} | Invalid: {self.invalid}"
                f" | With warnings: {self.warned}")

    def exit_code(self, fail_on: FailOn | str = FailOn.ERROR) -> int:
        """0 when nothing at or above ``fail_on`` was found, else 1 (``never``: always 0)."""
        fail_on = FailOn(fail_on)
        if fail_on is FailOn.NEVER:
            return 0
        threshold = Severity(fail_on.value).rank
        return int(any(f.severity.rank >= threshold for e in self.entries for f in e.findings))

    def summary(self) -> dict[str, Any]:
        return {"total": self.total, "valid": self.valid, "invalid": self.invalid,
                "with_warnings": self.warned, "by_code": self.counts()}

    def as_dict(self) -> dict[str, Any]:
        return {"summary": self.summary(), "deep": self.deep,
                "min_frames": self.options.min_frames,
                "entries": [e.as_dict() for e in self.entries if e.findings]}


def audit_library(index: LibraryIndex, stats: Mapping[str, FreshStat] | None = None,
                  *, deep: Mapping[str, DeepFacts] | None = None,
                  reprobed: Mapping[str, ProbeOutcome] | None = None,
                  options: AuditOptions = DEFAULT_OPTIONS) -> AuditReport:
    """Run :func:`audit_entry` over the index (maps are keyed by entry id). Duplicates are
    added afterwards with :func:`with_duplicates`, once the adapter has hashed candidates."""
    stats, deep, reprobed = stats or {}, deep or {}, reprobed or {}
    audits = []
    for entry in sorted(index.videos.values(), key=lambda e: e.path):
        stat, fresh = stats.get(entry.id), reprobed.get(entry.id)
        findings = audit_entry(entry, stat, deep.get(entry.id), options, reprobed=fresh)
        refreshed = (refreshed_entry(entry, stat, fresh)
                     if stat is not None and fresh is not None else None)
        audits.append(EntryAudit(entry, tuple(findings), refreshed))
    return AuditReport(tuple(audits), options, deep=bool(deep))


# --------------------------------------------------------------------------- duplicates


def duplicate_candidates(report: AuditReport,
                         stats: Mapping[str, FreshStat]) -> list[list[str]]:
    """Ids of error-free entries grouped by their current size, groups of two or more:
    only those files are worth hashing (a real library has few same-size files)."""
    by_size: dict[int, list[str]] = defaultdict(list)
    for audit in report.entries:
        stat = stats.get(audit.entry.id)
        if audit.has_error or stat is None or not stat.exists or stat.size == 0:
            continue
        by_size[stat.size].append(audit.entry.id)
    return [ids for ids in by_size.values() if len(ids) > 1]


def duplicate_groups(keys: Mapping[str, Hashable]) -> list[tuple[str, ...]]:
    """Ids whose content keys (size plus a hash of the first and last MiB) are equal, in
    groups of two or more, each group in id order."""
    groups: dict[Hashable, list[str]] = defaultdict(list)
    for vid, key in keys.items():
        groups[key].append(vid)
    return sorted(tuple(sorted(ids)) for ids in groups.values() if len(ids) > 1)


def with_duplicates(report: AuditReport, groups: Iterable[tuple[str, ...]]) -> AuditReport:
    """The report with a ``duplicate`` warning on every member of every group, naming the
    other copies (the audit never decides which copy to keep)."""
    audits = report.by_id()
    extra: dict[str, Finding] = {}
    for group in groups:
        paths = {vid: audits[vid].entry.path for vid in group}
        for vid in group:
            others = ", ".join(sorted(p for other, p in paths.items() if other != vid))
            extra[vid] = DUPLICATE.finding(
                f"same content as {others} (same size, same first and last MiB)",
                "keep one copy; move or delete the others yourself (audit never deletes media)")
    if not extra:
        return report
    entries = tuple(dataclasses.replace(a, findings=(*a.findings, extra[a.entry.id]))
                    if a.entry.id in extra else a for a in report.entries)
    return dataclasses.replace(report, entries=entries)


# --------------------------------------------------------------------------- fixing


@dataclass(frozen=True, slots=True)
class Change:
    """One change a fix makes to the index (never to a media file)."""

    action: str  # "remove" | "update"
    id: str
    path: str
    reason: str

    def as_dict(self) -> dict[str, str]:
        return {"action": self.action, "id": self.id, "path": self.path, "reason": self.reason}


def plan_fix(index: LibraryIndex, report: AuditReport) -> tuple[LibraryIndex, list[Change]]:
    """The index a fix would write, and the changes, in path order: entries with an error
    are removed; stale entries are replaced by their re-probed version. ``index`` is not
    modified."""
    videos = dict(index.videos)
    changes: list[Change] = []
    for audit in report.entries:
        vid = audit.entry.id
        if vid not in videos:
            continue
        if audit.has_error:
            del videos[vid]
            reason = "; ".join(f"{f.code}: {f.message}" for f in audit.findings
                               if f.severity is Severity.ERROR)
            changes.append(Change("remove", vid, audit.entry.path, reason))
        elif audit.refreshed is not None and audit.refreshed != audit.entry:
            videos[vid] = audit.refreshed
            changes.append(Change("update", vid, audit.entry.path,
                                  "re-probed: the file changed since the scan"))
    new = LibraryIndex(root=index.root, videos=videos, settings=dict(index.settings),
                       scanned_at=index.scanned_at, ignored=dict(index.ignored))
    return new, changes


def remux_candidates(report: AuditReport) -> list[EntryAudit]:
    """Entries that play but are not faststart: the only ones ``--remux-faststart`` touches
    (a truncated or corrupt file is never rewritten)."""
    return [a for a in report.entries
            if not a.has_error and NOT_FASTSTART.code in a.codes()]


def replace_entries(index: LibraryIndex, entries: Iterable[VideoEntry]) -> LibraryIndex:
    """A copy of ``index`` with these entries (by id) replaced, e.g. after a remux."""
    videos = dict(index.videos)
    for entry in entries:
        videos[entry.id] = entry
    return LibraryIndex(root=index.root, videos=videos, settings=dict(index.settings),
                        scanned_at=index.scanned_at, ignored=dict(index.ignored))


__all__ = [
    "DEFAULT_OPTIONS",
    "RULES",
    "AuditOptions",
    "AuditReport",
    "Change",
    "DeepFacts",
    "EntryAudit",
    "FailOn",
    "Finding",
    "FreshStat",
    "Rule",
    "Severity",
    "audit_entry",
    "audit_library",
    "duplicate_candidates",
    "duplicate_groups",
    "findings_from_facts",
    "needs_reprobe",
    "plan_fix",
    "playable_everywhere",
    "refreshed_entry",
    "remux_candidates",
    "replace_entries",
    "with_duplicates",
]

