"""The access log's summary form: what a terminal shows instead of a line per request.

A browser opening the library page makes dozens of requests (the page, scripts, posters),
and a playing video one every few seconds; a line each buries ``serve``'s start-up line,
the one with the URL, within seconds. On a terminal the access log is a line per window of
traffic instead: how many answers, how many bytes, and which error statuses, with the URL
repeated. Pure counting and wording; the adapter owns the clock and the stream.
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: seconds one summary line covers (counted from the window's first answer)
SUMMARY_SECONDS = 30.0
#: error statuses named one by one in a line; the rest are added up
SHOWN_ERRORS = 4


def size_text(count: int) -> str:
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024:
            return f"{count} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"


@dataclass(slots=True)
class AccessWindow:
    """Answers counted since the last summary line."""

    requests: int = 0
    bytes_sent: int = 0
    errors: dict[int, int] = field(default_factory=dict)  # status (>= 400) -> answers

    def add(self, status: int, sent: int) -> None:
        self.requests += 1
        self.bytes_sent += max(0, sent)
        if status >= 400:
            self.errors[status] = self.errors.get(status, 0) + 1

    def line(self, seconds: float, clock: str, url: str = "", who: str = "") -> str | None:
        """The summary of the window, or None when it saw no answer (an idle server says
        nothing). ``clock``: the wall-clock time it ends (HH:MM:SS); ``who``: the worker
        process it is from, when there are several."""
        if not self.requests:
            return None
        plural = "" if self.requests == 1 else "s"
        text = (f"{clock} {who}{self.requests} request{plural}, {size_text(self.bytes_sent)} sent "
                f"in {max(seconds, 0.0):.0f} s")
        if self.errors:
            ordered = sorted(self.errors.items(), key=lambda item: (-item[1], item[0]))
            named = [f"{count} × {status}" for status, count in ordered[:SHOWN_ERRORS]]
            rest = sum(count for _status, count in ordered[SHOWN_ERRORS:])
            if rest:
                named.append(f"{rest} other errors")
            text += f" ({', '.join(named)})"
        if url:
            text += f" · {url}"
        return text
