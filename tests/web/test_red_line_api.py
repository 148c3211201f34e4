"""``/api/citizen/red-line`` and the information sheet over the demo's ring road (50 m, 1-1)."""

from __future__ import annotations

import io
import json

import pytest
from pypdf import PdfReader
from sqlalchemy import text

pytestmark = pytest.mark.db

#: A point in the middle of the demo's road reserve, and one 30 m outside its red line.
POINTS_SQL = text("""
SELECT ST_X(i) AS in_lon, ST_Y(i) AS in_lat, ST_X(o) AS out_lon, ST_Y(o) AS out_lat,
       ST_AsGeoJSON(ST_Transform(plot, 4326), 8) AS plot, ST_Area(ST_Intersection(plot, r.reserve))
         AS cut_m2, ST_Area(plot) AS plot_m2
  FROM red_lines r,
       LATERAL ST_Centroid(ST_Intersection(r.reserve,
         ST_Buffer(ST_PointOnSurface(r.reserve), 10))) AS c,
       LATERAL ST_Transform(c, 4326) AS i,
       LATERAL ST_Transform(ST_Translate(c, 0, 60), 4326) AS o,
       LATERAL ST_Buffer(ST_Translate(c, 0, 25), 12, 'quad_segs=1') AS plot
 WHERE r.road_name LIKE 'Đường Vành đai 2,5%'
""")


@pytest.fixture
def road(engine, demo):
    with engine.connect() as c:
        return c.execute(POINTS_SQL).one()


def test_point_inside_the_reserve(client, road):
    r = client.get(f"/api/citizen/red-line?lon={road.in_lon}&lat={road.in_lat}")
    assert r.status_code == 200
    doc = r.get_json()
    assert doc["inside_reserve"] is True
    assert doc["road"]["road_name"].startswith("Đường Vành đai 2,5")
    assert doc["road"]["width_m"] == 50.0 and doc["road"]["cross_section"] == "1-1"
    assert doc["road"]["plan"]["decision"]["number"] == "4507/QĐ-UBND"
    assert 0 < doc["road"]["distance_m"] <= 25.5
    assert doc["road"]["geometry"]["reserve"] and doc["road"]["geometry"]["red_lines"]
    assert "NẰM TRONG" in doc["summary_vi"]
    assert doc["query"]["x_north"] > 2_000_000


def test_point_outside_the_reserve(client, road):
    doc = client.get(f"/api/citizen/red-line?lon={road.out_lon}&lat={road.out_lat}").get_json()
    assert doc["inside_reserve"] is False and doc["road"] is not None
    assert "ngoài chỉ giới đường đỏ" in doc["summary_vi"]


def test_plot_cut_by_the_road(client, road):
    r = client.post("/api/citizen/red-line", json=json.loads(road.plot))
    assert r.status_code == 200, r.get_json()
    doc = r.get_json()
    assert doc["cut_m2"] == pytest.approx(road.cut_m2, rel=0.01) and doc["cut_m2"] > 0
    assert doc["remaining_m2"] == pytest.approx(road.plot_m2 - road.cut_m2, rel=0.01)
    assert doc["cut"]["type"] in ("Polygon", "MultiPolygon")
    assert "BỊ CẮT" in doc["summary_vi"]


@pytest.mark.parametrize("query,status", [("lon=105.79", 400), ("lon=200&lat=21", 400),
                                          ("lon=105.79&lat=21.03&foo=1", 400)])
def test_bad_points_are_4xx_json(client, query, status):
    r = client.get(f"/api/citizen/red-line?{query}")
    assert r.status_code == status and r.get_json()["detail_vi"]


def test_bad_plot_is_4xx_json(client):
    r = client.post("/api/citizen/red-line", json={"type": "Point", "coordinates": [105.79, 21]})
    assert 400 <= r.status_code < 500 and r.get_json()["detail_vi"]


def _pdf_text(body: bytes) -> str:
    return " ".join(page.extract_text() for page in PdfReader(io.BytesIO(body)).pages)


def test_the_information_sheet_prints_the_red_line(client, road):
    r = client.get(f"/api/info-sheet.pdf?lon={road.in_lon}&lat={road.in_lat}")
    assert r.status_code == 200
    words = _pdf_text(r.data)
    assert "Chỉ giới đường đỏ" in words and "NẰM TRONG" in words and "4507/QĐ-UBND" in words


def test_the_plot_sheet_prints_the_m2_cut(client, road):
    r = client.post("/api/info-sheet.pdf", json=json.loads(road.plot))
    assert r.status_code == 200
    words = _pdf_text(r.data)
    assert "Diện tích trong chỉ giới đường đỏ" in words and "BỊ CẮT" in words
    assert "Diện tích còn lại" in words
