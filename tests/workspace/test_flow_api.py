"""The whole path through the HTTP API (Flask test client, real PostGIS and rasters)."""

import io

import pytest

from tests.workspace.conftest import CAU_GIAY, HOAI_DUC, plan_of

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
    resp = c.post(api + "/cong-bo", headers={"X-CSRF-Token": c.csrf})
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert resp.get_json()["version"] == 1
    listed = c.get("/api/sheets").get_json()
    assert any(s["id"] == sheet_id and s["accuracy"]["rmse_m"] is not None for s in listed)


def test_other_districts_plan_is_forbidden(planner_client, demo):
    other = plan_of(demo, HOAI_DUC)
    assert planner_client.get(f"/quan-tri/do-an/{other}").status_code == 403
