"""The CLI: one-line errors, non-zero exits, and the database exactly as before on failure."""

import json
import os
import subprocess
import sys

import pytest
from sqlalchemy import text

from planning_gis import db
from planning_gis.settings import PROJECT_ROOT
from tests.conftest import scratch_plan

pytestmark = pytest.mark.db

E0, N0 = 582100.0, 2326100.0


def run_cli(*args, settings):
    env = dict(os.environ, PLANNING_DATABASE_URL=settings.database_url,
               PLANNING_DATA_DIR=settings.data_dir)
    return subprocess.run([sys.executable, "import_maps.py", *args], cwd=PROJECT_ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def _features(*rings, props=None, crs="EPSG:5897"):
    feats = []
    for i, ring in enumerate(rings):
        p = {"label": f"Z-{i}", "function_code": "OM", "mat_do": 40, "tang_min": 3,
             "tang_max": 9}
        p.update((props or {}).get(i, {}))
        feats.append({"type": "Feature", "properties": p,
                      "geometry": {"type": "Polygon", "coordinates": [ring]}})
    doc = {"type": "FeatureCollection", "features": feats}
    if crs:
        doc["crs"] = {"type": "name", "properties": {"name": f"urn:ogc:def:crs:{crs.replace(':', '::')}"}}
    return doc


def _square(dx=0.0):
    x, y = E0 + dx, N0
    return [[x, y], [x + 50, y], [x + 50, y + 50], [x, y + 50], [x, y]]


@pytest.fixture
def plan_id(demo):
    with scratch_plan(demo, "Kế hoạch kiểm thử CLI") as pid:
        yield pid


def _zone_count(settings, pid):
    with db.session_scope(settings) as s:
        return s.execute(text("SELECT count(*) FROM land_use_zones WHERE plan_id=:p"),
                         {"p": pid}).scalar()


def test_good_file_is_imported(tmp_path, demo, plan_id):
    path = tmp_path / "zones.geojson"
    path.write_text(json.dumps(_features(_square(), _square(60))), encoding="utf-8")
    result = run_cli("zones", str(path), "--plan", str(plan_id), settings=demo)
    assert result.returncode == 0, result.stderr
    assert "imported 2 zones" in result.stdout
    assert _zone_count(demo, plan_id) == 2


def test_wgs84_file_is_reprojected_with_the_datum_shift(tmp_path, demo, plan_id):
    ring = [[105.79, 21.03], [105.7905, 21.03], [105.7905, 21.0305], [105.79, 21.0305], [105.79, 21.03]]
    path = tmp_path / "wgs.geojson"
    path.write_text(json.dumps(_features(ring, crs=None)), encoding="utf-8")
    result = run_cli("zones", str(path), "--plan", str(plan_id), settings=demo)
    assert result.returncode == 0, result.stderr
    with db.session_scope(demo) as s:
        lon, lat = s.execute(text(
            "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_Transform(ST_PointN(ST_ExteriorRing("
            "ST_GeometryN(geom, 1)), 1), 4326) p FROM land_use_zones WHERE plan_id=:p) q"),
            {"p": plan_id}).one()
    assert lon == pytest.approx(105.79, abs=1e-6) and lat == pytest.approx(21.03, abs=1e-6)


@pytest.mark.parametrize(
    "case,expect",
    [
        ("missing", "file not found"),
        ("unknown_crs", "unknown CRS"),
        ("invalid_geometry", "invalid geometry"),
        ("unknown_code", "unknown land-use function code"),
        ("coverage", "coverage_range"),
        ("not_gis", "cannot read"),
    ],
)
def test_bad_inputs_fail_in_one_line_and_change_nothing(tmp_path, demo, plan_id, case, expect):
    path = tmp_path / "zones.geojson"
    extra = []
    if case == "missing":
        path = tmp_path / "nope.geojson"
    elif case == "unknown_crs":
        path.write_text(json.dumps(_features(_square())), encoding="utf-8")
        extra = ["--crs", "EPSG:99999"]
    elif case == "invalid_geometry":
        bow = [[E0, N0], [E0 + 50, N0 + 50], [E0 + 50, N0], [E0, N0 + 50], [E0, N0]]
        path.write_text(json.dumps(_features(_square(), bow)), encoding="utf-8")
    elif case == "unknown_code":
        path.write_text(json.dumps(_features(_square(), _square(60),
                                             props={1: {"function_code": "ZZ"}})), encoding="utf-8")
    elif case == "coverage":
        # passes the file checks; the database's CHECK constraint refuses the second row
        path.write_text(json.dumps(_features(_square(), _square(60),
                                             props={1: {"mat_do": 140}})), encoding="utf-8")
    elif case == "not_gis":
        path.write_text("this is not GeoJSON", encoding="utf-8")
    result = run_cli("zones", str(path), "--plan", str(plan_id), *extra, settings=demo)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), result.stderr
    assert expect in lines[0]
    assert _zone_count(demo, plan_id) == 0


def test_unknown_plan(tmp_path, demo):
    path = tmp_path / "z.geojson"
    path.write_text(json.dumps(_features(_square())), encoding="utf-8")
    result = run_cli("zones", str(path), "--plan", "999999", settings=demo)
    assert result.returncode == 2 and "plan 999999 does not exist" in result.stderr


def test_bad_migration_revision_is_one_line(demo):
    result = run_cli("db", "upgrade", "nonsense", settings=demo)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "nonsense" in result.stderr
