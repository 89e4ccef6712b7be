"""Audit rules: what is wrong with a library entry, how bad it is, and what would fix it.

Every rule is declared once, as one row of :data:`RULES`: code, severity, tier, title, the
suggested fix, and the check (a small function from what is known about an entry to a
message, or None). Adding a rule is adding a row; the man page, the README table, ``--json``
and the evaluation order all follow the table.

Pure (no I/O): the adapters (``mediaserve.adapters.audit``) stat, hash, demux and re-probe,
and hand the results in. The same rules run

* in ``mediaserve audit`` with a fresh stat (and, with ``--deep``, a fresh demux), and
* in the server with ``stat=None, deep=None``: recorded facts only, a few attribute reads,
  cheap enough for every ``GET /api/videos/{id}``.

Rules are evaluated tier by tier (:class:`Tier`), in table order within a tier, so one
broken file yields the one finding that explains it, with the fix that applies:

1. the file itself: missing, not a regular file, empty, unreadable (the first is reported
   alone);
2. the index: stale (size, mtime or status changed since the scan) and a deep check that
   timed out; these never stop later tiers;
3. integrity: truncated (which explains "cannot be opened" and "too few frames", so it comes
   first and stops the rest), not a media file;
4. content: corrupt, no video stream, too few frames;
5. advice for files that play: not faststart, codecs not playable everywhere;
6. across the library: duplicates (:mod:`.duplicates`).

Errors make a fix drop the entry from the index; warnings never change the index (except
``stale``, which replaces the entry with its re-probed version). Nothing here, nor in the
adapters, deletes or modifies a media file.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum

from mediaserve.core.audit.model import (
    DEFAULT_OPTIONS,
    AuditFinding,
    AuditOptions,
    DeepFacts,
    FreshStat,
    Severity,
)
from mediaserve.core.audit.playability import CONVERTED, Playback, playback, with_plan
from mediaserve.core.library.facts import PROBE_VERSION
from mediaserve.core.library.failure import ProbeFailure
from mediaserve.core.library.formats import MP4_FAMILY, VIDEO_EXTENSIONS, extension_of
from mediaserve.core.library.index import MediaFacts, ProbeOutcome, VideoEntry
from mediaserve.core.library.status import EntryStatus


class Tier(IntEnum):
    """When a rule runs, and what its finding does to the rules after it."""

    FILE = 1  # the file itself: the first finding is the whole story
    INDEX = 2  # the index against the file: reported, never stops later tiers
    INTEGRITY = 3  # the container's structure: the first finding stops later tiers
    CONTENT = 4  # what is in it: all reported; any of them stops the advice
    ADVICE = 5  # files that play: all reported
    LIBRARY = 6  # across entries (duplicates): found by the library audit, not per entry

    @property
    def exclusive(self) -> bool:
        """At most one finding from this tier (the first one explains the others)."""
        return self in (Tier.FILE, Tier.INTEGRITY)

    @property
    def final(self) -> bool:
        """A finding here stops the tiers after it."""
        return self is not Tier.INDEX


# --------------------------------------------------------------------------- what rules see


@dataclass(frozen=True, slots=True)
class EntryView:
    """Everything a rule may look at: the entry, the fresh evidence, and the facts to trust
    (re-probed ones when the file changed, else the ones recorded at scan time)."""

    entry: VideoEntry
    stat: FreshStat | None
    deep: DeepFacts | None
    facts: MediaFacts
    status: str
    error: str | None
    failure: ProbeFailure | None
    reprobed: bool
    options: AuditOptions

    @property
    def trusted_deep(self) -> DeepFacts | None:
        """Deep facts that can be trusted: present and not cut short by the budget."""
        return self.deep if self.deep is not None and not self.deep.timed_out else None


@dataclass(frozen=True, slots=True)
class Detail:
    """A check's verdict when it needs a fix more specific than its rule's."""

    message: str
    fix: str


#: a rule's check: a message (or a message with its own fix) when the rule fires, else None
Check = Callable[[EntryView], str | Detail | None]


@dataclass(frozen=True, slots=True)
class Rule:
    """One row of the rule table."""

    code: str  # stable, for scripts and --json
    severity: Severity
    tier: Tier
    title: str  # what it means, one line (docs and --json)
    fix: str  # the suggested fix, unless the check gives a more specific one
    check: Check | None = dataclasses.field(default=None, compare=False)  # None: LIBRARY

    def finding(self, message: str, fix: str | None = None) -> AuditFinding:
        return AuditFinding(self.code, self.severity, message, fix or self.fix)

    def judge(self, view: EntryView) -> AuditFinding | None:
        verdict = self.check(view) if self.check is not None else None
        if verdict is None:
            return None
        if isinstance(verdict, Detail):
            return self.finding(verdict.message, verdict.fix)
        return self.finding(verdict)


# --------------------------------------------------------------------------- tier 1: the file


def check_missing(v: EntryView) -> str | None:
    gone = (not v.stat.exists) if v.stat is not None else (
        v.entry.status == EntryStatus.MISSING or v.failure is ProbeFailure.CANNOT_STAT)
    return f"file not found: {v.entry.path}" if gone else None


def check_not_regular(v: EntryView) -> str | None:
    if v.stat is None or v.stat.regular:
        return None
    return f"not a regular file: {v.entry.path}"


def check_empty(v: EntryView) -> str | None:
    empty = v.stat.size == 0 if v.stat is not None else v.failure is ProbeFailure.EMPTY
    return "the file is empty (0 bytes): an interrupted copy or download" if empty else None


def check_unreadable(v: EntryView) -> str | None:
    unreadable = (not v.stat.readable if v.stat is not None
                  else v.failure is ProbeFailure.UNREADABLE)
    return "permission denied: the server cannot read this file" if unreadable else None


# --------------------------------------------------------------------------- tier 2: the index


def check_stale(v: EntryView) -> str | None:
    if v.stat is None:
        return None
    changed = not v.entry.same_file_state(v.stat.size, v.stat.mtime_ns)
    # the index recorded a failure (missing, unreadable...) and the file is fine now
    revived = (v.entry.status != v.status if v.reprobed
               else v.entry.status == EntryStatus.MISSING)
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
    return message


def check_timeout(v: EntryView) -> str | None:
    if v.deep is None or not v.deep.timed_out:
        return None
    why = f" ({v.deep.error})" if v.deep.error else ""
    return (f"the deep check gave up after {v.deep.elapsed:.1f} s{why}; "
            "only the facts recorded at scan time were checked")


# --------------------------------------------------------------------------- tier 3: integrity


def _deep_gap(v: EntryView) -> tuple[float, float] | None:
    """(end of the last packet, declared duration) when the packets stop well short."""
    deep = v.trusted_deep
    if deep is None or not deep.opened:
        return None
    end, duration = deep.end_time, deep.duration
    if end is None or not duration:
        return None
    slack = max(v.options.truncation_slack_s, v.options.truncation_slack_ratio * duration)
    return (end, duration) if duration - end > slack else None


def check_truncated(v: EntryView) -> str | None:
    gap = _deep_gap(v)
    if gap is not None:
        end, duration = gap
        return (f"packets end at {end:.2f} s of a declared {duration:.2f} s "
                f"({end / duration:.0%} present)")
    if v.facts.truncated:
        container = v.facts.container or VIDEO_EXTENSIONS.get(
            extension_of(v.entry.path), ("", ""))[0]
        part = "an MP4 box (mdat or moov)" if container in MP4_FAMILY else "the Matroska segment"
        return f"the file ends before {part} it declares does"
    return None


def check_not_media(v: EntryView) -> str | None:
    deep = v.trusted_deep
    if deep is not None:  # a fresh open outranks the recorded outcome
        if deep.opened:
            return None
        reason = deep.error or "unknown error"
    elif v.status == EntryStatus.ERROR:
        reason = v.error or "unknown error"
    else:
        return None
    return f"cannot be opened as media: {reason}"


# --------------------------------------------------------------------------- tier 4: content


def check_corrupt(v: EntryView) -> str | None:
    deep = v.trusted_deep
    if deep is None or not deep.opened or not deep.error:
        return None
    return f"demuxing failed after {deep.video_packets} video packets: {deep.error}"


def _has_video(v: EntryView) -> bool:
    deep = v.trusted_deep
    return deep.has_video if deep is not None else v.facts.video_codec is not None


def check_no_video(v: EntryView) -> str | None:
    if _has_video(v):
        return None
    audio = f" ({v.facts.audio_codec} audio only)" if v.facts.audio_codec else ""
    return f"no video stream{audio}"


def check_frames(v: EntryView) -> str | None:
    if not _has_video(v):  # no-video says it better
        return None
    deep = v.trusted_deep
    frames = deep.video_packets if deep is not None else v.facts.frames
    if frames is None or frames >= v.options.min_frames:
        return None
    return f"only {frames} frame{'s' if frames != 1 else ''} (minimum {v.options.min_frames})"


# --------------------------------------------------------------------------- tier 5: advice


def check_faststart(v: EntryView) -> str | None:
    if v.facts.container not in MP4_FAMILY or v.facts.faststart is not False:
        return None
    return ("the moov box (the index) is at the end: browsers must fetch the end of the file "
            "before playing, so start and seeks are slow")


def _playback_check(kind: Playback) -> Check:
    def check(v: EntryView) -> Detail | None:
        verdict = playback(v.facts.container, v.facts.video_codec, v.facts.audio_codec)
        if verdict is None or verdict.playback is not kind:
            return None
        verdict = with_plan(verdict, v.facts)  # the mode mediaserve plays it in, and why
        return Detail(verdict.reason, verdict.fix)

    check.__name__ = f"check_{kind.name.lower()}"
    return check


# --------------------------------------------------------------------------- the table

E, W = Severity.ERROR, Severity.WARNING

#: every rule, once, in documentation order (man page, README, ``--json``); within a tier
#: this is also the evaluation order
RULES: tuple[Rule, ...] = (
    Rule("missing", E, Tier.FILE, "the file is gone",
         "restore the file, or let the fix remove the entry from the index", check_missing),
    Rule("not-regular", E, Tier.FILE, "the path is a folder, device or pipe, not a file",
         "put the video back, or let the fix remove the entry", check_not_regular),
    Rule("empty", E, Tier.FILE, "the file has zero bytes",
         "copy the file again from its source", check_empty),
    Rule("unreadable", E, Tier.FILE, "permission denied",
         "make it readable (chmod a+r) and rescan", check_unreadable),
    Rule("truncated", E, Tier.INTEGRITY, "the file ends before its data does",
         "copy the file again from its source; the missing part cannot be recovered here",
         check_truncated),
    Rule("not-media", E, Tier.INTEGRITY, "the container cannot be opened",
         "check what the file is; remove or replace it", check_not_media),
    Rule("corrupt", E, Tier.CONTENT, "demuxing failed part-way",
         "copy the file again from its source", check_corrupt),
    Rule("no-video", E, Tier.CONTENT, "no video stream",
         "move it out of the video library (e.g. to a music folder)", check_no_video),
    Rule("too-few-frames", E, Tier.CONTENT, "fewer frames than --min-frames",
         "delete it yourself if it is an accidental recording; the fix removes the entry",
         check_frames),
    Rule("stale", W, Tier.INDEX, "the file changed since the scan",
         "the fix re-probes it (or run mediaserve scan)", check_stale),
    Rule("timeout", W, Tier.INDEX, "the --deep check ran out of time",
         "rerun with a larger --deep-timeout; a file that never finishes is likely corrupt",
         check_timeout),
    Rule("not-faststart", W, Tier.ADVICE, "MP4 with the moov box after the media data",
         "mediaserve audit --remux-faststart (stream copy, no re-encoding)", check_faststart),
    Rule("unplayable", W, Tier.ADVICE, "codecs Chromium and Firefox cannot play as they are",
         CONVERTED, _playback_check(Playback.UNPLAYABLE)),
    Rule("chromium-only", W, Tier.ADVICE, "plays in Chromium but not in every browser",
         "remux without re-encoding to MP4 (H.264) or WebM (VP8/VP9/AV1)",
         _playback_check(Playback.CHROMIUM_ONLY)),
    Rule("duplicate", W, Tier.LIBRARY, "same content as another entry",
         "keep one copy; move or delete the others yourself (audit never deletes media)"),
)

RULES_BY_CODE: dict[str, Rule] = {rule.code: rule for rule in RULES}
_BY_TIER: tuple[tuple[Tier, tuple[Rule, ...]], ...] = tuple(
    (tier, tuple(r for r in RULES if r.tier is tier)) for tier in Tier if tier is not Tier.LIBRARY)


def rule(code: str) -> Rule:
    """The rule with this code (KeyError for an unknown one)."""
    return RULES_BY_CODE[code]


# --------------------------------------------------------------------------- one entry


def needs_reprobe(entry: VideoEntry, stat: FreshStat) -> bool:
    """Whether the recorded facts can no longer be trusted: the file is there and readable
    but changed since the scan, or the index recorded a failure that may have been fixed
    (permissions, a file put back). Re-probing is read-only and costs ~1 ms."""
    if not (stat.exists and stat.regular and stat.readable and stat.size > 0):
        return False
    return (not entry.same_file_state(stat.size, stat.mtime_ns)
            or entry.status != EntryStatus.OK)


def refreshed_entry(entry: VideoEntry, stat: FreshStat, outcome: ProbeOutcome) -> VideoEntry:
    """The entry as a rescan would write it, from a fresh stat and probe."""
    return dataclasses.replace(
        entry, size=stat.size, mtime_ns=stat.mtime_ns,
        status=EntryStatus.ERROR if outcome.error else EntryStatus.OK,
        facts=outcome.facts, error=outcome.error, error_kind=outcome.kind,
        probe_version=PROBE_VERSION)


def audit_entry(entry: VideoEntry, stat: FreshStat | None = None,
                deep: DeepFacts | None = None, options: AuditOptions = DEFAULT_OPTIONS,
                *, reprobed: ProbeOutcome | None = None) -> list[AuditFinding]:
    """The findings for one entry, most important first, by the tiers of :data:`RULES`.

    ``stat=None, deep=None`` judges the facts recorded at scan time only (what the server
    does for ``GET /api/videos/{id}``: no I/O, a few microseconds). ``reprobed`` is a fresh
    probe of a file that changed since the scan; its facts replace the recorded ones.
    """
    facts, status, error, failure = entry.facts, entry.status, entry.error, entry.error_kind
    if reprobed is not None:
        facts, error, failure = reprobed.facts, reprobed.error, reprobed.kind
        status = EntryStatus.ERROR if reprobed.error else EntryStatus.OK
    view = EntryView(entry, stat, deep, facts, status, error, failure, reprobed is not None,
                     options)
    findings: list[AuditFinding] = []
    for tier, rules in _BY_TIER:
        if tier > Tier.INDEX and view.status == EntryStatus.MISSING:
            break  # back on disk but not re-probed: no facts to judge
        found: list[AuditFinding] = []
        for one in rules:
            finding = one.judge(view)
            if finding is not None:
                found.append(finding)
                if tier.exclusive:
                    break
        findings.extend(found)
        if found and tier.final:
            break
    return findings


#: what the server calls to attach findings to an entry (:func:`findings_from_facts`)
FindingsFor = Callable[[VideoEntry], list[AuditFinding]]


def findings_from_facts(entry: VideoEntry,
                        options: AuditOptions = DEFAULT_OPTIONS) -> list[AuditFinding]:
    """The findings the server shows with ``GET /api/videos/{id}``: recorded facts only,
    no I/O (``audit_entry(entry, None, None, options)``)."""
    return audit_entry(entry, None, None, options)


__all__ = [  # with what a caller of audit_entry needs from model.py, re-exported
    "DEFAULT_OPTIONS",
    "RULES",
    "RULES_BY_CODE",
    "AuditFinding",
    "AuditOptions",
    "Check",
    "Detail",
    "EntryView",
    "FindingsFor",
    "Rule",
    "Severity",
    "Tier",
    "audit_entry",
    "findings_from_facts",
    "needs_reprobe",
    "refreshed_entry",
    "rule",
]
