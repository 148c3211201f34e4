"""The citizen's endpoints through Flask over the real PostGIS demo: point, search box, PDF."""

from __future__ import annotations

import io

import pytest
from pypdf import PdfReader
from sqlalchemy import text

from planning_gis.citizen.find import parse_coordinates
from planning_gis.crs import lonlat_to_vn2000
from planning_gis.errors import InvalidInput, OutsideHanoi

pytestmark = pytest.mark.db

# A zone of the most detailed plan (a "chi tiết" plan governs wherever it lies).
DETAILED_ZONE_SQL = text(
    """
    SELECT z.id, z.label, z.plan_id, z.coverage_pct, z.floors_max, p.name AS plan_name,
           p.decision_number, ST_X(pt) AS lon, ST_Y(pt) AS lat
      FROM land_use_zones z JOIN plans p ON p.id = z.plan_id,
           LATERAL ST_Transform(ST_PointOnSurface(z.geom), 4326) AS pt
     WHERE p.kind = 'chi_tiet' AND z.function_code IN ('OM', 'HH', 'NO')
     ORDER BY z.area_m2 DESC LIMIT 1
    """
)


@pytest.fixture
def zone(engine, demo):
    with engine.connect() as c:
        return c.execute(DETAILED_ZONE_SQL).one()


def test_point_names_the_governing_zone_first_and_marks_superseded(client, zone):
    r = client.get(f"/api/citizen/point?lon={zone.lon}&lat={zone.lat}")
    assert r.status_code == 200
    info = r.get_json()
    assert info["zone"]["label"] == zone.label
    assert info["plans"][0]["governing"] and info["plans"][0]["id"] == zone.plan_id
    assert info["plans"][0]["decision"]["number"] == zone.decision_number
    assert info["plans"][0]["documents"], "the governing plan has its decision documents"
    superseded = [p for p in info["plans"] if p["status"] == "superseded"]
    assert all(p["superseded"] and not p["governing"] for p in superseded)
    assert info["point"]["x_north"] > 2_000_000 and info["share_url"].endswith(
        f"p={zone.lat:.6f}%2C{zone.lon:.6f}")


def test_point_by_vn2000_gives_the_same_zone(client, zone):
    e, n = lonlat_to_vn2000(zone.lon, zone.lat)
    r = client.get(f"/api/citizen/point?x_north={n}&y_east={e}")
    assert r.status_code == 200 and r.get_json()["zone"]["label"] == zone.label


@pytest.mark.parametrize(("query", "code"), [
    ("", "invalid_input"),
    ("lon=abc&lat=21", "invalid_input"),
    ("lon=21.03&lat=105.8", "outside_hanoi"),
    ("x_north=586513&y_east=2326256", "outside_hanoi"),
    ("lon=nan&lat=21", "invalid_input"),
])
def test_bad_points_are_json_400_in_both_languages(client, query, code):
    for path in ("/api/citizen/point", "/api/info-sheet.pdf"):
        r = client.get(f"{path}?{query}")
        assert r.status_code == 400, (path, query)
        doc = r.get_json()
        assert doc["code"] == code and doc["detail"] and doc["detail_vi"]


def test_search_box_reads_vn2000_in_the_vietnamese_order(client):
    r = client.get("/api/citizen/find", query_string={"q": "X=2326256.8 Y=586513.4"})
    c = r.get_json()["coordinates"]
    assert c["system"] == "vn2000" and abs(c["lon"] - 105.8342) < 1e-4 and abs(c["lat"] - 21.0278) < 1e-4
    assert "X (Bắc)" in c["reading_vi"]


def test_search_box_explains_a_swapped_pair_instead_of_guessing(client):
    r = client.get("/api/citizen/find", query_string={"q": "586513.4 2326256.8"})
    assert r.status_code == 400
    doc = r.get_json()
    assert doc["code"] == "outside_hanoi" and "đảo" in doc["detail_vi"]


def test_search_box_finds_words_without_diacritics(client):
    r = client.get("/api/citizen/find", query_string={"q": "khu do thi"})
    assert r.status_code == 200
    doc = r.get_json()
    assert doc["coordinates"] is None
    assert any("Khu đô thị" in hit["title"] for hit in doc["results"])


@pytest.mark.parametrize(("raw", "system"), [
    ("105.8342, 21.0278", "lonlat"), ("105,8342 21,0278", "lonlat"),
    ("lat=21.0278 lon=105.8342", "lonlat"), ("2326256,8 586513,4", "vn2000"),
    ("y=586513.4; x=2326256.8", "vn2000"),
])
def test_coordinate_forms(raw, system):
    reading = parse_coordinates(raw)
    assert reading is not None and reading.system == system
    assert abs(reading.point.lon - 105.8342) < 1e-3 and abs(reading.point.lat - 21.0278) < 1e-3


@pytest.mark.parametrize("raw", ["khu do thi", "1259/QĐ-TTg", "108 1998", "C.3-2"])
def test_words_and_numbers_are_not_coordinates(raw):
    assert parse_coordinates(raw) is None


def test_mixed_pair_and_far_pair_are_refused():
    with pytest.raises(InvalidInput):
        parse_coordinates("105.83 2326256")
    with pytest.raises(OutsideHanoi):
        parse_coordinates("2.35, 48.85")


def test_info_sheet_pdf_reads_back(client, zone):
    r = client.get(f"/api/info-sheet.pdf?lon={zone.lon}&lat={zone.lat}")
    assert r.status_code == 200 and r.mimetype == "application/pdf"
    reader = PdfReader(io.BytesIO(r.data))
    body = "\n".join(page.extract_text() for page in reader.pages)
    assert "PHIẾU THÔNG TIN QUY HOẠCH" in body
    assert "không có giá trị pháp lý" in body
    assert zone.label in body and zone.decision_number in body
    assert "Dữ liệu cập nhật đến" in body and "Độ chính xác bản vẽ" in body
    assert reader.pages[0].images, "the map snapshot is embedded"


def test_published_sheets_list_is_json(client):
    r = client.get("/api/citizen/sheets")
    assert r.status_code == 200 and isinstance(r.get_json(), list)
