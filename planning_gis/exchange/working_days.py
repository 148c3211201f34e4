"""Legal deadlines in working days, counted with Vietnam's public holidays (Tết included).

Why the ``holidays`` package and not a table of our own: Tết moves with the lunar calendar and
the government moves days off around it (a Saturday made a working day to bridge a holiday);
the package knows both (``weekend_workdays``), year by year, and is kept up to date upstream.
The day of receipt is not counted: an administrative deadline of N working days runs from the
next working day, so a request received on a Friday with a 10-day deadline is due on the
second Friday after (without holidays).
"""

from __future__ import annotations

import datetime as dt
import functools

import holidays


@functools.lru_cache(maxsize=64)
def _calendar(year: int) -> holidays.HolidayBase:
    return holidays.country_holidays("VN", years=year)


def is_working_day(day: dt.date) -> bool:
    """A weekday that is not a public holiday, or a weekend day decreed a working day."""
    return _calendar(day.year).is_working_day(day)


def holiday_name(day: dt.date) -> str | None:
    return _calendar(day.year).get(day)


def add_working_days(start: dt.date, days: int) -> dt.date:
    """The date ``days`` working days after ``start`` (``start`` itself not counted)."""
    if days < 0:
        raise ValueError("days must not be negative")
    day = start
    left = days
    while left > 0:
        day += dt.timedelta(days=1)
        if is_working_day(day):
            left -= 1
    return day


def working_days_between(start: dt.date, end: dt.date) -> int:
    """Working days after ``start`` up to and including ``end`` (0 when ``end <= start``)."""
    count = 0
    day = start
    while day < end:
        day += dt.timedelta(days=1)
        if is_working_day(day):
            count += 1
    return count


def skipped_holidays(start: dt.date, end: dt.date) -> list[tuple[dt.date, str]]:
    """The public holidays between two dates (shown beside a deadline, so that a citizen sees
    why it falls later than the calendar suggests)."""
    out = []
    day = start
    while day < end:
        day += dt.timedelta(days=1)
        name = holiday_name(day)
        if name:
            out.append((day, name))
    return out
