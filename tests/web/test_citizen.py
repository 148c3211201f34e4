"""The citizen's endpoints through Flask over the real PostGIS demo: point, search box, PDF."""

from __future__ import annotations

import io
import re

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


def test_lookup_names_the_governing_zone_first_and_marks_superseded(client, zone):
    """The panel's "what is planned here" is the serving layer's /api/lookup."""
    r = client.get(f"/api/lookup?lon={zone.lon}&lat={zone.lat}")
    assert r.status_code == 200
    info = r.get_json()
    governing = info["plans"][0]
    assert governing["governing"] and governing["id"] == zone.plan_id
    assert governing["zones"][0]["label"] == zone.label
    assert governing["decision"]["number"] == zone.decision_number
    assert governing["documents"], "the governing plan has its decision documents"
    superseded = [p for p in info["plans"] if p["status"]["code"] == "superseded"]
    assert all(p["superseded"] and not p["governing"] for p in superseded)
    assert info["query"]["x_north"] > 2_000_000


def test_place_gives_units_data_date_and_share_link(client, zone):
    r = client.get(f"/api/citizen/place?lon={zone.lon}&lat={zone.lat}")
    assert r.status_code == 200
    doc = r.get_json()
    assert doc["units"] and all(u["name"] for u in doc["units"])
    assert doc["data_date"] and doc["share_url"].endswith(f"p={zone.lat!r}%2C{zone.lon!r}")


def test_duplicate_point_endpoint_is_gone(client, zone):
    r = client.get(f"/api/citizen/point?lon={zone.lon}&lat={zone.lat}")
    assert r.status_code == 404 and r.get_json()["detail_vi"]


def test_lookup_by_vn2000_gives_the_same_zone(client, zone):
    e, n = lonlat_to_vn2000(zone.lon, zone.lat)
    r = client.get(f"/api/lookup?x_north={n}&y_east={e}")
    assert r.status_code == 200 and r.get_json()["plans"][0]["zones"][0]["label"] == zone.label


@pytest.mark.parametrize(("query", "code"), [
    ("", "invalid_input"),
    ("lon=abc&lat=21", "invalid_input"),
    ("lon=21.03&lat=105.8", "outside_hanoi"),
    ("x_north=586513&y_east=2326256", "outside_hanoi"),
    ("lon=nan&lat=21", "invalid_input"),
])
def test_bad_points_are_json_400_in_both_languages(client, query, code):
    for path in ("/api/lookup", "/api/citizen/place", "/api/info-sheet.pdf"):
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
    assert "Dữ liệu cập nhật đến" in body and "Sai số nắn tờ bản đồ quét" in body
    assert reader.pages[0].images, "the map snapshot is embedded"


TRACED_ZONE_SQL = text(
    """
    SELECT z.label, z.sheet_id, s.check_error_m, s.loo_rmse_m, ST_X(pt) AS lon, ST_Y(pt) AS lat
      FROM land_use_zones z JOIN plans p ON p.id = z.plan_id
      JOIN map_sheets s ON s.id = z.sheet_id,
           LATERAL ST_Transform(ST_PointOnSurface(z.geom), 4326) AS pt
     WHERE p.kind = 'chi_tiet' AND s.state = 'published'
     ORDER BY z.area_m2 DESC LIMIT 1
    """
)


def test_info_sheet_shows_the_accuracy_of_the_sheet_a_zone_was_traced_from(client, engine, demo):
    with engine.connect() as c:
        z = c.execute(TRACED_ZONE_SQL).one()
    assert z.check_error_m is not None, "the demo's sheets carry an independent check error"
    look = client.get(f"/api/lookup?lon={z.lon}&lat={z.lat}").get_json()
    acc = look["plans"][0]["zones"][0]["accuracy"]
    assert acc["sheet_id"] == z.sheet_id and acc["basis"] == "check_points"
    r = client.get(f"/api/info-sheet.pdf?lon={z.lon}&lat={z.lat}")
    body = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(r.data)).pages)
    assert f"± {z.check_error_m:.1f}".replace(".", ",") in body
    assert "điểm kiểm tra độc lập" in body


def test_one_list_of_published_sheets_with_tiles_and_accuracy(client, demo):
    assert client.get("/api/citizen/sheets").status_code == 404
    r = client.get("/api/sheets")
    assert r.status_code == 200
    rows = r.get_json()
    assert len(rows) >= 2
    for s in rows:
        assert s["tiles"] == f"/tiles/sheets/{s['id']}/{{z}}/{{x}}/{{y}}.png"
        assert "check_error_m" in s["accuracy"] and len(s["bounds"]) == 4
    # The demo's sheets have independent check points (a sheet another test publishes may not).
    assert sum(s["accuracy"]["check_error_m"] is not None for s in rows) >= 2


def test_old_public_sheet_page_opens_the_citizen_map_with_the_sheet(client, demo):
    rows = client.get("/api/sheets").get_json()
    r = client.get(f"/to-ban-do?to={rows[-1]['id']}")
    assert r.status_code == 302 and r.headers["Location"].startswith("/#")
    assert f"&s={rows[-1]['id']}&" in r.headers["Location"]
    missing = client.get("/to-ban-do?to=999999")
    assert missing.status_code == 404 and missing.get_json()["detail_vi"]


# A 60 m × 40 m plot in the middle of the detailed plan, given as VN-2000 corners (EPSG:5897),
# with the zones of that plan covering it entirely (checked, so that the shares must sum to 100 %).
PLOT_SQL = text(
    """
    SELECT p.id AS plan_id, ST_X(c) AS e, ST_Y(c) AS n,
           ST_Covers((SELECT ST_Union(z.geom) FROM land_use_zones z WHERE z.plan_id = p.id),
                     ST_Expand(c, 30)) AS covered
      FROM plans p, LATERAL ST_PointOnSurface(p.geom) AS c
     WHERE p.kind = 'chi_tiet' ORDER BY p.id LIMIT 1
    """
)


@pytest.fixture
def plot(engine, demo):
    with engine.connect() as c:
        row = c.execute(PLOT_SQL).one()
    assert row.covered, "the detailed plan's zones cover the test plot"
    e, n = row.e, row.n
    ring = [[e - 30, n - 20], [e + 30, n - 20], [e + 30, n + 20], [e - 30, n + 20], [e - 30, n - 20]]
    return row.plan_id, {"type": "Polygon", "coordinates": [ring]}


def _percent(text_: str) -> float:
    return float(text_.replace(" ", "").replace(",", "."))


def test_plot_information_sheet_lists_each_zones_share(client, plot):
    plan_id, geometry = plot
    look = client.post("/api/lookup?crs=5897", json=geometry).get_json()
    governing = next(p for p in look["plans"] if p["governing"])
    assert governing["id"] == plan_id and len(governing["zones"]) >= 2, "the plot crosses zones"
    r = client.post("/api/info-sheet.pdf?crs=5897", json=geometry)
    assert r.status_code == 200 and r.mimetype == "application/pdf"
    reader = PdfReader(io.BytesIO(r.data))
    body = "\n".join(page.extract_text() for page in reader.pages)
    assert "Các ô quy hoạch trong thửa đất" in body and "2 400,0 m²" in body
    section = body.split("Đồ án áp dụng:")[1].split("Cộng")
    rows, total = section[0], section[1][:40]
    shares = [_percent(m) for m in re.findall(r"(\d+,\d) %", rows)]
    assert len(shares) == len(governing["zones"])
    assert sum(shares) == pytest.approx(100, abs=0.3)
    assert _percent(re.findall(r"(\d+,\d) %", total)[0]) == pytest.approx(100, abs=0.1)
    for z in governing["zones"]:
        assert z["label"] in rows and f"{z['share_pct']:.1f}".replace(".", ",") + " %" in rows
    assert reader.pages[0].images, "the map snapshot with the plot is embedded"


@pytest.mark.parametrize(("body", "query", "code"), [
    ({"type": "Point", "coordinates": [105.8, 21.0]}, "", "invalid_geometry"),
    ({"type": "Polygon", "coordinates": [[[2.3, 48.8], [2.31, 48.8], [2.31, 48.81], [2.3, 48.8]]]},
     "", "outside_hanoi"),
    ({"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]}, "",
     "invalid_geometry"),
    ({"type": "Polygon", "coordinates": [[[105.8, 21.0], [105.81, 21.0], [105.81, 21.01],
                                          [105.8, 21.0]]]}, "?crs=3857", "invalid_input"),
    ("not json", "", "invalid_geometry"),
])
def test_bad_plots_are_json_400_in_both_languages(client, body, query, code):
    r = client.post(f"/api/info-sheet.pdf{query}", json=body)
    assert r.status_code == 400, r.get_data(as_text=True)[:200]
    doc = r.get_json()
    assert doc["code"] == code and doc["detail"] and doc["detail_vi"]
