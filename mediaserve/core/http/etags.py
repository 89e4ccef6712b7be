"""Entity-tag lists in If-Match and If-None-Match (RFC 9110 §8.8.3, §13.1.1, §13.1.2)."""

__all__ = ["etag_list_matches"]


def etag_list_matches(value: str, etag: str, *, weak: bool) -> bool:
    """Whether the If-Match / If-None-Match ``value`` matches our strong ``etag``.

    Strong comparison (If-Match) needs an identical, non-weak tag; weak comparison
    (If-None-Match) also accepts ``W/`` + our tag. Our tag contains no comma and no quote,
    so in a well-formed list an element equal to it can only be a whole element: splitting
    on commas is exact, even though other tags may contain commas.
    """
    value = value.strip()
    if value == "*":
        return True
    if etag not in value:  # the common miss costs one substring search, no allocation
        return False
    for element in value.split(","):
        element = element.strip()
        if weak and element.startswith("W/"):
            element = element[2:]
        if element == etag:
            return True
    return False
