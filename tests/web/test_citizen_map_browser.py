"""The citizen's map with the demo's published sheets, a plot and "my location", in Chromium.

Real gunicorn, real PostGIS demo, Debian's Chromium; every test checks that the page logged no
error and that no request left 127.0.0.1.
"""

from __future__ import annotations

import io
import urllib.request

import pytest
from PIL import Image
from sqlalchemy import text

from tests.conftest import axe_violations, open_watched_page

pytestmark = [pytest.mark.db, pytest.mark.browser]

TRACED_ZONE_SQL = text(
    """
    SELECT z.label, z.sheet_id, s.check_error_m, ST_X(pt) AS lon, ST_Y(pt) AS lat
      FROM land_use_zones z JOIN plans p ON p.id = z.plan_id
      JOIN map_sheets s ON s.id = z.sheet_id,
           LATERAL ST_Transform(ST_PointOnSurface(z.geom), 4326) AS pt
     WHERE p.kind = 'chi_tiet' AND s.state = 'published'
     ORDER BY z.area_m2 DESC LIMIT 1
    """
)
PLOT_SQL = text(
    """
    SELECT ST_X(c) AS e, ST_Y(c) AS n
      FROM plans p, LATERAL ST_PointOnSurface(p.geom) AS c
     WHERE p.kind = 'chi_tiet' ORDER BY p.id LIMIT 1
    """
)


@pytest.fixture
def traced(engine, demo):
    with engine.connect() as c:
        return c.execute(TRACED_ZONE_SQL).one()


def _clean(page) -> None:
    assert page.console_errors == []
    assert page.foreign_requests == []


def _opaque_pixels(url: str) -> int:
    with urllib.request.urlopen(url) as resp:
        assert resp.status == 200
        img = Image.open(io.BytesIO(resp.read())).convert("RGBA")
    return sum(1 for a in img.getchannel("A").getdata() if a > 0)


def _open_with_sheet(page, live_server, traced) -> None:
    page.goto(f"{live_server}/#z=17&c={traced.lat:.6f},{traced.lon:.6f}")
    page.wait_for_selector("#map[data-first-tile]", timeout=20000)
    page.wait_for_selector(f"#sheet option[value='{traced.sheet_id}']", state="attached")
    page.select_option("#sheet", str(traced.sheet_id))
    page.wait_for_selector(f".sheet-{traced.sheet_id} img.leaflet-tile-loaded", timeout=20000)


def test_scanned_sheet_overlay_opacity_and_swipe(page, live_server, traced, artifacts):
    statuses: list[int] = []
    page.on("response", lambda r: statuses.append(r.status) if "/tiles/sheets/" in r.url else None)
    _open_with_sheet(page, live_server, traced)
    assert f"s={traced.sheet_id}" in page.evaluate("location.hash")
    srcs = page.eval_on_selector_all(f".sheet-{traced.sheet_id} img.leaflet-tile-loaded",
                                     "els => els.map(e => e.src)")
    assert srcs and all(f"/tiles/sheets/{traced.sheet_id}/" in s for s in srcs)
    assert statuses and set(statuses) == {200}
    assert sum(_opaque_pixels(s) for s in srcs) > 0, "the scan's tiles carry the drawing"
    assert "± " in page.inner_text("#scan-note") and " m (" in page.inner_text("#scan-note")
    layer = f".sheet-{traced.sheet_id}"
    assert page.eval_on_selector(layer, "e => e.style.opacity") == "0.8"
    page.fill("#opacity", "30")
    assert page.eval_on_selector(layer, "e => e.style.opacity") == "0.3"
    assert "o=30" in page.evaluate("location.hash")
    # Swipe: the divider appears and the scan is clipped to the left of it.
    assert page.locator("#swipe").is_hidden()
    assert page.eval_on_selector(layer, "e => e.style.clip") == ""
    page.check("#swipe-on")
    assert page.locator("#swipe .swipe-line").is_visible()
    clip = page.eval_on_selector(layer, "e => e.style.clip")
    assert clip.startswith("rect(")
    page.fill("#swipe-range", "20")
    assert page.eval_on_selector(layer, "e => e.style.clip") != clip
    page.uncheck("#swipe-on")
    assert page.locator("#swipe").is_hidden()
    assert page.eval_on_selector(layer, "e => e.style.clip") == ""
    page.check("#swipe-on")
    page.fill("#opacity", "70")
    page.screenshot(path=str(artifacts / "citizen-desktop-sheet-swipe.png"))
    _clean(page)


def test_traced_zone_shows_its_sheets_accuracy(page, live_server, traced):
    page.goto(f"{live_server}/#z=18&c={traced.lat:.6f},{traced.lon:.6f}")
    page.wait_for_selector("#map[data-first-tile]", timeout=20000)
    page.locator("#map").click()
    page.wait_for_selector("#panel[data-ready]", timeout=10000)
    assert traced.label in page.inner_text("#panel-title")
    acc = page.inner_text("[data-field=accuracy]")
    assert f"± {traced.check_error_m:.1f}".replace(".", ",") + " m" in acc
    assert "điểm kiểm tra độc lập" in acc
    # The panel offers the scan the zone was traced from.
    page.click(f"[data-field=accuracy] [data-sheet='{traced.sheet_id}']")
    page.wait_for_selector(f".sheet-{traced.sheet_id} img.leaflet-tile-loaded", timeout=20000)
    assert page.input_value("#sheet") == str(traced.sheet_id)
    _clean(page)


def test_plot_typed_as_vn2000_corners_and_drawn_on_the_map(page, live_server, engine, demo):
    with engine.connect() as c:
        pt = c.execute(PLOT_SQL).one()
    e, n = pt.e, pt.n
    corners = [(n - 20, e - 30), (n - 20, e + 30), (n + 20, e + 30), (n + 20, e - 30)]
    page.goto(f"{live_server}/")
    page.wait_for_selector("#map[data-ready]")
    page.click("#plot-btn")
    assert axe_violations(page, name="plot-dialog") == []
    # X (northing) first, as on a land certificate, with corner numbers and decimal commas.
    page.fill("#plot-text", "\n".join(f"{i + 1} {x:.1f} {y:.1f}".replace(".", ",")
                                      for i, (x, y) in enumerate(corners)))
    page.click("#plot-submit")
    page.wait_for_selector("#plot-result[data-ready] #plot-pdf", timeout=20000)
    assert "2.400" in page.inner_text("[data-field=plot-area]")
    gov = page.locator("#plot-result table[data-governing]")
    assert gov.locator("tbody tr").count() >= 2
    assert gov.locator("[data-total]").inner_text() == "100 %"
    pdf = page.evaluate("""async () => {
        const r = await fetch(document.getElementById('plot-pdf').href);
        const b = new Uint8Array(await r.arrayBuffer());
        return String.fromCharCode(...b.slice(0, 5)); }""")
    assert pdf == "%PDF-"
    assert axe_violations(page, name="plot-result") == []
    # Swapped order (Y X) is explained in Vietnamese, not guessed.
    page.fill("#plot-text", "\n".join(f"{y:.1f} {x:.1f}" for x, y in corners))
    page.click("#plot-submit")
    page.wait_for_selector("#plot-result .error")
    assert "đảo" in page.inner_text("#plot-result") or "ngoài" in page.inner_text("#plot-result")
    page.fill("#plot-text", "abc")
    page.click("#plot-submit")
    assert "Không đọc được" in page.inner_text("#plot-result .error")
    assert axe_violations(page, name="plot-error") == []
    # Drawn: three taps on the map, then "Xong".
    assert page.locator("#draw-bar").is_hidden()
    page.click("#plot-draw")
    assert page.locator("#draw-bar").is_visible()
    box = page.locator("#map").bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    for dx, dy in ((-40, -30), (40, -30), (0, 40)):
        page.mouse.click(cx + dx, cy + dy)
    assert "3" in page.inner_text("#draw-text")
    assert page.locator("#panel").is_hidden(), "taps while drawing do not look up points"
    page.click("#draw-done")
    assert page.locator("#draw-bar").is_hidden()
    page.wait_for_selector("#plot-result[data-ready]", timeout=20000)
    assert page.locator("#plot[open]").count() == 1
    # Chromium logs the deliberate 400 of the swapped corners as a failed load; nothing else.
    assert all("status of 400" in m for m in page.console_errors), page.console_errors
    assert page.foreign_requests == []


@pytest.fixture
def located(browser, live_server):
    """A desktop page whose browser may tell the page where it is."""
    pg = open_watched_page(browser, viewport={"width": 1280, "height": 800})
    pg.context.grant_permissions(["geolocation"], origin=live_server)
    yield pg.context, pg
    pg.context.close()
    assert pg.csp_violations == []


def test_my_location_centres_the_map_and_opens_the_panel(located, live_server, traced):
    context, page = located
    context.set_geolocation({"latitude": traced.lat, "longitude": traced.lon, "accuracy": 10})
    page.goto(f"{live_server}/#z=12&c=21.0,105.6")
    page.wait_for_selector("#map[data-ready]")
    page.click("#locate")
    page.wait_for_selector("#panel[data-ready]", timeout=10000)
    assert traced.label in page.inner_text("#panel-title")
    lat, lon = (float(v) for v in page.evaluate(
        "new URLSearchParams(location.hash.slice(1)).get('p')").split(","))
    assert abs(lat - traced.lat) < 1e-5 and abs(lon - traced.lon) < 1e-5
    centre = page.evaluate("new URLSearchParams(location.hash.slice(1)).get('c')").split(",")
    assert abs(float(centre[0]) - traced.lat) < 2e-3 and abs(float(centre[1]) - traced.lon) < 2e-3
    # Outside Hanoi: a readable Vietnamese message, and the map stays where it was.
    page.click("#panel-close")
    before = page.evaluate("location.hash")
    context.set_geolocation({"latitude": 48.8566, "longitude": 2.3522})
    page.click("#locate")
    page.wait_for_selector("#results [data-field=geo]")
    message = page.inner_text("#results")
    assert "nằm ngoài Hà Nội" in message and "48,8566" in message
    assert page.evaluate("location.hash") == before
    assert page.locator("#panel").is_hidden()
    _clean(page)


def test_screenshots_with_the_sheet_overlay(page, phone, live_server, traced, artifacts):
    for pg, name in ((page, "desktop"), (phone, "phone")):
        pg.goto(f"{live_server}/#z=17&c={traced.lat:.6f},{traced.lon:.6f}&s={traced.sheet_id}&o=80")
        pg.wait_for_selector(f".sheet-{traced.sheet_id} img.leaflet-tile-loaded", timeout=20000)
        pg.wait_for_load_state("networkidle")
        pg.screenshot(path=str(artifacts / f"citizen-{name}-sheet.png"))
        box = pg.locator("#map").bounding_box()
        if name == "phone":
            pg.touchscreen.tap(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        else:
            pg.locator("#map").click()
        pg.wait_for_selector("#panel[data-ready]", timeout=10000)
        pg.wait_for_load_state("networkidle")
        pg.screenshot(path=str(artifacts / f"citizen-{name}-sheet-panel.png"))
        assert axe_violations(pg, name=f"{name}-sheet-panel") == []
        assert pg.evaluate("document.documentElement.scrollWidth") <= pg.viewport_size["width"]
        _clean(pg)
    phone.click("#layers-btn")
    phone.screenshot(path=str(artifacts / "citizen-phone-sheet-layers.png"))
    phone.click("[data-close=layers]")
    phone.click("#plot-btn")
    phone.screenshot(path=str(artifacts / "citizen-phone-plot.png"))


def test_first_tiles_asked_early_are_taken_not_fetched_twice(phone, live_server):
    """The page's inlined script asks for the first view's zoning tiles before Leaflet arrives;
    the tile layer takes those answers: each tile is requested once, and none is left unused."""
    asked: list[str] = []
    phone.on("request", lambda r: asked.append(r.url) if "/tiles/" in r.url else None)
    phone.goto(f"{live_server}/#z=17&c=21.030000,105.790000")
    phone.wait_for_selector("#map[data-first-zoning]", timeout=20000)
    phone.wait_for_load_state("networkidle")
    early = [u for u in asked if "/tiles/governing/17/" in u]
    assert len(early) >= 4 and len(early) == len(set(early)), early
    assert phone.evaluate("window.firstTiles.size") == 0  # every early answer was drawn
    # Other layers come after the zoning (they wait for it), and no tile is asked twice.
    assert len(asked) == len(set(asked)), asked
    assert any("/tiles/redlines/" in u for u in asked)
    assert phone.console_errors == []
