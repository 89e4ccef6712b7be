"""The compact library listing the web page loads.

``GET /api/videos`` sends every fact and every audit finding of every video: about 1 KB per
video, 5 MB for a 5,000-video library. The library page needs a tenth of that, so
``?view=cards`` sends a table: the field names once, then one array per video. Paging
(``offset``/``limit``) is parsed here too, so both views share the rules.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

CARD_FIELDS = ("id", "title", "name", "folder", "duration", "width", "height", "size",
               "mtime_ns", "status", "video_codec", "problem", "badges", "poster_url",
               # what the name says: films and episodes, shows and their order
               "kind", "year", "show_id", "show", "season", "episode", "episode_title")

MAX_LIMIT = 100_000


@dataclass(frozen=True, slots=True)
class Page:
    offset: int = 0
    limit: int | None = None

    @property
    def whole(self) -> bool:
        return self.offset == 0 and self.limit is None


class QueryError(ValueError):
    """A query parameter is malformed; the message says which and why (for a 400)."""


def _non_negative(query: Mapping[str, str], name: str) -> int | None:
    raw = query.get(name)
    if raw is None or raw == "":
        return None
    if not raw.isdigit() or len(raw) > 7:
        raise QueryError(f"'{name}' must be a whole number from 0 to {MAX_LIMIT}")
    value = int(raw)
    if value > MAX_LIMIT:
        raise QueryError(f"'{name}' must be a whole number from 0 to {MAX_LIMIT}")
    return value


def parse_page(query: Mapping[str, str]) -> Page:
    return Page(_non_negative(query, "offset") or 0, _non_negative(query, "limit"))


def parse_view(query: Mapping[str, str]) -> str:
    view = query.get("view", "full")
    if view not in ("full", "cards"):
        raise QueryError("'view' must be 'full' or 'cards'")
    return view


def page_of(items: list[Any], page: Page) -> list[Any]:
    end = None if page.limit is None else page.offset + page.limit
    return items[page.offset:end]


def problem(doc: Mapping[str, Any]) -> list[str] | None:
    """[severity, code, message] of the finding that explains the video best, or None: an
    error before a warning, in the audit's order otherwise."""
    findings = doc.get("findings") or []
    for wanted in ("error", "warning"):
        for finding in findings:
            if finding.get("severity") == wanted:
                return [wanted, finding.get("code", ""), finding.get("message", "")]
    if doc.get("status") in ("missing", "error"):
        return ["error", doc["status"], doc.get("error") or f"the video is {doc['status']}"]
    return None


def card_row(doc: Mapping[str, Any]) -> list[Any]:
    """One video as a row of ``CARD_FIELDS`` values (from its full JSON document)."""
    path = str(doc.get("path", ""))
    row: list[Any] = []
    for name in CARD_FIELDS:
        if name == "folder":
            row.append(path.rsplit("/", 1)[0] if "/" in path else "")
        elif name == "problem":
            row.append(problem(doc))
        elif name == "badges":
            row.append([f.get("code") for f in doc.get("findings") or []])
        else:
            row.append(doc.get(name))
    return row


def cards(docs: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    rows = [card_row(doc) for doc in docs]
    return {"count": len(rows), "fields": list(CARD_FIELDS), "rows": rows}
