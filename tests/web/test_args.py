"""Whole-number query arguments: one parser and one wording for every endpoint."""

from __future__ import annotations

import pytest

from planning_gis.errors import InvalidInput
from planning_gis.web.args import int_arg


def test_absent_or_empty_is_the_default():
    assert int_arg({}, "limit", 10, 1) == 10
    assert int_arg({"limit": "  "}, "limit", None, 1) is None


def test_in_bounds():
    assert int_arg({"page": " 3 "}, "page", 1, 1, 100) == 3
    assert int_arg({"offset": "0"}, "offset", 0, 0) == 0


@pytest.mark.parametrize("args,high,words_vi", [
    ({"n": "ba"}, None, "phải là số nguyên"),
    ({"n": "2.5"}, 10, "phải là số nguyên"),
    ({"n": "-1"}, None, "lớn hơn hoặc bằng 0"),
    ({"n": "11"}, 10, "phải từ 0 đến 10"),
])
def test_refusals_name_the_argument(args, high, words_vi):
    with pytest.raises(InvalidInput) as err:
        int_arg(args, "n", 1, 0, high)
    assert err.value.message.startswith("n must be") and words_vi in err.value.message_vi


@pytest.mark.parametrize("path", ["/ogc/collections/zones/items?limit=abc",
                                  "/api/search?q=cau&limit=0", "/tai-lieu?year=1800"])
def test_endpoints_answer_400(client, path):
    r = client.get(path)
    assert r.status_code == 400
