"""The whole path through the HTTP API (Flask test client, real PostGIS and rasters)."""

import io

import pytest

from tests.workspace.conftest import CAU_GIAY, HOAI_DUC, plan_of, publish_and_wait

pytestmark = pytest.mark.db


def test_upload_points_mask_publish_and_public_tiles(planner_client, demo, simulated):
    c = planner_client
    plan_id = plan_of(demo, CAU_GIAY)
    data = simulated.path.read_bytes()
    resp = c.post(f"/quan-tri/do-an/{plan_id}/to-ban-do",
                  data={"csrf_token": c.csrf, "title": "Tờ 1",
                        "scan": (io.BytesIO(data), "to-ban-do.png")},
                  content_type="multipart/form-data")
    assert resp.status_code == 303, resp.get_data(as_text=True)
    sheet_id = int(resp.headers["Location"].rstrip("/").split("/")[-1])
    api = f"/quan-tri/api/to-ban-do/{sheet_id}"
    tile = c.get(f"/quan-tri/to-ban-do/{sheet_id}/anh/0/0/0.png")
    assert tile.status_code == 200 and tile.mimetype == "image/png"
    with open(simulated.points_path, "rb") as fh:
        resp = c.post(api + "/nhap-diem", data={"file": (fh, "to-ban-do.points"), "replace": "1"},
                      headers={"X-CSRF-Token": c.csrf}, content_type="multipart/form-data")
    assert resp.status_code == 200, resp.get_data(as_text=True)
    body = resp.get_json()
    assert body["report"]["ok"], body["report"]
    assert all(p["residual_m"] is not None for p in body["points"])
    resp = c.put(api + "/khung", json={"coordinates": [list(p) for p in simulated.neatline_pixels]},
                 headers={"X-CSRF-Token": c.csrf})
    assert resp.status_code == 200, resp.get_data(as_text=True)
    job = publish_and_wait(c, api, demo)
    assert job["state"] == "done", job
    assert job["result"]["version"] == 1 and job["progress"] == 1.0
    listed = c.get("/api/sheets").get_json()
    assert any(s["id"] == sheet_id and s["accuracy"]["rmse_m"] is not None for s in listed)


def test_other_districts_plan_is_forbidden(planner_client, demo):
    other = plan_of(demo, HOAI_DUC)
    assert planner_client.get(f"/quan-tri/do-an/{other}").status_code == 403


def test_publish_is_a_job_and_a_failed_job_changes_nothing(planner_client, demo, simulated):
    """Two points are too few for any fit: the request is accepted (202), the job fails with a
    Vietnamese message, no COG is left and the sheet is as it was."""
    from planning_gis.workspace import jobs

    c = planner_client
    plan_id = plan_of(demo, CAU_GIAY)
    resp = c.post(f"/quan-tri/do-an/{plan_id}/to-ban-do",
                  data={"csrf_token": c.csrf, "title": "Tờ hỏng",
                        "scan": (io.BytesIO(simulated.path.read_bytes()), "to-ban-do.png")},
                  content_type="multipart/form-data")
    sheet_id = int(resp.headers["Location"].rstrip("/").split("/")[-1])
    api = f"/quan-tri/api/to-ban-do/{sheet_id}"
    h = {"X-CSRF-Token": c.csrf}
    refused = c.post(api + "/cong-bo", headers=h)  # no points: refused at once, nothing queued
    assert refused.status_code == 400 and refused.get_json()["detail_vi"]
    for p in simulated.control_points[:2]:
        assert c.post(api + "/diem", json={"pixel_x": p.pixel_x, "pixel_y": p.pixel_y,
                                           "x_north": p.northing, "y_east": p.easting},
                      headers=h).status_code == 201
    before = c.get(api).get_json()
    cogs = set(demo.cogs_dir.glob("*")) if demo.cogs_dir.exists() else set()
    job = publish_and_wait(c, api, demo)
    assert job["state"] == "failed", job
    assert job["error"] and job["error_vi"] and job["state_vi"] == "Không thành công"
    assert job["result"] is None
    after = c.get(api).get_json()
    assert after["state"] == before["state"] and after["current_version"] is None
    assert (set(demo.cogs_dir.glob("*")) if demo.cogs_dir.exists() else set()) == cogs
    assert c.get(api + "/phien-ban").get_json() == []
    assert jobs.run_pending(demo) == 0  # a failed job is not retried on its own
    # the job's URL is checked like every other: unknown id -> 404, other district -> 403
    assert c.get("/quan-tri/api/cong-viec/999999").status_code == 404
    assert c.get("/quan-tri/api/cong-viec/abc").status_code == 404


def test_job_of_another_district_is_forbidden(planner_client, admin_client, demo, simulated):
    from planning_gis import db
    from planning_gis.models import Job, MapSheet, Plan

    with db.session_scope(demo) as s:
        plan = s.get(Plan, plan_of(demo, HOAI_DUC))
        sheet = MapSheet(plan_id=plan.id, title="x", scan_sha256="0" * 64, scan_size=1,
                         width=10, height=10, state="uploaded")
        s.add(sheet)
        s.flush()
        job = Job(kind="publish", sheet_id=sheet.id, params={}, state="queued", progress=0.0,
                  attempts=0)
        s.add(job)
        s.flush()
        job_id, sheet_id = job.id, sheet.id
    try:
        assert planner_client.get(f"/quan-tri/api/cong-viec/{job_id}").status_code == 403
        assert admin_client.get(f"/quan-tri/api/cong-viec/{job_id}").get_json()["state"] == \
            "queued"
    finally:
        with db.session_scope(demo) as s:
            s.delete(s.get(MapSheet, sheet_id))  # the job goes with it (ON DELETE CASCADE)
