"""The one date parser of the document import and the planner's forms."""

from __future__ import annotations

import datetime as dt

import pytest

from planning_gis.dates import parse_date
from planning_gis.errors import InvalidInput


@pytest.mark.parametrize("text", ["2020-03-12", "12/03/2020", "12-03-2020", "12.03.2020",
                                  "  12/03/2020 "])
def test_vietnamese_and_iso_forms(text):
    assert parse_date(text) == dt.date(2020, 3, 12)


@pytest.mark.parametrize("text", [None, "", "   "])
def test_empty_is_none(text):
    assert parse_date(text) is None


@pytest.mark.parametrize("text", ["31/02/2024", "2020/03/12", "12 tháng 3", "03/12"])
def test_not_a_date_names_the_field_in_both_languages(text):
    with pytest.raises(InvalidInput) as err:
        parse_date(text, "issued_on")
    assert "issued_on" in str(err.value.message) and repr(text.strip()) in err.value.message
    assert "phải là ngày" in err.value.message_vi
