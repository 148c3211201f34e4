"""The citizen's map in Debian's Chromium against the real gunicorn and PostGIS demo.

Every test ends by checking that the page logged no error and that no request left 127.0.0.1.
"""

from __future__ import annotations

import io
import urllib.parse
import urllib.request

import pytest
from pypdf import PdfReader
from sqlalchemy import text

from planning_gis.crs import lonlat_to_vn2000
from tests.conftest import axe_violations

pytestmark = [pytest.mark.db, pytest.mark.browser]

ZONE_SQL = text(
    """
    SELECT z.label, z.coverage_pct, p.name AS plan_name, ST_X(pt) AS lon, ST_Y(pt) AS lat
      FROM land_use_zones z JOIN plans p ON p.id = z.plan_id,
           LATERAL ST_Transform(ST_PointOnSurface(z.geom), 4326) AS pt
     WHERE p.kind = 'chi_tiet' AND z.function_code IN ('OM', 'HH', 'NO')
     ORDER BY z.area_m2 DESC LIMIT 1
    """
)
PLAN_BOX_SQL = text(
    """
    SELECT ST_XMin(b) AS w, ST_YMin(b) AS s, ST_XMax(b) AS e, ST_YMax(b) AS n
      FROM (SELECT ST_Transform(geom, 4326) AS b FROM plans WHERE name ILIKE '%Khu đô thị%'
            ORDER BY id LIMIT 1) q
    """
)


@pytest.fixture
def zone(engine, demo):
    with engine.connect() as c:
        return c.execute(ZONE_SQL).one()


def _center(page) -> tuple[float, float]:
    h = urllib.parse.parse_qs(page.evaluate("location.hash.slice(1)"))
    lat, lon = (float(v) for v in h["c"][0].split(","))
    return lat, lon


def _open_at(page, base: str, lat: float, lon: float, z: int = 17) -> None:
    page.goto(f"{base}/#z={z}&c={lat:.6f},{lon:.6f}")
    page.wait_for_selector("#map[data-first-tile]", timeout=20000)


def _clean(page) -> None:
    assert page.console_errors == []
    assert page.foreign_requests == []


def test_page_loads_with_our_tiles_and_legend(page, live_server, artifacts):
    page.goto(f"{live_server}/")
    page.wait_for_selector("#map[data-first-tile]", timeout=20000)
    assert page.evaluate("document.documentElement.lang") == "vi"
    assert "Bản đồ quy hoạch Hà Nội" in page.inner_text("header")
    page.wait_for_function("() => document.querySelectorAll('#legend li').length >= 15")
    assert "Đất ở mới" in page.inner_text("#legend")
    # Vector tiles came from us and were drawn on canvas.
    assert page.locator(".leaflet-tile-container canvas").count() > 0
    page.screenshot(path=str(artifacts / "citizen-desktop-start.png"))
    assert axe_violations(page, name="map") == []
    page.click("#layers-btn")
    assert axe_violations(page, name="map-layers") == []
    _clean(page)


def test_tap_a_zone_shows_its_indicators_then_back_and_forward(page, live_server, zone, artifacts):
    _open_at(page, live_server, zone.lat, zone.lon)
    page.locator("#map").click()  # the centre of the map: the zone's point
    page.wait_for_selector("#panel[data-ready]", timeout=10000)
    panel = page.inner_text("#panel")
    assert zone.label in panel
    assert "Mật độ xây dựng" in panel and "Hệ số sử dụng đất" in panel and "Tầng cao" in panel
    assert page.inner_text("[data-field=coverage]").startswith(f"{zone.coverage_pct:g}".replace(".", ","))
    assert zone.plan_name in page.inner_text("[data-field=plan]")
    assert "QĐ" in page.inner_text("[data-field=decision]")
    assert "Đồ án áp dụng" in panel
    assert "p=" in page.evaluate("location.hash")
    page.screenshot(path=str(artifacts / "citizen-desktop-panel.png"))
    assert axe_violations(page, name="map-panel") == []
    # English switch: the same panel, translated.
    page.click("#lang")
    assert "Building coverage" in page.inner_text("#panel")
    page.click("#lang")
    # Back closes the selection, forward brings it back.
    page.go_back()
    page.wait_for_function("() => document.getElementById('panel').hidden")
    page.go_forward()
    page.wait_for_selector("#panel[data-ready]:not([hidden])", timeout=10000)
    assert zone.label in page.inner_text("#panel")
    _clean(page)


def test_search_without_diacritics_jumps_to_the_new_urban_zone(page, live_server, engine):
    with engine.connect() as c:
        box = c.execute(PLAN_BOX_SQL).one()
    page.goto(f"{live_server}/#z=12&c=21.0,105.6")
    page.wait_for_selector("#map[data-ready]")
    page.fill("#q", "khu do thi")
    page.press("#q", "Enter")
    page.wait_for_selector("#map[data-jumped]", timeout=10000)
    assert "Khu đô thị" in page.inner_text("#results")
    page.wait_for_function("() => location.hash.includes('z=1')")
    lat, lon = _center(page)
    assert box.w <= lon <= box.e and box.s <= lat <= box.n
    _clean(page)


def test_vn2000_xy_lands_on_the_right_spot(page, live_server, zone):
    e, n = lonlat_to_vn2000(zone.lon, zone.lat)
    page.goto(f"{live_server}/")
    page.wait_for_selector("#map[data-ready]")
    page.fill("#q", f"{n:.2f} {e:.2f}")
    page.press("#q", "Enter")
    page.wait_for_selector("#panel[data-ready]", timeout=10000)
    assert "VN-2000" in page.inner_text("[data-field=reading]")
    assert zone.label in page.inner_text("#panel-title")
    lat, lon = _center(page)
    assert abs(lat - zone.lat) < 1e-4 and abs(lon - zone.lon) < 1e-4
    # The same pair swapped is explained, not guessed.
    page.fill("#q", f"{e:.2f} {n:.2f}")
    page.press("#q", "Enter")
    page.wait_for_selector("#results .error")
    assert "đảo" in page.inner_text("#results")
    assert page.locator("#swap").count() == 1
    # Chromium logs the deliberate 400 of the swapped pair as a failed load; nothing else.
    assert all("status of 400" in m for m in page.console_errors), page.console_errors
    assert page.foreign_requests == []




def test_open_a_document_in_the_page(page, live_server, zone):
    _open_at(page, live_server, zone.lat, zone.lon)
    page.locator("#map").click()
    page.wait_for_selector("#panel[data-ready]", timeout=10000)
    link = page.locator("[data-view]").first
    if int(link.get_attribute("data-pages")) > 0:
        with page.expect_response(lambda r: "/pages/1.png" in r.url) as resp:
            link.click()
        assert resp.value.status == 200 and resp.value.headers["content-type"] == "image/png"
        assert page.locator("#viewer[open] #viewer-pages img").count() >= 1
        page.wait_for_selector("#viewer-pages img", state="visible")
    else:  # the library has not counted its pages: the viewer offers the PDF itself
        link.click()
        assert page.locator("#viewer[open]").count() == 1
    pdf = page.request.get(live_server + page.get_attribute("#viewer-download", "href"))
    assert pdf.status == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.body().startswith(b"%PDF")
    assert axe_violations(page, name="viewer") == []
    page.click("#viewer-close")
    _clean(page)


def test_information_sheet_pdf_from_the_panel(page, live_server, zone):
    _open_at(page, live_server, zone.lat, zone.lon)
    page.locator("#map").click()
    page.wait_for_selector("#panel[data-ready]", timeout=10000)
    href = page.get_attribute("#info-sheet", "href")
    resp = page.request.get(live_server + href)
    assert resp.status == 200 and resp.headers["content-type"] == "application/pdf"
    reader = PdfReader(io.BytesIO(resp.body()))
    body = "\n".join(p.extract_text() for p in reader.pages)
    assert "PHIẾU THÔNG TIN QUY HOẠCH" in body and zone.label in body
    assert "không có giá trị pháp lý" in body
    _clean(page)


def test_phone_tap_opens_a_bottom_sheet(phone, live_server, zone, artifacts):
    _open_at(phone, live_server, zone.lat, zone.lon)
    phone.screenshot(path=str(artifacts / "citizen-phone-start.png"))
    box = phone.locator("#map").bounding_box()
    phone.touchscreen.tap(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    phone.wait_for_selector("#panel[data-ready]", timeout=10000)
    sheet = phone.locator("#panel").bounding_box()
    assert sheet["width"] == pytest.approx(390, abs=1)
    assert sheet["y"] > 844 * 0.35  # a bottom sheet, the map stays visible above it
    assert zone.label in phone.inner_text("#panel")
    phone.screenshot(path=str(artifacts / "citizen-phone-panel.png"))
    phone.click("#layers-btn")
    assert phone.locator("#layers").is_visible()
    phone.screenshot(path=str(artifacts / "citizen-phone-layers.png"))
    assert axe_violations(phone, name="phone-layers") == []
    # Nothing is wider than the screen.
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    _clean(phone)


def test_controls_are_labelled_for_screen_readers(page, live_server):
    page.goto(f"{live_server}/")
    page.wait_for_selector("#map[data-ready]")
    unlabeled = page.evaluate("""() => [...document.querySelectorAll('button, input, select, a[href]')]
        .filter(el => el.offsetParent !== null)
        .filter(el => !(el.getAttribute('aria-label') || el.labels?.length || el.textContent.trim()
                        || el.title))
        .map(el => el.outerHTML.slice(0, 80))""")
    assert unlabeled == []
    # The search box is reachable from the keyboard and Enter on the map looks up its centre.
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")  # the skip link
    assert page.evaluate("document.activeElement.id") == "q"
    page.focus("#map")
    page.keyboard.press("Enter")
    page.wait_for_selector("#panel[data-ready]", timeout=10000)
    _clean(page)


def test_document_viewer_on_a_360_px_phone(small_phone, live_server, artifacts):
    """The viewer fills the phone; each page is as wide as the screen, zooms with − / + (then
    scrolls sideways) and has its text below it; nothing is wider than the screen."""
    ph = small_phone
    ph.goto(f"{live_server}/")
    ph.wait_for_selector("#map[data-ready]")
    ph.fill("#q", "6631/QĐ-UBND")
    ph.wait_for_selector("#results .hit", timeout=10000)
    hits = ph.locator("#results .hit").filter(has=ph.locator(".kind", has_text="Quyết định"))
    hits.filter(has_text="6631").first.click()
    ph.wait_for_selector("#viewer[open] #viewer-pages[data-text] .page img", timeout=10000)
    ph.wait_for_function("() => document.querySelector('#viewer-pages img').complete")
    box = ph.locator("#viewer").bounding_box()
    assert box["width"] == pytest.approx(360, abs=1) and box["height"] == pytest.approx(740, abs=1)
    img = ph.locator("#viewer-pages .page img").first.bounding_box()
    assert img["width"] >= 340, img
    text = ph.locator("#viewer-pages .page-text").first
    assert len(text.inner_text().strip()) > 20
    assert text.bounding_box()["y"] >= img["y"] + img["height"] - 1  # the text is below the page
    widths = ("() => { const p = document.getElementById('viewer-pages');"
              " return [p.scrollWidth, p.clientWidth]; }")
    scroll, client = ph.evaluate(widths)
    assert scroll <= client
    assert ph.evaluate("document.documentElement.scrollWidth") <= 360
    ph.screenshot(path=str(artifacts / "viewer-phone-360.png"))
    assert axe_violations(ph, name="viewer-phone") == []
    # Zoomed twice: the page is twice as wide and scrolls sideways; its text stays on screen.
    ph.click("#viewer-zoom-in")
    ph.click("#viewer-zoom-in")
    assert ph.inner_text("#viewer-zoom-level") == "200 %"
    ph.wait_for_function("() => { const i = document.querySelector('#viewer-pages img');"
                         " return i.src.endsWith('dpi=200') && i.complete; }")
    zoomed = ph.locator("#viewer-pages .page img").first.bounding_box()
    assert zoomed["width"] == pytest.approx(2 * img["width"], rel=0.02)
    scroll, client = ph.evaluate(widths)
    assert scroll > client * 1.8
    assert text.bounding_box()["width"] <= 360
    ph.screenshot(path=str(artifacts / "viewer-phone-360-zoomed.png"))
    ph.click("#viewer-zoom-out")
    ph.click("#viewer-zoom-out")
    assert ph.locator("#viewer-zoom-out").is_disabled()
    ph.click("#viewer-close")
    assert ph.locator("#viewer[open]").count() == 0
    _clean(ph)
