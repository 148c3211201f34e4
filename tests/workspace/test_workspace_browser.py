"""The whole path in Debian's Chromium against the real gunicorn server: sign in, upload a
simulated scan, import its points, read the residual table, mask, publish (a job done by the
worker process started with the server; the page polls it), and find the sheet on the public map
with tiles that hold real (non-transparent) pixels."""

import io
import urllib.request

import pytest
from PIL import Image

from planning_gis.demo.accounts import DEMO_PLANNER_PASSWORD, planner_email
from tests.conftest import axe_violations
from tests.workspace.conftest import CAU_GIAY, browser_sign_in, browser_upload_scan, plan_of

pytestmark = [pytest.mark.browser, pytest.mark.db]


def test_planner_takes_a_scan_to_the_public_map(page, live_server, demo, simulated, artifacts):
    page.set_default_timeout(60_000)
    browser_sign_in(page, live_server, planner_email(CAU_GIAY), DEMO_PLANNER_PASSWORD)
    assert axe_violations(page, name="workspace-plans") == []
    plan_id = plan_of(demo, CAU_GIAY)
    browser_upload_scan(page, live_server, plan_id, "Tờ thử nghiệm trình duyệt", simulated.path)
    page.set_input_files("#import-form input[name=file]", str(simulated.points_path))
    page.click("#import-points")
    page.wait_for_selector("#points-table tbody tr td.residual")
    rows = page.locator("#points-table tbody tr")
    assert rows.count() == len(simulated.control_points)
    assert page.locator("#points-table td.residual").first.inner_text() != "–"
    page.wait_for_selector("#methods-table tr.chosen")
    chosen = page.inner_text("#chosen-method")
    assert chosen
    assert axe_violations(page, name="workspace-editor") == []
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
    # a vertex of the neatline dragged: saved at once
    api = page.get_attribute("#editor", "data-api")
    before = page.evaluate("u => fetch(u).then(r => r.json()).then(d => d.neatline)", api)
    vertex = page.locator(".neatline-vertex").nth(1)
    assert page.locator(".neatline-vertex").count() == 4
    vb = vertex.bounding_box()
    page.evaluate("document.getElementById('status').textContent = ''")
    page.mouse.move(vb["x"] + 5, vb["y"] + 5)
    page.mouse.down()
    page.mouse.move(vb["x"] + 15, vb["y"] + 20, steps=5)
    page.mouse.up()
    page.wait_for_selector("#status:has-text('Đã lưu khung')")
    after = page.evaluate("u => fetch(u).then(r => r.json()).then(d => d.neatline)", api)
    assert after != before and len(after) == len(before)
    page.click("#preview")
    page.wait_for_selector("img.warp-preview")
    page.fill("#opacity", "0.4")
    page.fill("#swipe", "0.5")  # the preview left of the middle, the reference map right of it
    page.dispatch_event("#swipe", "input")
    clip = page.eval_on_selector("img.warp-preview", "e => e.style.clipPath")
    assert clip.startswith("inset(0px") or clip.startswith("inset(0 "), clip
    page.fill("#swipe", "1")
    page.dispatch_event("#swipe", "input")
    assert page.eval_on_selector("img.warp-preview", "e => e.style.clipPath") == ""
    page.once("dialog", lambda d: d.accept())  # the confirmation before publishing
    page.click("#publish")  # queued as a job; the page polls it until the worker is done
    page.wait_for_selector("#status:has-text('Đã công bố')", timeout=300_000)
    page.screenshot(path=str(artifacts / "workspace-editor.png"), full_page=True)
    sheet_id = int(page.get_attribute("#editor", "data-sheet-id"))

    # The old public page opens the citizen's map with the sheet laid over it.
    page.goto(f"{live_server}/to-ban-do?to={sheet_id}")
    page.wait_for_function(f"() => document.getElementById('sheet').value === '{sheet_id}'")
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


HOSTILE = '<img src=x onerror="window.__xss=1">'


@pytest.fixture
def hostile_zones(demo):
    """Every zone of the Cầu Giấy plan labelled with markup for the test, then put back."""
    from sqlalchemy import text

    from planning_gis import db

    plan_id = plan_of(demo, CAU_GIAY)
    with db.session_scope(demo) as s:
        before = s.execute(text("SELECT id, label FROM land_use_zones WHERE plan_id = :p"),
                           {"p": plan_id}).all()
        s.execute(text("UPDATE land_use_zones SET label = :bad WHERE plan_id = :p"),
                  {"bad": HOSTILE, "p": plan_id})
    assert before, "the demo plan has zones"
    yield plan_id
    with db.session_scope(demo) as s:
        for zone_id, label in before:
            s.execute(text("UPDATE land_use_zones SET label = :l WHERE id = :i"),
                      {"l": label, "i": zone_id})


def test_labels_from_a_planner_are_text_for_the_admin(page, live_server, demo, simulated,
                                                      planner_client, hostile_zones):
    """A planner saves a control point and zones labelled with markup; the admin opening the
    editor sees the label as literal text and no script of it runs (issue 12, defect 3)."""
    c = planner_client
    resp = c.post(f"/quan-tri/do-an/{hostile_zones}/to-ban-do",
                  data={"csrf_token": c.csrf, "title": "Tờ có nhãn lạ",
                        "scan": (io.BytesIO(simulated.path.read_bytes()), "to-ban-do.png")},
                  content_type="multipart/form-data")
    assert resp.status_code == 303, resp.get_data(as_text=True)
    sheet_id = int(resp.headers["Location"].rstrip("/").split("/")[-1])
    p = simulated.control_points[0]
    resp = c.post(f"/quan-tri/api/to-ban-do/{sheet_id}/diem",
                  json={"pixel_x": p.pixel_x, "pixel_y": p.pixel_y, "x_north": p.northing,
                        "y_east": p.easting, "label": HOSTILE},
                  headers={"X-CSRF-Token": c.csrf})
    assert resp.status_code == 201 and resp.get_json()["points"][0]["label"] == HOSTILE

    from planning_gis.demo.accounts import DEMO_ADMIN

    browser_sign_in(page, live_server, *DEMO_ADMIN, path="/quan-tri/dang-nhap")
    page.goto(f"{live_server}/quan-tri/to-ban-do/{sheet_id}")
    page.wait_for_selector("#points-table tbody tr")
    assert page.inner_text("#points-table tbody tr td") == HOSTILE
    assert page.locator("#points-table img").count() == 0
    markers = page.locator("#scan-map .ws-label, #ref-map .ws-label")
    assert markers.count() == 2
    assert all(t == HOSTILE for t in markers.all_inner_texts())
    # the zones' tooltips on the reference map: open every one, read their text
    page.wait_for_selector("#ref-map path.leaflet-interactive", state="attached")
    page.evaluate("""() => document.querySelectorAll('#ref-map path.leaflet-interactive')
        .forEach((p) => p.dispatchEvent(new MouseEvent('mouseover', { bubbles: true })))""")
    page.wait_for_selector("#ref-map .leaflet-tooltip", state="attached")
    tips = page.locator("#ref-map .leaflet-tooltip").all_inner_texts()
    assert any(t.startswith(HOSTILE + " ") for t in tips), tips[:5]
    assert page.locator("#ref-map .leaflet-tooltip img, #editor img[src='x']").count() == 0
    page.wait_for_timeout(500)  # an injected <img src=x> would have failed to load by now
    assert page.evaluate("() => window.__xss") is None
    assert page.console_errors == []
