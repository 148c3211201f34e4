"""Dates as Vietnamese documents and forms write them: 12/03/2020 (also 12-03-2020, 12.03.2020)
or ISO 2020-03-12. One parser for the document import and the planner's forms, so that a date
the one accepts the other does too."""

from __future__ import annotations

import datetime as dt

from planning_gis.errors import InvalidInput

DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y", "%d-%m-%Y", "%d.%m.%Y")


def parse_date(value: str | None, what: str = "date") -> dt.date | None:
    """The date in ``value`` (surrounding spaces ignored); empty is None; anything else is an
    InvalidInput naming the field ``what``, in English and Vietnamese."""
    text = (value or "").strip()
    if not text:
        return None
    for fmt in DATE_FORMATS:
        try:
            return dt.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise InvalidInput(
        f"{what} must be a date like 2020-03-12 or 12/03/2020, not {text!r}",
        message_vi=f"{what} phải là ngày (ngày/tháng/năm, ví dụ 12/03/2020), không phải {text!r}.",
    )
