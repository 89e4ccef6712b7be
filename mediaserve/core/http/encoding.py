"""Content-coding negotiation (RFC 9110 §12.5.3) for the few JSON answers we compress.

Pure: the caller says which codings it can offer, this picks the one the client prefers.
"""

from __future__ import annotations

from mediaserve.core.http.etags import etag_list_matches


def _qvalue(params: list[str]) -> float:
    for param in params:
        name, _, value = param.partition("=")
        if name.strip().lower() == "q":
            try:
                q = float(value.strip())
            except ValueError:
                return 0.0  # a malformed weight is not an acceptance
            return q if 0.0 <= q <= 1.0 else 0.0
    return 1.0


def choose_encoding(accept_encoding: str | None, offered: tuple[str, ...]) -> str:
    """The coding to answer with: one of ``offered`` (in our order of preference on ties),
    or ``"identity"``. A coding with ``q=0`` is refused, ``*`` stands for any coding not
    listed; no header at all means identity (compressing for a client that did not ask
    would break it)."""
    if not accept_encoding:
        return "identity"
    weights: dict[str, float] = {}
    for element in accept_encoding.split(","):
        name, *params = element.split(";")
        name = name.strip().lower()
        if name:
            weights[name] = _qvalue(params)
    best, best_q = "identity", 0.0
    for coding in offered:
        q = weights.get(coding, weights.get("*", 0.0))
        if q > best_q:
            best, best_q = coding, q
    return best


def etag_matches(if_none_match: str | None, tags: tuple[str, ...]) -> bool:
    """§13.1.2 weak comparison of an If-None-Match list against the tags we would send
    (one per representation: every coding of the same content is "not modified")."""
    if not if_none_match:
        return False
    return any(etag_list_matches(if_none_match, tag, weak=True) for tag in tags)
