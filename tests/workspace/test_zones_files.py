"""Zones from files: legacy encodings, column mapping, the validation report, all or nothing."""

import io
import json

import pyogrio
import pytest
from shapely.geometry import Polygon, box
from sqlalchemy import func, select, text

from planning_gis.errors import PlanningError
from planning_gis.models import LandUseZone, Plan
from planning_gis.text_encodings import cp1258_encode, tcvn3_encode, to_unicode
from planning_gis.zones_import import check_zones, import_zones

pytestmark = pytest.mark.db
E0, N0 = 590000.0, 2330000.0


@pytest.fixture
def plan(session):
    p = Plan(name="Đồ án thử nhập ô", kind="chi_tiet", status="draft")
    session.add(p)
    session.flush()
    return p



def _shapefile(tmp_path, labels: list[bytes], cpg=None):
    """A Shapefile whose label bytes are exactly ``labels`` (a legacy encoding): written with
    ASCII placeholders of the same length, which are then replaced in the .dbf."""
    import numpy as np

    n = len(labels)
    geoms = np.array([box(E0 + i * 60, N0, E0 + i * 60 + 50, N0 + 50).wkb for i in range(n)],
                     dtype=object)
    placeholders = [chr(ord("A") + i) * len(b) for i, b in enumerate(labels)]
    path = tmp_path / "zones.shp"
    fields = [np.array(["OM"] * n, dtype=object), np.array(placeholders, dtype=object)]
    pyogrio.raw.write(path, geoms, fields, ["MA_CN", "TEN"], driver="ESRI Shapefile",
                      geometry_type="Polygon", crs="EPSG:5897")
    dbf = tmp_path / "zones.dbf"
    data = dbf.read_bytes()
    for ph, b in zip(placeholders, labels, strict=True):
        data = data.replace(ph.encode("ascii"), b, 1)
    dbf.write_bytes(data)
    (tmp_path / "zones.cpg").unlink(missing_ok=True)
    if cpg is not None:
        (tmp_path / "zones.cpg").write_text(cpg)
    return path


def test_tcvn3_table():
    assert to_unicode(tcvn3_encode("Ô đất ở Cầu Giấy").decode("latin1"), "tcvn3") == \
        "Ô đất ở Cầu Giấy"


def test_cp1258_shapefile_with_cpg_is_read_as_unicode(session, plan, tmp_path):
    raw = [cp1258_encode(t) for t in ("Ô ở Cầu Giấy 1", "Trường học 2")]
    path = _shapefile(tmp_path, raw, cpg="1258")
    result = import_zones(session, path, plan.id, mapping={"label": "TEN", "function_code": "MA_CN"})
    assert result.inserted == 2
    labels = sorted(session.scalars(select(LandUseZone.label).where(LandUseZone.plan_id == plan.id)))
    assert labels == ["Trường học 2", "Ô ở Cầu Giấy 1"]


def test_tcvn3_shapefile_needs_the_encoding_named(session, plan, tmp_path):
    path = _shapefile(tmp_path, [tcvn3_encode("Nhà ở thấp tầng")])
    import_zones(session, path, plan.id, mapping={"label": "TEN", "function_code": "MA_CN"},
                 encoding="tcvn3")
    assert session.scalars(select(LandUseZone.label).where(LandUseZone.plan_id == plan.id)).one() \
        == "Nhà ở thấp tầng"


def test_report_names_every_problem_and_nothing_is_written(session, plan, tmp_path):
    bow = Polygon([(E0, N0), (E0 + 50, N0 + 50), (E0 + 50, N0), (E0, N0 + 50)])
    feats = [
        {"geometry": bow, "props": {"label": "A1", "function_code": "OM"}},
        {"geometry": box(E0 + 100, N0, E0 + 150, N0 + 50), "props": {"label": "A2", "function_code": "ZZ"}},
        {"geometry": box(E0 + 200, N0, E0 + 250, N0 + 50), "props": {"label": "A3", "function_code": "CX"}},
        {"geometry": box(E0 + 240, N0, E0 + 290, N0 + 50), "props": {"label": "A4", "function_code": "CX"}},
    ]
    doc = {"type": "FeatureCollection", "crs": {"type": "name", "properties": {"name": "EPSG:5897"}},
           "features": [{"type": "Feature", "id": i + 1, "properties": f["props"],
                         "geometry": f["geometry"].__geo_interface__} for i, f in enumerate(feats)]}
    path = tmp_path / "z.geojson"
    path.write_text(json.dumps(doc), encoding="utf-8")
    _rows, report = check_zones(session, path, plan.id, repair=True)
    kinds = sorted(p.kind for p in report.problems)
    assert kinds == ["overlap", "repaired", "unknown_code"]
    assert not report.ok
    with pytest.raises(PlanningError, match="unknown land-use function code"):
        import_zones(session, path, plan.id, repair=True)
    assert session.scalar(select(func.count()).select_from(LandUseZone)
                          .where(LandUseZone.plan_id == plan.id)) == 0


def test_dxf_closed_polylines_become_zones(session, plan, tmp_path):
    import numpy as np

    ring = box(E0, N0, E0 + 40, N0 + 40).exterior
    path = tmp_path / "z.dxf"
    pyogrio.raw.write(path, np.array([ring.wkb], dtype=object), [np.array(["OM"], dtype=object)],
                      ["Layer"], driver="DXF", geometry_type="LineString")
    result = import_zones(session, path, plan.id, crs="EPSG:5897",
                          mapping={"label": "Layer", "function_code": "Layer"})
    assert result.inserted == 1


def test_zones_page_reports_in_vietnamese(planner_client, demo, tmp_path):
    from tests.workspace.conftest import CAU_GIAY, plan_of

    plan_id = plan_of(demo, CAU_GIAY)
    doc = {"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {
        "label": "X1", "function_code": "QQ"}, "geometry": box(E0, N0, E0 + 5, N0 + 5).__geo_interface__}]}
    resp = planner_client.post(
        f"/quan-tri/do-an/{plan_id}/o-quy-hoach",
        data={"csrf_token": planner_client.csrf, "action": "import", "crs": "EPSG:5897",
              "file": (io.BytesIO(json.dumps(doc).encode()), "z.geojson")},
        content_type="multipart/form-data")
    assert resp.status_code == 422
    assert "mã chức năng" in resp.get_data(as_text=True)
    with __import__("planning_gis.db", fromlist=["x"]).session_scope(demo) as s:
        assert s.execute(text("SELECT count(*) FROM land_use_zones WHERE label='X1'")).scalar() == 0


# --- limits: bytes, features, vertices per feature, zip members and unpacked bytes ------------

def _collection(path, geoms, code="OM"):
    doc = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"label": f"L{i}", "function_code": code},
         "geometry": g.__geo_interface__} for i, g in enumerate(geoms)]}
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def _boxes(n):
    return [box(E0 + i * 60, N0, E0 + i * 60 + 50, N0 + 50) for i in range(n)]


def test_too_many_features_is_refused(session, plan, tmp_path):
    from planning_gis.errors import TooLarge
    from planning_gis.safe_files import ZoneFileLimits

    path = _collection(tmp_path / "many.geojson", _boxes(6))
    with pytest.raises(TooLarge, match="at most 5 are imported"):
        check_zones(session, path, plan.id, "EPSG:5897", limits=ZoneFileLimits(max_features=5))
    # DXF does not count its features up front: the read itself stops past the limit
    import numpy as np

    dxf = tmp_path / "many.dxf"
    pyogrio.raw.write(dxf, np.array([b.exterior.wkb for b in _boxes(6)], dtype=object),
                      [np.array(["OM"] * 6, dtype=object)], ["Layer"], driver="DXF",
                      geometry_type="LineString")
    with pytest.raises(TooLarge, match="at most 5 are imported"):
        check_zones(session, dxf, plan.id, "EPSG:5897", limits=ZoneFileLimits(max_features=5),
                    mapping={"label": "Layer", "function_code": "Layer"})
    assert check_zones(session, path, plan.id, "EPSG:5897",
                       limits=ZoneFileLimits(max_features=6))[1].ok


def test_a_zone_with_too_many_vertices_is_rejected(session, plan, tmp_path):
    from shapely.geometry import Point

    from planning_gis.safe_files import ZoneFileLimits

    round_zone = Point(E0 + 500, N0 + 500).buffer(40, quad_segs=300)  # 1201 vertices
    path = _collection(tmp_path / "round.geojson", [*_boxes(2), round_zone])
    limits = ZoneFileLimits(max_vertices=1000)
    _rows, report = check_zones(session, path, plan.id, "EPSG:5897", limits=limits)
    assert [p.kind for p in report.rejected] == ["too_many_vertices"]
    assert "1,201 vertices" in report.rejected[0].message
    with pytest.raises(PlanningError, match="vertices"):
        import_zones(session, path, plan.id, "EPSG:5897", limits=limits)
    assert session.scalar(select(func.count()).select_from(LandUseZone)
                          .where(LandUseZone.plan_id == plan.id)) == 0


def test_a_file_over_the_byte_limit_is_refused(session, plan, tmp_path):
    from planning_gis.errors import TooLarge
    from planning_gis.safe_files import ZoneFileLimits

    path = _collection(tmp_path / "big.geojson", _boxes(40))
    with pytest.raises(TooLarge, match="larger than"):
        check_zones(session, path, plan.id, "EPSG:5897",
                    limits=ZoneFileLimits(max_bytes=path.stat().st_size - 1))


def _zipped_shapefile(tmp_path, extra: dict[str, bytes]):
    import zipfile

    shp = _shapefile(tmp_path, [b"Khu A"])
    target = tmp_path / "zones.zip"
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as z:
        for part in sorted(tmp_path.glob("zones.*")):
            if part.suffix != ".zip":
                z.write(part, part.name)
        for name, data in extra.items():
            z.writestr(name, data)
    return shp, target


def test_zip_member_count_is_bounded(session, plan, tmp_path):
    from planning_gis.errors import TooLarge
    from planning_gis.safe_files import ZoneFileLimits

    _shp, path = _zipped_shapefile(tmp_path, {f"meta{i}.xml": b"<x/>" for i in range(10)})
    with pytest.raises(TooLarge, match="members"):
        check_zones(session, path, plan.id, mapping={"label": "TEN", "function_code": "MA_CN"},
                    limits=ZoneFileLimits(max_zip_members=8))


def test_zip_bomb_is_refused_before_it_is_unpacked(session, plan, tmp_path):
    from planning_gis.errors import TooLarge
    from planning_gis.safe_files import ZoneFileLimits

    # 64 MB of zeros deflate to about 64 kB
    _shp, path = _zipped_shapefile(tmp_path, {"zones.shp.xml": bytes(64 * 2**20)})
    assert path.stat().st_size < 1 * 2**20
    with pytest.raises(TooLarge, match="unpacks to more than"):
        check_zones(session, path, plan.id, mapping={"label": "TEN", "function_code": "MA_CN"},
                    limits=ZoneFileLimits(max_zip_bytes=16 * 2**20))
    # within the limit the same zip imports (its .shp.xml is metadata GDAL ignores)
    rows, report = check_zones(session, path, plan.id,
                               mapping={"label": "TEN", "function_code": "MA_CN"})
    assert report.ok and len(rows) == 1
