"""The zero-click walk in Debian's Chromium against the real gunicorn server: upload a scan with
its printed grid, "Tìm điểm khống chế" (undone in one step, then found again), review the table
and the Vietnamese report, turn one point into a check point, confirm and publish; the public
list carries the check error. An import is undone in one step too."""

import json
import urllib.request

import pytest

from planning_gis.demo.accounts import DEMO_PLANNER_PASSWORD, planner_email
from tests.workspace.conftest import CAU_GIAY, browser_sign_in, browser_upload_scan, plan_of

pytestmark = [pytest.mark.browser, pytest.mark.db]


def test_found_points_reviewed_checked_and_published(page, live_server, demo, printed_grid,
                                                     artifacts):
    page.set_default_timeout(60_000)
    browser_sign_in(page, live_server, planner_email(CAU_GIAY), DEMO_PLANNER_PASSWORD)
    browser_upload_scan(page, live_server, plan_of(demo, CAU_GIAY),
                        "Tờ lưới in – tìm điểm tự động", printed_grid.path)

    # find the points from the printed grid
    page.click("#detect-points")
    page.wait_for_selector("#status:has-text('Đã thêm')", timeout=120_000)
    report = page.inner_text("#detect-report")
    assert "Tìm điểm khống chế" in report and "Nhãn tọa độ" in report
    assert "null" not in report and "tiếng Anh" not in report, report
    truth = len(printed_grid.control_points)
    rows = page.locator("#points-table tbody tr")
    assert rows.count() >= 0.9 * truth

    # one undo step takes the whole detection back (the table was empty); then found again
    page.click("#undo")
    page.wait_for_selector("#status:has-text('Đã hoàn tác: tìm điểm khống chế')")
    page.wait_for_selector("#points-table tbody tr", state="detached")
    assert page.locator("#undo").is_disabled()
    page.click("#detect-points")
    page.wait_for_selector("#status:has-text('Đã thêm')", timeout=120_000)
    assert rows.count() >= 0.9 * truth

    # review: residuals in the table, the choice explained in Vietnamese
    page.wait_for_selector("#methods-table tr.chosen")
    assert page.locator("#points-table td.residual").first.inner_text() != "–"
    reason = page.inner_text("#fit-reason")
    assert "sai số bỏ-một-điểm" in reason, reason
    assert "leave-one-out" in (page.get_attribute("#fit-reason", "title") or "")

    # the reference map: VN-2000 grid lines, the cursor read in X/Y, the zones switchable
    assert page.locator("#ref-map path.vn-grid").count() > 2
    page.evaluate("window.scrollTo(0, 0)")  # the detection button left the page scrolled
    box = page.locator("#ref-map").bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2 - 20, box["y"] + box["height"] / 2)
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2, steps=4)
    page.wait_for_selector("#cursor-vn:has-text('X =')")
    readout = page.inner_text("#cursor-vn")
    assert readout.startswith("X = 2 32") and "Y = 58" in readout, readout
    zones_toggle = page.locator(".leaflet-control-layers label:has-text('Ô quy hoạch') input")
    assert zones_toggle.is_checked()
    zones_toggle.uncheck()
    assert not zones_toggle.is_checked()

    # residual arrows on both maps; the next point's map position predicted from the others
    assert page.locator("#scan-map path.residual-arrow").count() == rows.count()
    assert page.locator("#ref-map path.residual-arrow").count() == rows.count()
    assert "phóng đại" in page.inner_text("#arrow-scale")
    x, y = printed_grid.width / 2, printed_grid.height / 2
    pt = page.evaluate(
        "([x, y]) => { const p = window.__scanMapPoint(x, y);"
        " const r = document.getElementById('scan-map').getBoundingClientRect();"
        " return [r.left + p[0], r.top + p[1]]; }", [x, y])
    page.mouse.click(pt[0], pt[1])
    assert "Vị trí dự đoán: X ≈ 2 32" in page.inner_text("#pending")
    assert page.locator("#ref-map path.predicted-point").count() == 1
    assert page.get_attribute("#point-form input[name=x_north]", "placeholder").startswith("≈ 2 32")

    # one check point: left out of the fit, its error still shown
    first = rows.nth(0)
    first.locator("input.enable").uncheck()
    page.wait_for_selector("#check-summary")
    assert "Điểm kiểm tra độc lập (1)" in page.inner_text("#check-summary")
    checked = page.locator("#points-table tbody tr.disabled")
    assert checked.count() == 1
    assert checked.locator("td.residual").inner_text().split()[0] not in ("–", "")
    assert "(kiểm tra)" in checked.locator("td.residual").inner_text()

    # undo brings the point back into the fit; done again, it stays a check point
    page.click("#undo")
    page.wait_for_selector("#status:has-text('Đã hoàn tác')")
    page.wait_for_selector("#points-table tbody tr.disabled", state="detached")
    assert page.locator("#check-summary").count() == 0
    rows.nth(0).locator("input.enable").uncheck()
    page.wait_for_selector("#check-summary")
    assert page.locator("#points-table tbody tr.disabled").count() == 1

    # publish, after a confirmation that names the fit and the check error
    messages = []

    def accept(dialog):
        messages.append(dialog.message)
        dialog.accept()

    page.once("dialog", accept)
    page.click("#publish")
    page.wait_for_selector("#status:has-text('Đã công bố')", timeout=300_000)
    assert messages and "điểm kiểm tra độc lập" in messages[0]
    page.screenshot(path=str(artifacts / "workspace-georef-detect.png"), full_page=True)
    sheet_id = int(page.get_attribute("#editor", "data-sheet-id"))
    with urllib.request.urlopen(f"{live_server}/api/sheets") as resp:
        sheets = json.load(resp)
    listed = next(s for s in sheets if s["id"] == sheet_id)
    assert listed["accuracy"]["check_error_m"] is not None


def test_publishing_asks_first(page, live_server, demo, simulated):
    """Dismissing the confirmation publishes nothing."""
    page.set_default_timeout(60_000)
    browser_sign_in(page, live_server, planner_email(CAU_GIAY), DEMO_PLANNER_PASSWORD)
    browser_upload_scan(page, live_server, plan_of(demo, CAU_GIAY), "Tờ chưa công bố",
                        simulated.path)
    page.set_input_files("#import-form input[name=file]", str(simulated.points_path))
    page.click("#import-points")
    page.wait_for_selector("#methods-table tr.chosen")
    rows = page.locator("#points-table tbody tr")
    assert rows.count() == len(simulated.control_points)
    # one undo step takes the whole import back, then it is imported again
    page.keyboard.press("Control+z")
    page.wait_for_selector("#status:has-text('Đã hoàn tác: nhập điểm')")
    page.wait_for_selector("#points-table tbody tr", state="detached")
    page.set_input_files("#import-form input[name=file]", str(simulated.points_path))
    page.click("#import-points")
    page.wait_for_selector("#status:has-text('Đã nhập')")
    page.wait_for_selector("#methods-table tr.chosen")
    assert rows.count() == len(simulated.control_points)
    page.once("dialog", lambda d: d.dismiss())
    page.click("#publish")
    page.wait_for_selector("#status:has-text('Chưa công bố')")
    assert page.inner_text("#sheet-state") != "Đã công bố"
