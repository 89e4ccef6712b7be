"""The ``--check`` rows around the battery's table: the plain GET every case is measured
against, the validators it showed, and keep-alive over three ranges.

They are not table rows because they are not one request judged alone: the plain GET
decides whether the battery can run at all, the validators row makes no request, and
keep-alive judges three requests and the connections they needed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from mediaserve.core.probe.checks import describe, unexpected
from mediaserve.core.probe.content_range import ByteRangeSpec, range_header
from mediaserve.core.probe.exchange import Exchange
from mediaserve.core.probe.judges import judge_full, judge_range_get
from mediaserve.core.probe.verdicts import (
    CaseResult,
    ProbeFinding,
    Resource,
    info,
    make_result,
    warn,
)

__all__ = [
    "judge_keepalive",
    "judge_plain_get",
    "judge_validators",
    "keepalive_result",
    "plan_keepalive",
]


def judge_plain_get(ex: Exchange, res: Resource) -> CaseResult:
    """The baseline GET: 200 with the whole representation."""
    if ex.status == 200:
        findings = judge_full(ex, res)
        if ex.header("Content-Type") is None:
            findings.append(warn("§8.3", "no Content-Type (SHOULD)"))
    else:
        findings = unexpected(ex, "200")
    return make_result("plain-get", "plain GET", "GET", "§15.3.1", describe(ex), findings,
                       ex.status)


def judge_validators(res: Resource) -> CaseResult:
    """A row without a request: the 200's validators, which If-Range and caches rely on."""
    etag, modified = res.header("ETag"), res.header("Last-Modified")
    findings: list[ProbeFinding] = []
    if etag is None:
        findings.append(warn("§8.8.3", "no ETag (SHOULD when changes can be detected); "
                                       "If-Range can then only use a date"))
    elif not etag.startswith('"'):
        findings.append(info("§13.1.5", f"weak ETag {etag}: If-Range cannot use it"))
    if modified is None:
        findings.append(warn("§8.8.2", "no Last-Modified (SHOULD when a date is known)"))
    did = f"ETag {etag or '—'}, Last-Modified {modified or '—'}"
    return make_result("validators", "validators", "(from the plain GET)", "§15.3.1", did,
                       findings, None)


def plan_keepalive(size: int) -> tuple[ByteRangeSpec, ...]:
    """Three small ranges at different places: what a player does after a few seeks."""
    length = max(1, min(4096, size // 10))
    return tuple(ByteRangeSpec(p, p + length - 1) for p in (size // 5, size // 2, 4 * size // 5))


def judge_keepalive(exchanges: Sequence[Exchange], specs: Sequence[ByteRangeSpec],
                    connections: int, res: Resource) -> CaseResult:
    """Several ranges, one after the other, over a pool of one connection (RFC 9112 §9.3)."""
    findings = [judge_range_get(ex, (spec,), res)
                for ex, spec in zip(exchanges, specs, strict=True)]
    return keepalive_result(exchanges, specs, findings, connections)


def keepalive_result(exchanges: Sequence[Exchange], specs: Sequence[ByteRangeSpec],
                     findings: Sequence[Sequence[ProbeFinding]], connections: int) -> CaseResult:
    """The keep-alive row from each request's findings (judged as it arrived, so the runner
    need not hold every answer's content) and the number of connections the three needed."""
    by_finding: dict[ProbeFinding, list[int]] = {}
    for number, found in enumerate(findings, 1):
        for finding in found:
            by_finding.setdefault(finding, []).append(number)
    merged = [replace(f, message=f"request {'+'.join(map(str, numbers))}: {f.message}")
              for f, numbers in by_finding.items()]
    closing = any((ex.header("Connection") or "").lower() == "close" for ex in exchanges)
    count = len(exchanges)
    if connections <= 1:
        merged.append(info("RFC 9112 §9.3", f"{count} requests over 1 connection"))
    else:
        why = " (the server sent Connection: close)" if closing else ""
        merged.append(warn("RFC 9112 §9.3", f"{count} requests needed {connections} "
                                            f"connections{why}: every seek pays a new "
                                            "connection"))
    statuses = "/".join(str(ex.status) for ex in exchanges)
    request = "GET ×3  " + "  ".join(range_header((s,)) for s in specs)
    return make_result("keep-alive", "keep-alive, 3 ranges", request, "RFC 9112 §9.3",
                       f"{statuses}, {connections} connection(s)", merged, None)
