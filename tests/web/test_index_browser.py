"""The first page (the citizen's map) in a real Chromium: zones appear, nothing leaves the machine."""

import pytest

pytestmark = [pytest.mark.db, pytest.mark.browser]


def test_index_shows_the_demo_zones_offline(page, live_server, artifacts):
    page.goto(f"{live_server}/#z=15&c=21.03,105.79")
    page.wait_for_function("() => document.getElementById('map').dataset.zones > 50", timeout=20000)
    # The legend comes once the zoning is drawn and the page is idle (it must not hold a slow
    # phone's connections before the zoning's tiles or a tap's look-up).
    page.wait_for_function("() => document.querySelectorAll('#legend li').length >= 15",
                           timeout=10000)
    assert "Đất ở mới" in page.inner_text("#legend")
    scripts = page.eval_on_selector_all("script[src], link[rel=stylesheet]",
                                        "els => els.map(e => e.src || e.href)")
    assert scripts and all(s.startswith(live_server + "/static/") for s in scripts)
    page.screenshot(path=str(artifacts / "index-desktop.png"))
    assert page.console_errors == []
    assert page.foreign_requests == []
