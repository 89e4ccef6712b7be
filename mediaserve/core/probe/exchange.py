"""One HTTP request/response as plain facts: what the probe's judges read.

The adapter (``adapters/probe/client.py``) fills it from aiohttp; tests build it by hand. The
judges never see an aiohttp object, so every verdict can be unit tested without a socket.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum

from mediaserve.core.probe.verdicts import ProbeFinding

__all__ = ["Body", "End", "Exchange", "StreamedCheck"]

Body = bytes | bytearray | memoryview
"""Content as read: ``bytes``, or for large content a view of the client's buffer (handed
over without a copy); tests build ``bytes``."""


class End(StrEnum):
    """How reading the content ended (the value is what ``--json`` prints)."""

    COMPLETE = "complete"  # the content was read to its end
    CAPPED = "capped"  # the probe stopped reading at its --max-body limit
    TRUNCATED = "truncated"  # the connection failed or timed out mid-content
    NONE = "none"  # no content by definition (HEAD, 204, 304)


@dataclass(frozen=True, slots=True)
class StreamedCheck:
    """The content compared with the reference while it was read (and then not kept):
    from which byte of the representation, and what the comparison found."""

    offset: int
    finding: ProbeFinding | None


@dataclass(frozen=True, slots=True)
class Exchange:
    """A request and what came back. ``body`` holds the bytes read (at most the cap) until
    the exchange is judged; :meth:`without_body` then lets them go and keeps their count, so
    a run's memory does not grow with its number of requests."""

    method: str
    url: str
    request_headers: tuple[tuple[str, str], ...]
    status: int
    reason: str = ""
    headers: tuple[tuple[str, str], ...] = ()
    body: Body = b""
    end: End = End.COMPLETE
    end_detail: str = ""
    ttfb: float = 0.0  # seconds from sending to the response header section parsed
    total: float = 0.0  # seconds from sending to the last content byte read
    http_version: str = "HTTP/1.1"
    new_connection: bool | None = None  # None: unknown
    released: int = 0  # content bytes read and judged, then let go (no longer in ``body``)
    checked: StreamedCheck | None = None  # set when the content was compared, not kept

    @property
    def received(self) -> int:
        return len(self.body) + self.released

    @property
    def complete(self) -> bool:
        return self.end in (End.COMPLETE, End.NONE)

    def without_body(self) -> Exchange:
        """The same facts without the content bytes (their number stays in ``received``)."""
        return replace(self, body=b"", released=self.received) if self.body else self

    def header(self, name: str) -> str | None:
        """First value of a response header (case-insensitive), or None."""
        wanted = name.lower()
        return next((value for key, value in self.headers if key.lower() == wanted), None)

    def header_values(self, name: str) -> list[str]:
        wanted = name.lower()
        return [value for key, value in self.headers if key.lower() == wanted]

    @property
    def content_length(self) -> int | None:
        """The Content-Length as a number; None when absent or not a valid single value."""
        values = {v.strip() for value in self.header_values("Content-Length")
                  for v in value.split(",")}
        if len(values) != 1:
            return None
        value = values.pop()
        if not (value.isascii() and value.isdigit()):
            return None
        try:
            return int(value)
        except ValueError:  # more digits than int() converts (sys.get_int_max_str_digits)
            return None

    @property
    def throughput(self) -> float | None:
        """Content bytes per second over the whole exchange (None when too short to say)."""
        return self.received / self.total if self.total > 0 and self.received else None

    def as_dict(self) -> dict[str, object]:
        """The exchange as ``--json`` prints it (times in ms, headers as pairs)."""
        return {
            "method": self.method, "url": self.url,
            "request_headers": dict(self.request_headers), "status": self.status,
            "reason": self.reason, "http_version": self.http_version,
            "headers": [list(pair) for pair in self.headers], "received": self.received,
            "end": str(self.end), "end_detail": self.end_detail,
            "ttfb_ms": round(self.ttfb * 1000, 3), "total_ms": round(self.total * 1000, 3),
            "throughput_bytes_per_s": round(self.throughput) if self.throughput else None,
            "new_connection": self.new_connection,
        }
