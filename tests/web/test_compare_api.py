"""/api/compare, a zone's history, the zoning on a past date and the changes at a point, on the
tiny demo (whose detailed plan carries the 2021 local adjustment)."""

from __future__ import annotations

import csv
import io
import re

import pytest
from sqlalchemy import text

from planning_gis.crs import vn2000_to_lonlat

pytestmark = pytest.mark.db


@pytest.fixture(scope="module")
def adjusted(demo):
    """The detailed plan, a point in the zone re-zoned to a school, one in the new school."""
    from planning_gis import db

    with db.session_scope(demo) as s:
        plan = s.execute(text("SELECT id FROM plans WHERE status = 'amended' AND is_fictional")
                         ).scalar_one()
        rows = s.execute(text("""
            SELECT h.op, h.row_id, h.old_row->>'function_code' AS old_code,
                   h.new_row->>'function_code' AS new_code, ST_X(ST_PointOnSurface(h.geom)) AS x,
                   ST_Y(ST_PointOnSurface(h.geom)) AS y, h.new_row->>'label' AS label
            FROM history h WHERE h.plan_id = :p AND h.decision = '1789/QĐ-UBND'
            ORDER BY h.id"""), {"p": plan}).all()
    rezoned = next(r for r in rows if r.op == "U" and r.new_code == "TH" and r.old_code != "TH")
    school = next(r for r in rows if r.op == "I")
    return {"plan": plan, "rezoned": rezoned, "school": school,
            "rezoned_ll": vn2000_to_lonlat(rezoned.x, rezoned.y),
            "school_ll": vn2000_to_lonlat(school.x, school.y)}


def test_compare_two_dates_whole_plan(client, adjusted):
    r = client.get(f"/api/compare?a={adjusted['plan']}&date_a=2020-01-01")
    assert r.status_code == 200, r.json
    doc = r.json
    kinds = sorted(c["kind"] for c in doc["changes"])
    assert kinds == ["modified", "modified", "split"], kinds
    assert all(c["decision"]["number"] == "1789/QĐ-UBND" for c in doc["changes"])
    fn = next(c for c in doc["changes"] if "function" in c["what"] and c["kind"] == "modified")
    assert fn["function"]["to"] == "TH"
    assert fn["summary_vi"].startswith("Năm 2021, ô ")
    assert "sang đất trường học" in fn["summary_vi"]
    assert doc["links"]["csv"].startswith("/api/compare?")


def test_compare_csv_and_html(client, adjusted):
    r = client.get(f"/api/compare?a={adjusted['plan']}&date_a=2020-01-01&format=csv")
    assert r.status_code == 200 and r.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(r.get_data(as_text=True).lstrip("\ufeff"))))
    assert {row["kind"] for row in rows} == {"modified", "split"}
    r = client.get(f"/api/compare?a={adjusted['plan']}&date_a=2020-01-01&format=html")
    assert r.status_code == 200 and "attachment" in r.headers["Content-Disposition"]
    page = r.get_data(as_text=True)
    assert "So sánh quy hoạch" in page and "L.map" in page
    # self-contained: no script or stylesheet from the network
    assert "cdn." not in page
    assert not re.search(r"<script[^>]+src=", page) and not re.search(r"<link[^>]+href=", page)


def test_compare_at_a_point(client, adjusted):
    lon, lat = adjusted["school_ll"]
    r = client.get(f"/api/compare?a={adjusted['plan']}&date_a=2021-04-15&date_b=2021-04-16"
                   f"&lon={lon}&lat={lat}&geometry=1")
    assert r.status_code == 200, r.json
    (change,) = r.json["changes"]
    assert change["kind"] == "split" and change["geometry"]["type"] in ("Polygon", "MultiPolygon")


def test_compare_a_plotted_area(client, adjusted):
    lon, lat = adjusted["school_ll"]
    d = 0.0002
    ring = [[lon - d, lat - d], [lon + d, lat - d], [lon + d, lat + d], [lon - d, lat + d],
            [lon - d, lat - d]]
    r = client.post(f"/api/compare?a={adjusted['plan']}&date_a=2020-01-01",
                    json={"type": "Polygon", "coordinates": [ring]})
    assert r.status_code == 200, r.json
    assert [c["kind"] for c in r.json["changes"]] == ["split"]


def test_zone_history(client, adjusted):
    r = client.get(f"/api/zones/{adjusted['rezoned'].row_id}/history")
    assert r.status_code == 200
    ops = [e["op"] for e in r.json["events"]]
    assert ops[:2] == ["insert", "update"]  # (later: the demo's sheets link their zones)
    upd = r.json["events"][1]
    assert upd["after"]["function_code"] == "TH" and upd["decision"] == "1789/QĐ-UBND"


def test_zoning_on_a_past_date(client, adjusted):
    lon, lat = adjusted["rezoned_ll"]
    before = client.get(f"/api/history/zoning?lon={lon}&lat={lat}&date=2020-01-01").json
    after = client.get(f"/api/history/zoning?lon={lon}&lat={lat}&date=2022-01-01").json
    gov_before = before["plans"][0]
    assert gov_before["plan_id"] == adjusted["plan"] and gov_before["governing"]
    assert gov_before["zones"][0]["function_code"] in ("OM", "NO")
    assert after["plans"][0]["zones"][0]["function_code"] == "TH"
    # on 1/1/2015 the detailed plan (2018) was not yet approved
    old = client.get(f"/api/history/zoning?lon={lon}&lat={lat}&date=2015-01-01").json
    assert adjusted["plan"] not in [p["plan_id"] for p in old["plans"]]


def test_changes_here_in_words(client, adjusted):
    lon, lat = adjusted["rezoned_ll"]
    r = client.get(f"/api/citizen/changes?lon={lon}&lat={lat}")
    assert r.status_code == 200
    first = r.json["changes"][0]
    assert first["summary_vi"].startswith("Năm 2021, ô ")
    assert "(QĐ 1789/QĐ-UBND ngày 16/04/2021)" in first["summary_vi"]
    assert first["links"]["page"].startswith("/so-sanh?")


@pytest.mark.parametrize("query, status", [
    ("", 400), ("a=abc", 400), ("a=999999", 404), ("a=1&format=pdf", 400),
    ("a=1&date_a=2020-13-01", 400), ("a=1&geometry=yes", 400), ("a=1&bogus=1", 400),
    ("a=1&lon=2&lat=3", 400),
])
def test_bad_compare_queries_are_4xx_json(client, query, status):
    r = client.get(f"/api/compare?{query}")
    assert r.status_code == status and r.json["detail_vi"]


def test_same_plan_without_dates_and_no_predecessor_is_400(client, adjusted):
    r = client.get(f"/api/compare?a={adjusted['plan']}")
    assert r.status_code == 400 and "b" in r.json["detail"]


def test_unknown_zone_history_is_404(client):
    assert client.get("/api/zones/99999999/history").status_code == 404
    assert client.get("/api/zones/x/history").status_code == 404


def _pdf_text(data: bytes) -> str:
    from pypdf import PdfReader

    return "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(data)).pages)


def test_information_sheet_lists_the_changes_at_the_point(client, adjusted):
    lon, lat = adjusted["rezoned_ll"]
    r = client.get(f"/api/info-sheet.pdf?lon={lon}&lat={lat}")
    assert r.status_code == 200
    body = " ".join(_pdf_text(r.data).split())
    assert "Thay đổi quy hoạch tại đây" in body
    assert "sang đất trường học" in body and "1789/QĐ-UBND" in body


def test_information_sheet_of_a_plot_lists_its_changes(client, adjusted):
    lon, lat = adjusted["school_ll"]
    d = 0.0001
    ring = [[lon - d, lat - d], [lon + d, lat - d], [lon + d, lat + d], [lon - d, lat + d],
            [lon - d, lat - d]]
    r = client.post("/api/info-sheet.pdf", json={"type": "Polygon", "coordinates": [ring]})
    assert r.status_code == 200
    body = " ".join(_pdf_text(r.data).split())
    assert "Thay đổi quy hoạch tại đây" in body and "được tách thành 2 ô" in body
