"""The red-line answer on roads made by code: inside/outside, distances, m² cut, setback strip."""

from __future__ import annotations

import pytest
from geoalchemy2.shape import from_shape
from shapely.geometry import LineString, MultiLineString, MultiPolygon, box
from sqlalchemy import text

from planning_gis.citizen.red_line import plot_answer, point_answer
from planning_gis.models import Plan, RedLine

pytestmark = pytest.mark.db

# Far from the demo (which lies around E 581 000, N 2 326 000), inside Hanoi.
E0, N0 = 596000.0, 2318000.0


def _road_plan(session, status="approved", name="Đường Thử", lines=None, width=20.0,
               setback=5.0, section="2-2"):
    plan = Plan(name=f"Quy hoạch tuyến {name}", kind="tuyen_duong", scale_denominator=500,
                status=status, decision_number="99/QĐ-UBND",
                geom=from_shape(MultiPolygon([box(E0 - 50, N0 - 50, E0 + 250, N0 + 110)]), 5897))
    session.add(plan)
    session.flush()
    if lines is None:  # two sides, y = N0+20 and N0+40, the second drawn the other way
        lines = MultiLineString([LineString([(E0, N0 + 20), (E0 + 200, N0 + 20)]),
                                 LineString([(E0 + 200, N0 + 40), (E0, N0 + 40)])])
    session.add(RedLine(plan_id=plan.id, road_name=name, width_m=width, cross_section=section,
                        setback_m=setback, geom=from_shape(lines, 5897)))
    session.flush()
    return plan


def test_the_trigger_builds_the_reserve_between_the_two_sides(session):
    _road_plan(session)
    area = session.execute(text(
        "SELECT ST_Area(reserve) FROM red_lines WHERE road_name = 'Đường Thử'")).scalar_one()
    assert area == pytest.approx(200 * 20, rel=1e-6)


def test_one_line_with_a_width_is_the_axis(session):
    axis = MultiLineString([LineString([(E0, N0 + 30), (E0 + 200, N0 + 30)])])
    _road_plan(session, lines=axis, name="Trục Thử")
    area = session.execute(text(
        "SELECT ST_Area(reserve) FROM red_lines WHERE road_name = 'Trục Thử'")).scalar_one()
    assert area == pytest.approx(200 * 20, rel=1e-3)


def test_a_point_inside_the_reserve(session):
    plan = _road_plan(session)
    ans = point_answer(session.connection(), E0 + 100, N0 + 30)
    assert ans["inside_reserve"] is True
    road = ans["road"]
    assert road["road_name"] == "Đường Thử" and road["width_m"] == 20.0
    assert road["cross_section"] == "2-2" and road["plan"]["id"] == plan.id
    assert road["plan"]["decision"]["number"] == "99/QĐ-UBND"
    assert road["distance_m"] == pytest.approx(10.0)
    assert road["geometry"]["reserve"]["type"] in ("Polygon", "MultiPolygon")
    assert "NẰM TRONG chỉ giới đường đỏ" in ans["summary_vi"]
    assert "lộ giới 20 m" in ans["summary_vi"] and "mặt cắt 2-2" in ans["summary_vi"]


def test_a_point_outside_in_the_setback_strip(session):
    _road_plan(session)
    ans = point_answer(session.connection(), E0 + 100, N0 + 43)
    assert ans["inside_reserve"] is False
    assert ans["road"]["distance_m"] == pytest.approx(3.0)
    assert ans["road"]["in_setback"] is True
    assert "ngoài chỉ giới đường đỏ" in ans["summary_vi"] and "khoảng lùi" in ans["summary_vi"]
    far = point_answer(session.connection(), E0 + 100, N0 + 60)
    assert far["road"]["in_setback"] is False and far["road"]["distance_m"] == pytest.approx(20)


def test_no_road_near(session):
    _road_plan(session)
    ans = point_answer(session.connection(), E0 + 100, N0 + 400)
    assert ans["road"] is None and ans["roads"] == [] and not ans["inside_reserve"]
    assert "Không có tuyến đường quy hoạch" in ans["summary_vi"]


def test_a_superseded_road_plan_does_not_count(session):
    _road_plan(session, status="superseded")
    assert point_answer(session.connection(), E0 + 100, N0 + 30)["road"] is None


def test_plot_cut_remaining_and_setback(session):
    _road_plan(session)
    plot = box(E0 + 90, N0 + 30, E0 + 110, N0 + 60)
    ans = plot_answer(session.connection(), plot.wkt, plot.area)
    assert ans["plot_area_m2"] == pytest.approx(600)
    assert ans["cut_m2"] == pytest.approx(200, abs=0.01)
    assert ans["cut_pct"] == pytest.approx(33.33, abs=0.01)
    assert ans["remaining_m2"] == pytest.approx(400, abs=0.01)
    assert ans["setback_strip_m2"] == pytest.approx(100, abs=0.5)
    assert ans["buildable_m2"] == pytest.approx(300, abs=0.5)
    assert ans["cut"]["type"] in ("Polygon", "MultiPolygon")
    assert "BỊ CẮT" in ans["summary_vi"] and "200,0 m² (33,3 %)" in ans["summary_vi"]


def test_plot_beside_the_road_is_not_cut(session):
    _road_plan(session)
    plot = box(E0 + 90, N0 + 50, E0 + 110, N0 + 70)
    ans = plot_answer(session.connection(), plot.wkt, plot.area)
    assert ans["cut_m2"] == 0 and not ans["inside_reserve"]
    assert ans["road"]["distance_m"] == pytest.approx(10)
    assert "không bị cắt" in ans["summary_vi"]


@pytest.mark.parametrize("sql,params", [
    ("POINT_SQL", {"e": E0, "n": N0, "near": 150.0, "k": 3}),
    ("PLOT_SQL", {"wkt": box(E0, N0, E0 + 10, N0 + 10).wkt, "near": 150.0, "k": 5}),
    ("STREET_SQL", {"e": E0, "n": N0, "near": 40.0}),
])
def test_red_line_sql_uses_its_gist_index(conn, sql, params):
    import layers.red_lines as rl

    conn.execute(text("SET LOCAL enable_seqscan = off"))
    plan = "\n".join(r[0] for r in conn.execute(
        text("EXPLAIN " + getattr(rl, sql).text), params))
    index = "idx_streets_geom" if sql == "STREET_SQL" else "idx_red_lines_geom"
    assert index in plan, plan
