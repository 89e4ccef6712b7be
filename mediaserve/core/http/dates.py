"""HTTP-dates (RFC 9110 §5.6.7): the one format a server sends, the three it must accept.

Pure and strict: an invalid date is None, which callers treat as "header absent"
(§13.1.3-§13.1.5), never as an error.
"""

import calendar
import re
import time

__all__ = ["format_http_date", "parse_http_date"]

_DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun",
                "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")  # fmt: skip
_MONTHS = {name: number for number, name in enumerate(_MONTH_NAMES, 1)}


def format_http_date(seconds: int) -> str:
    """IMF-fixdate (§5.6.7), the only format a sender may generate."""
    t = time.gmtime(seconds)
    return (
        f"{_DAY_NAMES[t.tm_wday]}, {t.tm_mday:02d} {_MONTH_NAMES[t.tm_mon - 1]} "
        f"{t.tm_year:04d} {t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} GMT"
    )


_MONTH_RE = "(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
_TIME_RE = "([0-9]{2}):([0-9]{2}):([0-9]{2})"
_IMF_FIXDATE = re.compile(
    rf"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), ([0-9]{{2}}) {_MONTH_RE} ([0-9]{{4}}) {_TIME_RE} GMT"
)
_RFC850_DATE = re.compile(
    r"(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday), "
    rf"([0-9]{{2}})-{_MONTH_RE}-([0-9]{{2}}) {_TIME_RE} GMT"
)
_ASCTIME_DATE = re.compile(
    rf"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) {_MONTH_RE} ([0-9]{{2}}| [0-9]) {_TIME_RE} ([0-9]{{4}})"
)


def parse_http_date(value: str) -> int | None:
    """Seconds since the epoch, or None when ``value`` is not a valid HTTP-date.

    Callers treat None as "header absent" (§13.1.3, §13.1.4, §13.1.5).
    """
    value = value.strip()
    if m := _IMF_FIXDATE.fullmatch(value):
        day, month, year, hour, minute, second = m.groups()
        year_n = int(year)
    elif m := _RFC850_DATE.fullmatch(value):
        day, month, year, hour, minute, second = m.groups()
        # §5.6.7: a two-digit year more than 50 years in the future means the past century.
        this_year = time.gmtime().tm_year
        year_n = this_year // 100 * 100 + int(year)
        if year_n > this_year + 50:
            year_n -= 100
    elif m := _ASCTIME_DATE.fullmatch(value):
        month, day, hour, minute, second, year = m.groups()
        year_n = int(year)
    else:
        return None
    month_n, day_n = _MONTHS[month], int(day)
    hour_n, minute_n, second_n = int(hour), int(minute), int(second)
    if (
        year_n < 1
        or not 1 <= day_n <= calendar.monthrange(year_n, month_n)[1]
        or hour_n > 23
        or minute_n > 59
        or second_n > 60  # 60: leap second
    ):
        return None
    return calendar.timegm((year_n, month_n, day_n, hour_n, minute_n, second_n))
