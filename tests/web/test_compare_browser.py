"""The panel says what changed here and opens the comparison, in Chromium (real gunicorn, the
tiny demo with its 2021 local adjustment); no console error, no request off 127.0.0.1."""

from __future__ import annotations

import pytest
from sqlalchemy import text

pytestmark = [pytest.mark.db, pytest.mark.browser]

REZONED_SQL = text("""
    SELECT ST_X(pt) AS lon, ST_Y(pt) AS lat
      FROM history h, LATERAL ST_Transform(ST_PointOnSurface(h.geom), 4326) AS pt
     WHERE h.decision = '1789/QĐ-UBND' AND h.op = 'U'
       AND h.old_row->>'function_code' <> h.new_row->>'function_code'
     ORDER BY h.id LIMIT 1""")


def test_panel_says_what_changed_and_opens_the_comparison(page, live_server, engine):
    with engine.connect() as c:
        at = c.execute(REZONED_SQL).one()
    page.goto(f"{live_server}/#z=18&c={at.lat:.6f},{at.lon:.6f}&p={at.lat!r},{at.lon!r}")
    page.wait_for_selector("#panel[data-ready]", timeout=30000)
    change = page.locator("section.changes [data-field=change]").first
    change.wait_for(timeout=10000)
    sentence = change.text_content()
    assert sentence.startswith("Năm 2021, ô ") and "sang đất trường học" in sentence
    assert "(QĐ 1789/QĐ-UBND ngày 16/04/2021)" in sentence
    page.locator("section.changes a.compare-link").first.click()
    page.wait_for_url("**/so-sanh?**")
    page.wait_for_selector("body[data-ready]", timeout=30000)
    assert int(page.get_attribute("body", "data-changes")) >= 1
    listed = page.locator("#changes li").first.text_content()
    assert "sang đất trường học" in listed
    assert "Trước:" in page.text_content("#title-a") and "Sau:" in page.text_content("#title-b")
    # changed zones outlined on both maps, the zones drawn
    assert page.locator("#map-a path").count() >= 2 and page.locator("#map-b path").count() >= 2
    page.check("input[name=mode][value=swipe]")
    page.wait_for_selector("body[data-mode=swipe]")
    assert page.locator("#swipe").is_visible()
    assert page.console_errors == [] and page.foreign_requests == []
