"""The workspace shows what a new version of a plan's zones changes before it is imported, and
hands the report over as a standalone map file; nothing is written by either."""

from __future__ import annotations

import io
import json

import pytest
from sqlalchemy import text

from planning_gis import db

pytestmark = pytest.mark.db

ZONE_SQL = text("""
    SELECT z.plan_id, z.label, z.function_code, ST_AsGeoJSON(z.geom) AS g
      FROM land_use_zones z JOIN plans p ON p.id = z.plan_id
     WHERE p.status = 'amended' AND p.is_fictional AND z.function_code = 'TH'
     ORDER BY z.id LIMIT 1""")


def _file(demo):
    """The detailed plan's first school zone, turned back into housing: a one-zone version."""
    with db.session_scope(demo) as s:
        z = s.execute(ZONE_SQL).one()
    doc = {"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {
        "label": z.label, "function_code": "OM"}, "geometry": json.loads(z.g)}]}
    return z, json.dumps(doc).encode()


def _post(client, plan_id, body, action):
    return client.post(
        f"/quan-tri/do-an/{plan_id}/o-quy-hoach",
        data={"csrf_token": client.csrf, "action": action, "crs": "EPSG:5897", "replace": "1",
              "decision": "55/QĐ-UBND", "effective_on": "2025-01-02",
              "file": (io.BytesIO(body), "v3.geojson")},
        content_type="multipart/form-data")


def test_check_shows_the_changes_against_the_version_before(planner_client, demo):
    z, body = _file(demo)
    with db.session_scope(demo) as s:
        before = s.execute(text("SELECT count(*) FROM land_use_zones WHERE plan_id = :p"),
                           {"p": z.plan_id}).scalar()
    resp = _post(planner_client, z.plan_id, body, "check")
    page = resp.get_data(as_text=True)
    assert resp.status_code == 200, page
    assert 'id="zones-comparison"' in page and "Chưa ghi gì" in page
    assert f"ô {z.label} chuyển từ đất trường học sang đất ở mới" in page
    assert "(QĐ 55/QĐ-UBND ngày 02/01/2025)" in page
    with db.session_scope(demo) as s:
        after = s.execute(text("SELECT count(*) FROM land_use_zones WHERE plan_id = :p"),
                          {"p": z.plan_id}).scalar()
    assert after == before


def test_report_is_a_standalone_map_file(planner_client, demo):
    z, body = _file(demo)
    resp = _post(planner_client, z.plan_id, body, "report")
    assert resp.status_code == 200
    assert "attachment" in resp.headers["Content-Disposition"]
    page = resp.get_data(as_text=True)
    assert "Báo cáo nhập ô quy hoạch" in page and "cdn." not in page
