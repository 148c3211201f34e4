"""The whole path in Debian's Chromium against the real gunicorn server: sign in, upload a
simulated scan, import its points, read the residual table, mask, publish (a job done by the
worker process started with the server; the page polls it), and find the sheet on the public map
with tiles that hold real (non-transparent) pixels."""

import io
import urllib.request

import pytest
from PIL import Image

from planning_gis.demo.accounts import DEMO_PLANNER_PASSWORD, planner_email
from tests.workspace.conftest import CAU_GIAY, plan_of

pytestmark = [pytest.mark.browser, pytest.mark.db]


def test_planner_takes_a_scan_to_the_public_map(page, live_server, demo, simulated, artifacts):
    page.set_default_timeout(60_000)
    page.goto(f"{live_server}/quan-tri/")
    page.fill("input[name=email]", planner_email(CAU_GIAY))
    page.fill("input[name=password]", DEMO_PLANNER_PASSWORD)
    page.click("#login-form button[type=submit]")
    page.wait_for_selector("#plans")
    plan_id = plan_of(demo, CAU_GIAY)
    page.goto(f"{live_server}/quan-tri/do-an/{plan_id}")
    page.fill("#upload-form input[name=title]", "Tờ thử nghiệm trình duyệt")
    page.set_input_files("#upload-form input[name=scan]", str(simulated.path))
    page.click("#upload-form button[type=submit]")
    page.wait_for_selector("#scan-map .leaflet-tile-loaded")
    page.set_input_files("#import-form input[name=file]", str(simulated.points_path))
    page.click("#import-points")
    page.wait_for_selector("#points-table tbody tr td.residual")
    rows = page.locator("#points-table tbody tr")
    assert rows.count() == len(simulated.control_points)
    assert page.locator("#points-table td.residual").first.inner_text() != "–"
    page.wait_for_selector("#methods-table tr.chosen")
    chosen = page.inner_text("#chosen-method")
    assert chosen
    # draw the neatline: click its corners on the scan, then save
    page.click("#mode-mask")
    page.locator("#scan-map").scroll_into_view_if_needed()
    corners = [simulated.neatline_pixels[i] for i in (0, 25, 50, 75)]
    for x, y in corners:
        pt = page.evaluate(
            "([x, y]) => { const p = window.__scanMapPoint(x, y);"
            " const r = document.getElementById('scan-map').getBoundingClientRect();"
            " return [r.left + p[0], r.top + p[1]]; }", [x, y])
        page.mouse.click(pt[0], pt[1])
    page.click("#mask-save")
    page.wait_for_selector("#status:has-text('Đã lưu khung')")
    page.click("#preview")
    page.wait_for_selector("img.warp-preview")
    page.fill("#opacity", "0.4")
    page.click("#publish")  # queued as a job; the page polls it until the worker is done
    page.wait_for_selector("#status:has-text('Đã công bố')", timeout=300_000)
    page.screenshot(path=str(artifacts / "workspace-editor.png"), full_page=True)
    sheet_id = int(page.get_attribute("#editor", "data-sheet-id"))

    # The old public page opens the citizen's map with the sheet laid over it.
    page.goto(f"{live_server}/to-ban-do?to={sheet_id}")
    page.wait_for_function(f"document.getElementById('sheet').value === '{sheet_id}'")
    assert f"s={sheet_id}" in page.evaluate("location.hash")
    assert " m (" in page.inner_text("#scan-note")
    page.wait_for_selector(f".sheet-{sheet_id} img.leaflet-tile-loaded")
    srcs = page.eval_on_selector_all(f".sheet-{sheet_id} img.leaflet-tile-loaded",
                                     "els => els.map(e => e.src)")
    opaque = 0
    for src in srcs:
        with urllib.request.urlopen(src) as resp:
            if resp.status != 200:
                continue
            img = Image.open(io.BytesIO(resp.read())).convert("RGBA")
            opaque += sum(1 for a in img.getchannel("A").getdata() if a > 0)
    assert opaque > 0
    page.screenshot(path=str(artifacts / "workspace-public.png"), full_page=True)
    assert page.console_errors == []
    assert page.foreign_requests == []
