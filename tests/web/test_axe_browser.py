"""axe-core on the public pages that no other browser test audits (the citizen's map, its dialogs
and the document pages are audited inside their own walks): no critical or serious violation."""

from __future__ import annotations

import pytest

from tests.conftest import axe_violations

pytestmark = [pytest.mark.db, pytest.mark.browser]


@pytest.mark.parametrize("path", [
    "/hoi-dap", "/cong-khai/don-vi", "/thu-tuc/cung-cap-thong-tin", "/lay-y-kien",
    "/quan-tri/dang-nhap",
])
def test_public_page_has_no_serious_violation(page, live_server, path):
    page.goto(f"{live_server}{path}")
    page.wait_for_load_state("networkidle")
    assert axe_violations(page, name="page" + path.replace("/", "-")) == []
    assert page.console_errors == [] and page.foreign_requests == []


def test_unit_record_table_has_no_empty_header(page, live_server):
    page.goto(f"{live_server}/cong-khai/don-vi")
    assert axe_violations(page, name="record-minor", blocking=("critical", "serious", "moderate",
                                                                "minor")) == []
