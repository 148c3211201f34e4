"""Legal deadlines in working days: weekends and Vietnam's public holidays, Tết included."""

import datetime as dt

from planning_gis.exchange.working_days import (
    add_working_days,
    is_working_day,
    skipped_holidays,
    working_days_between,
)


def test_weekends_are_not_counted():
    # Friday 6 March 2026 + 10 working days: the second Friday after.
    assert add_working_days(dt.date(2026, 3, 6), 10) == dt.date(2026, 3, 20)


def test_tet_is_not_counted():
    # Tết 2026: the government's days off are 16-20 February (Mon-Fri). Received on Thursday
    # 12 February, 10 working days run 13, 23-27 Feb, 2-5 Mar: due on Thursday 5 March.
    assert not is_working_day(dt.date(2026, 2, 17))
    assert add_working_days(dt.date(2026, 2, 12), 10) == dt.date(2026, 3, 5)
    names = [d for d, _ in skipped_holidays(dt.date(2026, 2, 12), dt.date(2026, 3, 5))]
    assert dt.date(2026, 2, 16) in names and dt.date(2026, 2, 20) in names


def test_national_day_and_its_bridge():
    # 2 September 2026 (Wednesday) and the 1st are holidays; a Monday 31 August is decreed off.
    assert not is_working_day(dt.date(2026, 9, 1))
    assert not is_working_day(dt.date(2026, 9, 2))
    assert working_days_between(dt.date(2026, 8, 28), dt.date(2026, 9, 4)) == 2  # 3, 4 Sep


def test_receipt_day_is_not_counted_and_zero_days_is_today():
    assert add_working_days(dt.date(2026, 3, 9), 0) == dt.date(2026, 3, 9)
    assert add_working_days(dt.date(2026, 3, 9), 1) == dt.date(2026, 3, 10)
