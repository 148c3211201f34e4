"""The Content-Security-Policy is enforced by the browser, and the watched pages hear it."""

from __future__ import annotations

import pytest

from tests.conftest import open_watched_page

pytestmark = pytest.mark.db


def test_inline_script_is_blocked_and_reported(browser, live_server):
    pg = open_watched_page(browser, viewport={"width": 800, "height": 600})
    try:
        pg.goto(live_server + "/tai-lieu")
        pg.evaluate("""() => {
            const s = document.createElement("script");
            s.textContent = "window.__inline = 1";
            document.body.appendChild(s);
            const d = document.createElement("div");
            d.innerHTML = '<img src="x" onerror="window.__onerror = 1">';
            document.body.appendChild(d);
        }""")
        pg.wait_for_timeout(300)
        assert pg.evaluate("window.__inline") is None
        assert pg.evaluate("window.__onerror") is None
        assert any("script-src" in m for m in pg.csp_violations), pg.csp_violations
    finally:
        pg.context.close()
