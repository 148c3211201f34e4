"""Issue 14's walk in Chromium: a street typed, a house by the planned road tapped, the road's
width, distance and "inside the red line", the plot drawn and its m² cut, the sheet; an old
ward's name finds the new ward."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from tests.conftest import axe_violations

pytestmark = [pytest.mark.db, pytest.mark.browser]

#: A point inside the demo ring road's reserve, 8 m from its centre, and the road's VN-2000 corners
#: of a 20 × 20 m plot straddling its red line.
ROAD_SQL = text("""
SELECT ST_X(i) AS lon, ST_Y(i) AS lat, ST_X(c) AS e, ST_Y(c) AS n, r.width_m
  FROM red_lines r,
       LATERAL ST_Centroid(ST_Intersection(r.reserve,
         ST_Buffer(ST_PointOnSurface(r.reserve), 10))) AS c,
       LATERAL ST_Transform(c, 4326) AS i
 WHERE r.road_name LIKE 'Đường Vành đai 2,5%'
""")


@pytest.fixture
def road(engine, demo):
    with engine.connect() as c:
        return c.execute(ROAD_SQL).one()


def test_street_tap_red_line_plot_and_sheet(page, live_server, road, artifacts):
    page.goto(f"{live_server}/")
    page.wait_for_selector("#map[data-ready]")
    # A street typed: the map goes there.
    page.fill("#q", "Xuân Thủy")
    page.press("#q", "Enter")
    page.wait_for_selector("#map[data-jumped^='street:']", timeout=10000)
    assert "Xuân Thủy" in page.inner_text("#results")
    # A tap by the planned road: the panel speaks of the road.
    page.goto(f"{live_server}/#z=18&c={road.lat},{road.lon}&p={road.lat},{road.lon}")
    page.wait_for_selector("#panel[data-ready]", timeout=20000)
    assert page.inner_text("#panel-title").startswith("Đường Vành đai 2,5")
    assert "NẰM TRONG chỉ giới đường đỏ" in page.inner_text("[data-field=redline]")
    assert page.inner_text("[data-field=width]").startswith("50 m") and \
        "mặt cắt 1-1" in page.inner_text("[data-field=width]")
    assert page.inner_text("[data-field=inside]") == "CÓ"
    assert page.inner_text("[data-field=distance]").endswith(" m")
    assert "4507/QĐ-UBND" in page.inner_text("[data-field=road-plan]")
    assert page.evaluate("document.getElementById('map').dataset.road").startswith("Đường Vành")
    # The permalink keeps the tapped point exactly.
    assert f"p={road.lat},{road.lon}" in page.evaluate("location.hash")
    page.screenshot(path=str(artifacts / "red-line-panel.png"))
    assert axe_violations(page, name="red-line-panel") == []
    # The plot: corners typed as on a land certificate (X north first), straddling the red line.
    e, n = road.e, road.n + road.width_m / 2 - 10  # 10 m inside the reserve ... 10 m outside
    corners = [(n, e - 10), (n, e + 10), (n + 20, e + 10), (n + 20, e - 10)]
    page.click("#plot-btn")
    page.fill("#plot-text", "\n".join(f"{i + 1} {x:.2f} {y:.2f}" for i, (x, y) in
                                      enumerate(corners)))
    page.click("#plot-submit")
    page.wait_for_selector("#plot-result[data-ready] #plot-pdf", timeout=30000)
    cut = page.inner_text("#plot-result [data-field=cut]")
    assert "m²" in cut and "%" in cut and not cut.startswith("0 m²"), cut
    assert "BỊ CẮT" in page.inner_text("#plot-result [data-field=redline]")
    assert float(page.evaluate("document.getElementById('map').dataset.plotCut")) > 100
    assert page.locator("#plot-result table.shares th").nth(3).inner_text() == "Tỷ lệ"
    pdf = page.evaluate("""async () => {
        const r = await fetch(document.getElementById('plot-pdf').href);
        const b = new Uint8Array(await r.arrayBuffer());
        return String.fromCharCode(...b.slice(0, 5)); }""")
    assert pdf == "%PDF-"
    page.screenshot(path=str(artifacts / "red-line-plot.png"))
    assert axe_violations(page, name="red-line-plot") == []
    assert page.console_errors == [] and page.foreign_requests == []


def test_old_ward_name_finds_the_new_ward(page, live_server):
    page.goto(f"{live_server}/")
    page.wait_for_selector("#map[data-ready]")
    page.fill("#q", "dich vong")
    page.wait_for_selector("#results .hit", timeout=10000)
    first = page.locator("#results .hit").first.inner_text()
    assert "Phường Dịch Vọng" in first and "nay thuộc Phường" in first
    assert axe_violations(page, name="search-results") == []
    assert page.console_errors == [] and page.foreign_requests == []


def test_the_default_map_draws_the_governing_plan_and_names_streets(page, live_server, road):
    page.goto(f"{live_server}/#z=17&c={road.lat},{road.lon}")
    page.wait_for_selector("#map[data-first-tile]", timeout=20000)
    assert page.evaluate("document.getElementById('map').dataset.level") == "governing"
    page.wait_for_selector(".street-label", timeout=15000)
    assert page.locator(".street-label").count() > 0
    assert page.get_attribute(".leaflet-control-zoom-in", "title") == "Phóng to"
    page.select_option("#level", "all")
    assert "lv=all" in page.evaluate("location.hash")
    assert page.console_errors == [] and page.foreign_requests == []
