"""The first page in a real Chromium: the zones appear, nothing leaves the machine."""

import pytest

pytestmark = [pytest.mark.db, pytest.mark.browser]


def test_index_shows_the_demo_zones_offline(page, live_server, artifacts):
    page.goto(f"{live_server}/")
    page.wait_for_function("document.getElementById('map').dataset.zones > 0", timeout=15000)
    n = int(page.eval_on_selector("#map", "el => el.dataset.zones"))
    assert n > 50
    assert page.locator("#legend li").count() >= 15
    assert "Đất ở mới" in page.inner_text("#legend")
    page.screenshot(path=str(artifacts / "index-desktop.png"))
    assert page.console_errors == []
    assert page.foreign_requests == []
