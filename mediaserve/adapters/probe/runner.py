"""Run ``mediaserve probe``'s three modes against a URL: which requests, in which order, on
which connections. What the answers *mean* is decided in ``core/probe/`` (the battery's table
in ``battery.py``, seek classification in ``seeks.py``); rendering is ``cli/probe.py``'s.

Memory: the content of an answer the judges compare as one piece (a 200, a single-part 206)
is compared with the reference while it arrives and not kept; other content is kept only
until its answer is judged (:meth:`Exchange.without_body`), never while the next one is
read. So a run holds at most ``--max-body`` of content at a time however many requests it
makes, plus :data:`KEPT_BODY_BYTES` of small bodies kept on the outcome for callers.
``--check`` keeps the plain GET's content as the reference for the other cases; what it
reads besides is compared as it arrives, except a multipart answer, parsed whole.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import TracebackType

from mediaserve.adapters.probe.client import (
    ConnectionStats,
    NetworkError,
    fetch,
    merge_headers,
    new_session,
)
from mediaserve.core.probe.battery import failed_case, judge_case, plan_cases, skipped_case
from mediaserve.core.probe.checks import (
    judge_reference_size,
    no_response,
    range_support,
    size_hint,
)
from mediaserve.core.probe.content_range import ByteRangeSpec, range_header
from mediaserve.core.probe.exchange import Body, Exchange
from mediaserve.core.probe.judges import judge_head, judge_head_range, judge_range_get
from mediaserve.core.probe.pages import is_html, stream_of_player_page
from mediaserve.core.probe.rows import (
    judge_plain_get,
    judge_validators,
    keepalive_result,
    plan_keepalive,
)
from mediaserve.core.probe.seeks import (
    SeekReport,
    SeekResult,
    classify_seek,
    plan_seeks,
    summarise_seeks,
)
from mediaserve.core.probe.verdicts import (
    CaseResult,
    Level,
    ProbeFinding,
    ReadBytes,
    Resource,
    verdict,
)

__all__ = [
    "KEPT_BODY_BYTES",
    "CheckOutcome",
    "FileReference",
    "PlainProbeOutcome",
    "ProbeStep",
    "SeekOutcome",
    "Target",
    "player_page",
    "run_check",
    "run_probe",
    "run_seeks",
]


KEPT_BODY_BYTES = 64 * 1024
"""Judged bodies a plain probe keeps on its outcome, in total, for a caller to look at."""


class _Keeper:
    """Keeps judged bodies while they fit in :data:`KEPT_BODY_BYTES` together; the content
    of the others is let go (their byte counts stay)."""

    def __init__(self) -> None:
        self.room = KEPT_BODY_BYTES

    def __call__(self, ex: Exchange) -> Exchange:
        if len(ex.body) <= self.room:
            self.room -= len(ex.body)
            return ex
        return ex.without_body()


class FileReference:
    """The local copy ``--verify FILE`` compares against, read with ``pread`` on demand so a
    4 GB file costs nothing up front."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd = os.open(path, os.O_RDONLY)
        self.size = os.fstat(self._fd).st_size

    def __call__(self, offset: int, length: int) -> bytes:
        if offset >= self.size:  # also where a server's claim exceeds any file offset
            return b""
        return os.pread(self._fd, length, offset)

    def close(self) -> None:
        os.close(self._fd)

    def __enter__(self) -> FileReference:
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()


@dataclass(frozen=True, slots=True)
class Target:
    """Where and how to probe; the same for every mode."""

    url: str
    headers: tuple[tuple[str, str], ...] = ()
    timeout: float = 10.0
    max_body: int = 64 * 1024 * 1024
    follow: bool = False
    reference: ReadBytes | None = None
    reference_size: int | None = None


def _size_vs_reference(target: Target, size: int | None) -> list[ProbeFinding]:
    return judge_reference_size(size, target.reference_size)


@dataclass(slots=True)
class ProbeStep:
    exchange: Exchange
    specs: tuple[ByteRangeSpec, ...] | None
    findings: list[ProbeFinding]

    @property
    def verdict(self) -> Level:
        return verdict(self.findings)


@dataclass(slots=True)
class PlainProbeOutcome:
    steps: list[ProbeStep]
    size: int | None
    ranges_supported: bool | None
    findings: list[ProbeFinding] = field(default_factory=list)  # about the run, not one step

    @property
    def all_findings(self) -> list[ProbeFinding]:
        return [*self.findings, *(f for step in self.steps for f in step.findings)]

    @property
    def verdict(self) -> Level:
        return verdict(self.all_findings)

    @property
    def failed(self) -> bool:
        """A FAIL, or no range support (a client cannot seek): exit status 1."""
        return self.verdict is Level.FAIL or self.ranges_supported is False


async def run_probe(target: Target, range_sets: Sequence[tuple[ByteRangeSpec, ...]],
                    head: bool = False) -> PlainProbeOutcome:
    """Without ranges: HEAD, then a 1-byte range (unless ``head``). With ranges: one request
    per set (HEAD instead of GET with ``head``). Raises NetworkError only when the first
    request gets no answer; a later one left unanswered is a FAIL finding."""
    stats = ConnectionStats()
    steps: list[ProbeStep] = []
    unanswered: list[ProbeFinding] = []
    res = Resource(reference=target.reference)
    supported: bool | None = None
    keep = _Keeper()
    async with new_session(limit=1, timeout=target.timeout, stats=stats) as session:
        plan: list[tuple[str, tuple[ByteRangeSpec, ...] | None]]
        if range_sets:
            plan = [("HEAD" if head else "GET", specs) for specs in range_sets]
        else:
            plan = [("HEAD", None)] + ([] if head else [("GET", (ByteRangeSpec(0, 0),))])
        for method, specs in plan:
            extra = (("Range", range_header(specs)),) if specs else ()
            try:
                ex = await fetch(session, method, target.url,
                                 merge_headers(target.headers, extra),
                                 max_body=target.max_body, follow=target.follow,
                                 reference=target.reference)
            except NetworkError as exc:
                if not steps:
                    raise
                request = f"{method} {extra[0][1]}" if extra else method
                unanswered.append(no_response(request, str(exc)))
                continue
            if res.size is None:
                hint = ex.content_length if method == "HEAD" and ex.status == 200 else (
                    size_hint(ex))
                res = replace(res, size=hint)
            if specs is None:
                findings = judge_head(ex, res)
            elif method == "HEAD":
                findings = judge_head_range(ex, specs, res)
            else:
                findings = judge_range_get(ex, specs, res, primary=True)
                satisfiable = res.size is None or specs[0].resolve(res.size) is not None
                if supported is None and len(specs) == 1 and satisfiable:
                    supported = range_support(ex)
            steps.append(ProbeStep(keep(ex), specs, findings))
            del ex  # judged: not held while the next answer is read
    return PlainProbeOutcome(steps, res.size, supported,
                        [*unanswered, *_size_vs_reference(target, res.size)])


async def player_page(target: Target) -> str | None:
    """The stream URL to probe instead when ``target`` is a mediaserve player page
    (``.../watch/ID`` answered with HTML), else None. One HEAD, and only for a URL of that
    shape: any other URL is probed as given, with no request of its own."""
    stream = stream_of_player_page(target.url)
    if stream is None:
        return None
    async with new_session(limit=1, timeout=target.timeout, stats=ConnectionStats()) as session:
        ex = await fetch(session, "HEAD", target.url, target.headers, max_body=0,
                         follow=target.follow)
    return stream if is_html(ex.header("Content-Type")) else None


@dataclass(slots=True)
class CheckOutcome:
    url: str
    size: int | None
    results: list[CaseResult]
    stopped: str = ""  # why the battery stopped after the plain GET
    findings: list[ProbeFinding] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return any(r.level is Level.FAIL for r in self.results) or any(
            f.level is Level.FAIL for f in self.findings)

    def counts(self) -> dict[str, int]:
        """Rows per verdict, in the order PASS, WARN, FAIL, SKIP."""
        out = dict.fromkeys((Level.PASS.value, Level.WARN.value, Level.FAIL.value,
                             Level.SKIP.value), 0)
        for result in self.results:
            out[result.level.value] += 1
        return out


async def run_check(target: Target) -> CheckOutcome:
    """The conformance battery. Raises NetworkError only when the plain GET gets no answer;
    later a server that drops a request is a FAIL row, not a network error."""
    stats = ConnectionStats()
    async with new_session(limit=1, timeout=target.timeout, stats=stats) as session:
        base = await fetch(session, "GET", target.url, target.headers,
                           max_body=target.max_body, follow=target.follow,
                           reference=target.reference)  # without one: kept, it becomes one
        size = base.received if base.status == 200 and base.complete else base.content_length
        reference = target.reference
        if reference is None and base.status == 200 and base.complete:
            reference = _BodyReference(base.body)
        res = Resource(size=size if base.status == 200 else None, headers=base.headers,
                       reference=reference)
        results = [judge_plain_get(base, res)]
        status = base.status
        del base  # judged: its content lives on only as the reference
        outcome = CheckOutcome(target.url, res.size, results,
                               findings=_size_vs_reference(target, res.size))
        if status != 200 or res.size is None:
            outcome.stopped = ("the plain GET did not return 200" if status != 200 else
                               "the size is unknown (no Content-Length; raise --max-body)")
            return outcome
        results.append(judge_validators(res))
        for case in plan_cases(res):
            if case.skip:
                results.append(skipped_case(case))
                continue
            try:
                ex = await fetch(session, case.method, target.url,
                                 merge_headers(target.headers, case.headers),
                                 max_body=target.max_body, follow=target.follow,
                                 reference=res.reference)
            except NetworkError as exc:
                results.append(failed_case(case.id, case.title, case.request_text(),
                                           case.section, str(exc)))
                continue
            results.append(judge_case(ex, case, res))
            if case.primary:
                res = replace(res, ranges_supported=range_support(ex))
            del ex  # judged: not held while the next answer is read
    results.append(await _keepalive(target, res))
    return outcome


class _BodyReference:
    """The plain GET's content as the reference for the battery's other answers; slices
    are views, so comparing a whole 200 with it copies nothing."""

    def __init__(self, body: Body) -> None:
        self.body = memoryview(body)

    def __call__(self, offset: int, length: int) -> memoryview:
        return self.body[offset:offset + length]


async def _keepalive(target: Target, res: Resource) -> CaseResult:
    """Three ranges in a row over a pool of one connection; count the connections opened.
    Each answer is judged as it arrives, so only its findings outlive it."""
    if res.size is None:
        raise ValueError("keep-alive needs the representation's size")
    specs = plan_keepalive(res.size)
    stats = ConnectionStats()
    exchanges: list[Exchange] = []
    findings: list[list[ProbeFinding]] = []
    async with new_session(limit=1, timeout=target.timeout, stats=stats) as session:
        for spec in specs:
            asked = (("Range", range_header((spec,))),)
            try:
                ex = await fetch(session, "GET", target.url, merge_headers(target.headers, asked),
                                 max_body=target.max_body, follow=target.follow,
                                 reference=res.reference)
            except NetworkError as exc:
                return failed_case("keep-alive", "keep-alive, 3 ranges", "GET ×3",
                                   "RFC 9112 §9.3", str(exc))
            findings.append(judge_range_get(ex, (spec,), res))
            exchanges.append(ex.without_body())
            del ex
    return keepalive_result(exchanges, specs, findings, stats.opened)


@dataclass(slots=True)
class SeekOutcome:
    discovery: Exchange  # the 1-byte request that learned the size
    report: SeekReport | None
    reason: str = ""  # why no seeks were run

    @property
    def failed(self) -> bool:
        """No seeks could be run, or one of them failed: exit status 1."""
        return self.report is None or bool(self.report.failures)


async def run_seeks(target: Target, *, count: int, concurrency: int, length: int,
                    seed: int) -> SeekOutcome:
    """``count`` random ranges of ``length`` bytes, ``concurrency`` at a time over a pool of
    as many keep-alive connections. Raises NetworkError if the first request gets no answer."""
    stats = ConnectionStats()
    async with new_session(limit=concurrency, timeout=target.timeout, stats=stats) as session:
        first = await fetch(session, "GET", target.url,
                            merge_headers(target.headers, (("Range", "bytes=0-0"),)),
                            max_body=1, max_other_body=0, follow=target.follow)
        size = size_hint(first)
        if range_support(first) is not True or not size:
            why = ("the server ignored Range (200): no range support" if first.status == 200
                   else f"no usable answer to bytes=0-0 (status {first.status})")
            return SeekOutcome(first, None, why)
        mismatch = _size_vs_reference(target, size)
        if mismatch:
            return SeekOutcome(first, None, mismatch[0].message)
        plan = plan_seeks(size, count, length, random.Random(seed))
        results: list[SeekResult | None] = [None] * count
        indexes = iter(range(count))

        async def worker() -> None:
            for index in indexes:
                a, b = plan[index]
                headers = merge_headers(target.headers, (("Range", f"bytes={a}-{b}"),))
                try:
                    ex = await fetch(session, "GET", target.url, headers, max_body=b - a + 1,
                                     max_other_body=0, follow=target.follow)
                except NetworkError as exc:
                    results[index] = SeekResult(a, b, 0.0, 0.0, 0, exc.kind, str(exc))
                    continue
                kind, detail = classify_seek(ex, a, b, target.reference)
                results[index] = SeekResult(a, b, ex.total, ex.ttfb, ex.received, kind, detail)
                del ex  # not held while the next answer is read

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(min(concurrency, count))))
        wall = time.perf_counter() - start
    done = [r for r in results if r is not None]
    report = summarise_seeks(done, url=target.url, size=size, length=length,
                             concurrency=concurrency, seed=seed, wall=wall,
                             connections=stats.opened)  # the 1-byte probe's one included
    return SeekOutcome(first, report)
