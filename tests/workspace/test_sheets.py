"""Sheets: content addressing, rotation, versions (publish, unpublish, restore), the tiles."""

import io

import pytest
from sqlalchemy import func, select

from planning_gis.models import AuditEntry, MapSheet, SheetVersion
from tests.workspace.conftest import CAU_GIAY, plan_of, publish_and_wait

pytestmark = pytest.mark.db


def _upload(c, plan_id, data, name="to.png"):
    resp = c.post(f"/quan-tri/do-an/{plan_id}/to-ban-do",
                  data={"csrf_token": c.csrf, "scan": (io.BytesIO(data), name)},
                  content_type="multipart/form-data", headers={"Accept": "application/json"})
    assert resp.status_code == 201, resp.get_data(as_text=True)
    return resp.get_json()["id"]


def test_same_file_twice_is_stored_once(planner_client, demo, simulated):
    plan_id = plan_of(demo, CAU_GIAY)
    data = simulated.path.read_bytes()
    a = _upload(planner_client, plan_id, data)
    b = _upload(planner_client, plan_id, data)
    assert a != b
    scans = [p for p in demo.scans_dir.rglob("*") if p.is_file()]
    names = [p.name for p in scans]
    assert len(names) == len(set(names))
    assert not [n for n in names if n.startswith(".")]


def test_versions_unpublish_and_restore(planner_client, demo, simulated, engine):
    c = planner_client
    sheet = _upload(c, plan_of(demo, CAU_GIAY), simulated.path.read_bytes())
    api = f"/quan-tri/api/to-ban-do/{sheet}"
    h = {"X-CSRF-Token": c.csrf}
    with open(simulated.points_path, "rb") as fh:
        assert c.post(api + "/nhap-diem", data={"file": (fh, "a.points"), "replace": "1"},
                      headers=h, content_type="multipart/form-data").status_code == 200
    assert publish_and_wait(c, api, demo)["result"]["version"] == 1
    first = c.get(api).get_json()["points"][0]
    moved = c.patch(api + f"/diem/{first['id']}", json={"enabled": False}, headers=h)
    assert moved.status_code == 200
    assert publish_and_wait(c, api, demo)["result"]["version"] == 2
    assert c.get(f"/tiles/sheets/{sheet}/tilejson.json").status_code == 200
    assert c.post(api + "/an", headers=h).get_json()["state"] == "georeferenced"
    assert c.get(f"/tiles/sheets/{sheet}/tilejson.json").status_code == 404
    restored = c.post(api + "/khoi-phuc/1", headers=h).get_json()
    assert restored == {"version": 1, "state": "published"}
    body = c.get(api).get_json()
    assert body["current_version"] == 1 and all(p["enabled"] for p in body["points"])
    versions = c.get(api + "/phien-ban").get_json()
    assert [v["version"] for v in versions] == [2, 1] and versions[1]["current"]
    with engine.connect() as conn:
        actions = set(conn.scalars(select(AuditEntry.action).where(
            AuditEntry.object_id == str(sheet))))
        assert {"sheet.upload", "point.import", "sheet.publish", "sheet.unpublish",
                "sheet.restore"} <= actions
        assert conn.scalar(select(func.count()).select_from(SheetVersion)
                           .where(SheetVersion.sheet_id == sheet)) == 2
        # Publishing goes through the same engine as the CLI: the neatline was looked for.
        report = conn.scalar(select(SheetVersion.report).where(SheetVersion.sheet_id == sheet)
                             .order_by(SheetVersion.version))
        assert {"traced", "used", "reason"} <= set(report["neatline"])


def test_rotation_before_points_and_bad_points(planner_client, demo, simulated, engine):
    c = planner_client
    sheet = _upload(c, plan_of(demo, CAU_GIAY), simulated.path.read_bytes())
    api = f"/quan-tri/api/to-ban-do/{sheet}"
    h = {"X-CSRF-Token": c.csrf}
    body = c.post(api + "/xoay", json={"quarter_turns": 1}, headers=h).get_json()
    assert (body["width"], body["height"]) == (simulated.height, simulated.width)
    assert c.get(f"/quan-tri/to-ban-do/{sheet}/anh/0/0/0.png").status_code == 200
    # A z/x/y that is not a number is the one tile rule's 400 (it was a bare abort(404)).
    bad_tile = c.get(f"/quan-tri/to-ban-do/{sheet}/anh/a/0/0.png")
    assert bad_tile.status_code == 400 and bad_tile.get_json()["code"] == "invalid_tile"
    assert c.get(f"{api}/diem.xyz").get_json()["code"] == "not_found"
    bad = c.post(api + "/diem", json={"pixel_x": 10, "pixel_y": 10, "x_north": 586000,
                                      "y_east": 2326000}, headers=h)
    assert bad.status_code == 400 and bad.get_json()["code"] == "outside_hanoi"
    ok = c.post(api + "/diem", json={"pixel_x": 10, "pixel_y": 10, "x_north": 2326000,
                                     "y_east": 586000}, headers=h)
    assert ok.status_code == 201
    assert c.post(api + "/xoay", json={"quarter_turns": 1}, headers=h).status_code == 409
    # X/Y typed as printed on the sheet: dots or spaces between thousands, a decimal comma
    printed = c.post(api + "/diem", json={"pixel_x": 40, "pixel_y": 30, "x_north": "2.326.050",
                                          "y_east": "586 050,5"}, headers=h)
    assert printed.status_code == 201, printed.get_data(as_text=True)
    pt = next(p for p in printed.get_json()["points"] if p["pixel_x"] == 40)
    assert (pt["x_north"], pt["y_east"]) == (2326050.0, 586050.5)
    junk = c.post(api + "/diem", json={"pixel_x": 50, "pixel_y": 30, "x_north": "2.326,050,1",
                                       "y_east": "586050"}, headers=h)
    assert junk.status_code == 400 and "như in trên bản đồ" in junk.get_json()["detail_vi"]
    with engine.connect() as conn:
        assert conn.scalar(select(MapSheet.state).where(MapSheet.id == sheet)) == "control_points"


def test_a_disabled_point_is_a_check_point_everywhere(planner_client, demo, simulated, engine):
    """Editor table, report, published sheet and /api/sheets all carry the check-point error."""
    c = planner_client
    sheet = _upload(c, plan_of(demo, CAU_GIAY), simulated.path.read_bytes())
    api = f"/quan-tri/api/to-ban-do/{sheet}"
    h = {"X-CSRF-Token": c.csrf}
    with open(simulated.points_path, "rb") as fh:
        assert c.post(api + "/nhap-diem", data={"file": (fh, "a.points"), "replace": "1"},
                      headers=h, content_type="multipart/form-data").status_code == 200
    pts = c.get(api).get_json()["points"]
    body = c.patch(api + f"/diem/{pts[4]['id']}", json={"enabled": False}, headers=h).get_json()
    check = next(p for p in body["points"] if p["id"] == pts[4]["id"])
    assert check["enabled"] is False and check["residual_m"] is not None
    assert check["loo_error_m"] is None
    rep = body["report"]
    assert rep["check_count"] == 1 and rep["check_points"][0]["id"] == pts[4]["id"]
    assert rep["check_rmse_m"] == pytest.approx(check["residual_m"], abs=1e-3)
    publish_and_wait(c, api, demo)
    with engine.connect() as conn:
        # the published fit may differ from the editor's (the neatline is traced at publish):
        # the public figure is the published fit's own check error
        published = conn.scalar(select(SheetVersion.report).where(SheetVersion.sheet_id == sheet))
        stored = conn.scalar(select(MapSheet.check_error_m).where(MapSheet.id == sheet))
    assert published["check_count"] == 1 and 0 < published["check_rmse_m"] < 5
    assert stored == pytest.approx(published["check_rmse_m"], abs=1e-3)
    listed = next(s for s in c.get("/api/sheets").get_json() if s["id"] == sheet)
    assert listed["accuracy"]["check_error_m"] == pytest.approx(stored, abs=1e-3)


def test_find_control_points_from_the_printed_grid(planner_client, demo, printed_grid, engine):
    """"Tìm điểm khống chế" fills the table from the printed grid; a second click adds none."""
    c = planner_client
    sheet = _upload(c, plan_of(demo, CAU_GIAY), printed_grid.path.read_bytes(), "luoi.png")
    api = f"/quan-tri/api/to-ban-do/{sheet}"
    h = {"X-CSRF-Token": c.csrf}
    resp = c.post(api + "/tim-diem", json={}, headers=h)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    body = resp.get_json()
    truth = {(round(p.easting), round(p.northing)) for p in printed_grid.control_points}
    assert body["detection"]["added"] >= 0.9 * len(truth)
    assert len(body["points"]) == body["detection"]["added"]
    assert {(round(p["easting"]), round(p["northing"])) for p in body["points"]} <= truth
    assert body["report"]["ok"] and body["report"]["loo_rmse_m"] < 1.0
    again = c.post(api + "/tim-diem", json={}, headers=h).get_json()
    assert again["detection"]["added"] == 0 and len(again["points"]) == len(body["points"])
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "point.detect", AuditEntry.object_id == str(sheet))) == 2


def test_find_control_points_on_a_sheet_without_grid(planner_client, demo):
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (500, 400), (250, 250, 245)).save(buf, "PNG")
    sheet = _upload(planner_client, plan_of(demo, CAU_GIAY), buf.getvalue(), "trang.png")
    resp = planner_client.post(f"/quan-tri/api/to-ban-do/{sheet}/tim-diem", json={},
                               headers={"X-CSRF-Token": planner_client.csrf})
    assert resp.status_code in (400, 422)
    body = resp.get_json()
    assert "lưới tọa độ" in body["detail_vi"]


def test_the_planners_method_is_saved_and_used_by_publish(planner_client, demo, simulated,
                                                           engine):
    """A manual choice of transformation is kept with the sheet: the report, then publish."""
    c = planner_client
    sheet = _upload(c, plan_of(demo, CAU_GIAY), simulated.path.read_bytes(), "phep-nan.png")
    api = f"/quan-tri/api/to-ban-do/{sheet}"
    h = {"X-CSRF-Token": c.csrf}
    assert c.post(api + "/nhap-diem", data={"file": (simulated.points_path.open("rb"), "p.points"),
                                            "replace": "1"},
                  headers=h, content_type="multipart/form-data").status_code == 200
    assert c.get(api).get_json()["method_choice"] == "auto"
    body = c.post(api + "/phep-nan", json={"method": "helmert"}, headers=h).get_json()
    assert body["method_choice"] == "helmert"
    assert body["report"]["method"] == "helmert" and body["report"]["requested"] == "helmert"
    assert "người dùng chọn Helmert" in body["report"]["reason_vi"]
    bad = c.post(api + "/phep-nan", json={"method": "spline"}, headers=h)
    assert bad.status_code == 400 and "Không có phép biến đổi" in bad.get_json()["detail_vi"]
    assert c.post(api + "/phep-nan", json={"method": 3}, headers=h).status_code == 400
    job = publish_and_wait(c, api, demo)
    assert job["state"] == "done" and job["result"]["method"] == "helmert"
    with engine.connect() as conn:
        assert conn.scalar(select(MapSheet.method_choice).where(MapSheet.id == sheet)) == "helmert"
        assert conn.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "sheet.method", AuditEntry.object_id == str(sheet))) == 1
    kept = c.post(api + "/xoa", headers=h)  # published once: withdrawn, never deleted
    assert kept.status_code == 409 and "Ngừng công bố" in kept.get_json()["detail_vi"]
    back = c.post(api + "/phep-nan", json={"method": "auto"}, headers=h).get_json()
    assert back["method_choice"] == "auto" and back["report"]["requested"] == "auto"


def test_a_refused_upload_comes_back_on_the_plan_page(planner_client, demo):
    """Not a full-page "Lỗi 400": the plan page, the reason beside the form, the title kept."""
    c = planner_client
    plan_id = plan_of(demo, CAU_GIAY)
    resp = c.post(f"/quan-tri/do-an/{plan_id}/to-ban-do",
                  data={"csrf_token": c.csrf, "title": "Tờ số <3> hỏng",
                        "scan": (io.BytesIO(b"this is not an image" * 50), "hong.png")},
                  content_type="multipart/form-data")
    assert resp.status_code == 400
    html = resp.get_data(as_text=True)
    assert 'id="upload-form"' in html and 'id="upload-error"' in html
    assert "Chưa tải lên được:" in html
    assert 'value="Tờ số &lt;3&gt; hỏng"' in html  # kept, as text
    missing = c.post(f"/quan-tri/do-an/{plan_id}/to-ban-do",
                     data={"csrf_token": c.csrf, "title": "Không có tệp"},
                     content_type="multipart/form-data")
    assert missing.status_code == 400 and "Hãy chọn tệp ảnh quét." in missing.get_data(as_text=True)
    as_json = c.post(f"/quan-tri/do-an/{plan_id}/to-ban-do",
                     data={"csrf_token": c.csrf,
                           "scan": (io.BytesIO(b"this is not an image" * 50), "hong.png")},
                     content_type="multipart/form-data", headers={"Accept": "application/json"})
    assert as_json.status_code == 400 and as_json.get_json()["detail_vi"]


def test_a_draft_sheet_can_be_deleted(planner_client, demo, simulated, engine):
    c = planner_client
    plan_id = plan_of(demo, CAU_GIAY)
    sheet = _upload(c, plan_id, simulated.path.read_bytes(), "nhap.png")
    api = f"/quan-tri/api/to-ban-do/{sheet}"
    h = {"X-CSRF-Token": c.csrf}
    assert c.post(api + "/diem", json={"pixel_x": 10, "pixel_y": 10, "x_north": "2 326 000",
                                       "y_east": "586 000"}, headers=h).status_code == 201
    assert c.post(api + "/xoa").status_code in (400, 403)  # no CSRF token
    resp = c.post(api + "/xoa", headers=h)
    assert resp.status_code == 200
    assert resp.get_json()["url"] == f"/quan-tri/do-an/{plan_id}"
    assert c.get(api).status_code == 404
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(MapSheet)
                           .where(MapSheet.id == sheet)) == 0
        assert conn.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "sheet.delete", AuditEntry.object_id == str(sheet))) == 1


def _unique_png(path, seed: int) -> bytes:
    """The simulated scan with a few pixels changed: a file no other test stored."""
    from PIL import Image

    img = Image.open(path).convert("RGB")
    for k in range(8):
        img.putpixel((5 + k, 5), (seed % 256, (seed >> 8) % 256, k))
    out = io.BytesIO()
    img.save(out, format="PNG", compress_level=1)
    return out.getvalue()


def test_a_deleted_drafts_scan_leaves_the_store_when_no_sheet_uses_it(
        planner_client, demo, simulated, engine):
    """The scan, its preview and thumbnail stay while another sheet uses the same file, go with
    the last one, and come back if the deleting transaction rolls back."""
    from sqlalchemy.orm import Session

    from planning_gis.models import User
    from planning_gis.workspace import sheets as S
    from planning_gis.workspace import uploads
    from tests.workspace.conftest import planner_email

    c = planner_client
    h = {"X-CSRF-Token": c.csrf}
    plan_id = plan_of(demo, CAU_GIAY)
    data = _unique_png(simulated.path, 4242)
    first = _upload(c, plan_id, data, "mot.png")
    second = _upload(c, plan_id, data, "hai.png")
    with engine.connect() as conn:
        sha, fmt = conn.execute(select(MapSheet.scan_sha256, MapSheet.scan_format)
                                .where(MapSheet.id == first)).one()
    files = [uploads.scan_path(demo, sha, fmt), uploads.preview_path(demo, sha),
             uploads.thumb_path(demo, sha)]
    assert all(f.exists() for f in files)

    assert c.post(f"/quan-tri/api/to-ban-do/{first}/xoa", headers=h).status_code == 200
    assert all(f.exists() for f in files)  # the second sheet still uses them

    # a delete that rolls back puts the files back
    with Session(engine) as s:
        user = s.scalars(select(User).where(User.email == planner_email(CAU_GIAY))).one()
        S.delete_draft(s, user, s.get(MapSheet, second), demo)
        assert not any(f.exists() for f in files)  # set aside until the commit
        s.rollback()
    assert all(f.exists() for f in files)
    leftovers = [p for p in files[0].parent.iterdir() if p.name.startswith(".deleted-")]
    assert leftovers == []

    assert c.post(f"/quan-tri/api/to-ban-do/{second}/xoa", headers=h).status_code == 200
    assert not any(f.exists() for f in files)
    assert not [p for p in files[0].parent.iterdir() if sha in p.name]
    with engine.connect() as conn:
        detail = conn.scalar(select(AuditEntry.detail).where(
            AuditEntry.action == "sheet.delete", AuditEntry.object_id == str(second)))
    assert detail["scan_removed"] is True and detail["sha256"] == sha
    # the same file uploaded again is stored afresh
    third = _upload(c, plan_id, data, "ba.png")
    assert all(f.exists() for f in files)
    assert c.post(f"/quan-tri/api/to-ban-do/{third}/xoa", headers=h).status_code == 200


def test_the_table_put_back_in_one_step(planner_client, demo, simulated):
    """The editor's undo of an import: the table as it was, in one request; a bad table is
    refused whole, in Vietnamese, and changes nothing."""
    c = planner_client
    plan_id = plan_of(demo, CAU_GIAY)
    sheet = _upload(c, plan_id, simulated.path.read_bytes(), "hoan-tac.png")
    api = f"/quan-tri/api/to-ban-do/{sheet}"
    h = {"X-CSRF-Token": c.csrf}
    typed = {"pixel_x": 12.5, "pixel_y": 20.25, "x_north": "2 326 000", "y_east": "586 000",
             "label": "A tay", "enabled": False}
    assert c.post(api + "/diem", json=typed, headers=h).status_code == 201
    before = [{k: p[k] for k in ("pixel_x", "pixel_y", "x_north", "y_east", "label", "enabled")}
              for p in c.get(api).get_json()["points"]]
    with open(simulated.points_path, "rb") as fh:
        imported = c.post(api + "/nhap-diem", data={"file": (fh, "a.points"), "replace": "1"},
                          headers=h, content_type="multipart/form-data").get_json()["points"]
    assert len(imported) == len(simulated.control_points)

    for bad in ({"points": "x"}, {"points": [1]}, {"points": [dict(typed, pixel_x=1e9)]},
                {"points": [dict(typed, x_north="hai")]}, {}):
        resp = c.put(api + "/diem", json=bad, headers=h)
        assert resp.status_code == 400 and resp.get_json()["detail_vi"], bad
    assert len(c.get(api).get_json()["points"]) == len(imported)
    assert c.put(api + "/diem", json={"points": before}).status_code in (400, 403)  # no CSRF

    back = c.put(api + "/diem", json={"points": before}, headers=h).get_json()["points"]
    assert [(p["pixel_x"], p["pixel_y"], p["northing"], p["easting"], p["label"], p["enabled"])
            for p in back] == [(12.5, 20.25, 2326000.0, 586000.0, "A tay", False)]
    assert c.put(api + "/diem", json={"points": []}, headers=h).get_json()["points"] == []
    assert c.post(api + "/xoa", headers=h).status_code == 200


def test_is_the_scan_still_used_reads_its_index(session, demo):
    """The question a draft's delete asks of its scan is answered from its index."""
    from sqlalchemy import text

    from planning_gis.workspace.sheets import SCAN_USED

    session.execute(text("SET LOCAL enable_seqscan = off"))
    plan = "\n".join(r[0] for r in session.execute(text("EXPLAIN " + SCAN_USED),
                                                   {"sha": "a" * 64}))
    assert "ix_map_sheets_scan_sha256" in plan, plan


def test_an_upload_racing_the_last_delete_of_its_scan_is_refused(
        planner_client, demo, simulated, engine):
    """An upload of the same file that reached the store while the last sheet using it was being
    deleted waits for the delete's lock, finds the file gone and is refused (upload again)
    rather than naming a file that is no longer there."""
    import threading

    from sqlalchemy.orm import Session

    from planning_gis.errors import EditConflict
    from planning_gis.models import User
    from planning_gis.workspace import sheets as S
    from planning_gis.workspace import uploads
    from tests.workspace.conftest import planner_email

    c = planner_client
    plan_id = plan_of(demo, CAU_GIAY)
    sheet = _upload(c, plan_id, _unique_png(simulated.path, 777), "dua.png")
    with engine.connect() as conn:
        sha, fmt, w, h = conn.execute(select(MapSheet.scan_sha256, MapSheet.scan_format,
                                             MapSheet.width, MapSheet.height)
                                      .where(MapSheet.id == sheet)).one()
    stored = uploads.StoredScan(sha, 1, fmt, w, h, uploads.scan_path(demo, sha, fmt),
                                uploads.preview_path(demo, sha), uploads.thumb_path(demo, sha))
    outcome: list[BaseException | None] = []
    deleting = Session(engine)
    user = deleting.scalars(select(User).where(User.email == planner_email(CAU_GIAY))).one()
    S.delete_draft(deleting, user, deleting.get(MapSheet, sheet), demo)  # holds the lock

    def upload_side() -> None:
        with Session(engine) as s:
            try:
                S._hold_scan(s, demo, stored)  # waits for the delete's commit
                outcome.append(None)
            except BaseException as exc:  # noqa: BLE001 - the test reads it
                outcome.append(exc)

    t = threading.Thread(target=upload_side)
    t.start()
    t.join(1.0)
    assert t.is_alive()  # waiting on the lock
    deleting.commit()
    deleting.close()
    t.join(30)
    assert len(outcome) == 1 and isinstance(outcome[0], EditConflict), outcome
    assert not stored.path.exists()
