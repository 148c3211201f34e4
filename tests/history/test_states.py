"""History written by the triggers (migration 0016), zones at a past date, comparisons of dates."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import text

from planning_gis.history.compare import compare
from planning_gis.history.context import change_context
from planning_gis.history.states import plans_in_force, zone_history, zones_of, zones_sql
from tests.history.conftest import X0, Y0, add_plan, add_zone, cell

pytestmark = pytest.mark.db

ADJUST = dict(decision="1234/QĐ-UBND", effective_on=dt.date(2021, 6, 15),
              user_email="kts@quyhoach.demo")


def _edition(conn, layer="zones") -> int:
    return conn.execute(text("SELECT edition FROM layer_editions WHERE layer = :l"),
                        {"l": layer}).scalar_one()


def test_edited_zone_keeps_its_history(conn):
    plan = add_plan(conn, "QHCT thử")
    zid = add_zone(conn, plan, "C.3-2", "OM", cell(0), coverage_pct=40.0, floors_max=9)
    before = _edition(conn)
    change_context(conn, **ADJUST)
    conn.execute(text("UPDATE land_use_zones SET function_code = 'TH', coverage_pct = 35 "
                      "WHERE id = :id"), {"id": zid})
    conn.execute(text("UPDATE land_use_zones SET function_code = 'TH' WHERE id = :id"),
                 {"id": zid})  # changes nothing: not recorded
    assert _edition(conn) > before  # the 0006 edition triggers still fire
    events = zone_history(conn, zid)
    assert [e["op"] for e in events] == ["insert", "update"]
    upd = events[1]
    assert upd["before"]["function_code"] == "OM" and upd["after"]["function_code"] == "TH"
    assert upd["before"]["coverage_pct"] == 40.0 and upd["after"]["coverage_pct"] == 35.0
    assert upd["decision"] == "1234/QĐ-UBND" and upd["effective_on"] == "2021-06-15"
    assert upd["user"] == "kts@quyhoach.demo"
    assert events[0]["decision"] is None  # the insert had no context


def test_delete_keeps_the_last_state(conn):
    plan = add_plan(conn, "QHCT thử")
    zid = add_zone(conn, plan, "A", "CX", cell(0))
    conn.execute(text("DELETE FROM land_use_zones WHERE id = :id"), {"id": zid})
    last = zone_history(conn, zid)[-1]
    assert last["op"] == "delete" and last["before"]["label"] == "A"
    assert last["before"]["area_m2"] == pytest.approx(10_000, abs=1)


def _adjust_2021(conn):
    """The 2021 local adjustment: C.3-2 split into a school and housing, C.1 re-zoned."""
    plan = add_plan(conn, "QHCT 2018", decision="2345/QĐ-UBND", day=dt.date(2018, 4, 16))
    c32 = add_zone(conn, plan, "C.3-2", "OM", cell(0), coverage_pct=40.0)
    c1 = add_zone(conn, plan, "C.1", "OM", cell(1), floors_max=9)
    add_zone(conn, plan, "CX-1", "CX", cell(2))
    change_context(conn, **ADJUST)
    conn.execute(text("DELETE FROM land_use_zones WHERE id = :id"), {"id": c32})
    add_zone(conn, plan, "C.3-2a", "TH", cell(0, width=60))
    add_zone(conn, plan, "C.3-2b", "OM", cell(0).difference(cell(0, width=60)))
    conn.execute(text("UPDATE land_use_zones SET floors_max = 12 WHERE id = :id"), {"id": c1})
    return plan


def test_zoning_at_a_past_date(conn):
    plan = _adjust_2021(conn)
    then = {z.label: z.function_code for z in zones_of(conn, plan, dt.date(2019, 1, 1))}
    now = {z.label: z.function_code for z in zones_of(conn, plan)}
    assert then == {"C.3-2": "OM", "C.1": "OM", "CX-1": "CX"}
    assert now == {"C.3-2a": "TH", "C.3-2b": "OM", "C.1": "OM", "CX-1": "CX"}
    # the day after the decision took effect, the adjusted state
    assert {z.label for z in zones_of(conn, plan, dt.date(2021, 6, 16))} == set(now)
    c1_then = [z for z in zones_of(conn, plan, dt.date(2019, 1, 1)) if z.label == "C.1"][0]
    assert c1_then.indicators["floors_max"] == 9
    # at a point of the old C.3-2, on 1/1/2018 the plan was not yet in force; on 1/1/2019 it was
    pt = f"POINT({X0 + 20} {Y0 + 50})"
    assert plan not in plans_in_force(conn, pt, dt.date(2018, 1, 1))
    assert plan in plans_in_force(conn, pt, dt.date(2019, 1, 1))
    assert [z.label for z in zones_of(conn, plan, dt.date(2019, 1, 1), pt)] == ["C.3-2"]


def test_compare_two_dates_of_one_plan(conn):
    plan = _adjust_2021(conn)
    cmp = compare(conn, plan, date_a=dt.date(2019, 1, 1))
    kinds = {c.kind: c for c in cmp.changes}
    assert set(kinds) == {"split", "modified"} and cmp.unchanged == 1
    split = kinds["split"]
    assert [z.label for z in split.a] == ["C.3-2"]
    assert [z.label for z in split.b] == ["C.3-2a", "C.3-2b"]
    assert split.decision["number"] == "1234/QĐ-UBND"
    assert split.decision["effective_on"] == "2021-06-15"
    assert kinds["modified"].what == ["indicators"]
    # over a point: only what is there
    at = compare(conn, plan, date_a=dt.date(2019, 1, 1), area_wkt=f"POINT({X0 + 20} {Y0 + 50})",
                 scope="point")
    # the zone under the point is seen whole: the split, not a smaller zone
    assert [c.kind for c in at.changes] == ["split"]


def test_compare_two_plans_attributes_the_newer_decision(conn):
    old = add_plan(conn, "QHCT 2018", decision="2345/QĐ-UBND", day=dt.date(2018, 4, 16))
    new = add_plan(conn, "Điều chỉnh 2021", decision="999/QĐ-UBND", day=dt.date(2021, 6, 15),
                   supersedes=old)
    add_zone(conn, old, "A", "OM", cell(0))
    add_zone(conn, old, "B", "OM", cell(1))
    add_zone(conn, new, "A", "TH", cell(0))
    add_zone(conn, new, "B", "OM", cell(1))
    cmp = compare(conn, old, new)
    (c,) = cmp.changes
    assert c.what == ["function"] and c.decision["number"] == "999/QĐ-UBND"
    assert cmp.unchanged == 1


def test_same_plan_same_date_is_refused(conn):
    from planning_gis.errors import InvalidInput

    plan = add_plan(conn, "QHCT thử")
    with pytest.raises(InvalidInput):
        compare(conn, plan)


def test_coverage_refresh_still_works_with_history(engine, conn):
    """Rebuilding zone_coverage reads zones only; the history triggers do not touch it."""
    from layers.coverage import refresh

    assert refresh(engine) is not None


def test_zones_at_a_point_use_the_spatial_index(conn):
    conn.execute(text("SET LOCAL enable_seqscan = off"))
    params = {"plan": 1, "on": dt.date(2019, 1, 1), "area": "POINT(580000 2330000)"}
    plan = "\n".join(r[0] for r in conn.execute(text("EXPLAIN " + zones_sql(True, True)), params))
    assert "idx_land_use_zones_geom" in plan or "ix_land_use_zones_plan_id" in plan, plan


def test_red_lines_and_plans_keep_their_history_too(conn):
    plan = add_plan(conn, "QH tuyến đường thử")
    change_context(conn, decision="88/QĐ-UBND", effective_on=dt.date(2022, 1, 3),
                   user_email="kts@quyhoach.demo")
    line = conn.execute(text("""
        INSERT INTO red_lines (plan_id, road_name, width_m, geom)
        VALUES (:p, 'Đường thử', 30, ST_Multi(ST_GeomFromText(:wkt, 5897))) RETURNING id"""),
        {"p": plan, "wkt": f"LINESTRING({X0} {Y0}, {X0 + 500} {Y0})"}).scalar_one()
    conn.execute(text("UPDATE red_lines SET width_m = 40 WHERE id = :id"), {"id": line})
    conn.execute(text("UPDATE plans SET status = 'superseded' WHERE id = :id"), {"id": plan})
    rows = conn.execute(text("""
        SELECT table_name, op, old_row, new_row, decision FROM history
        WHERE plan_id = :p AND table_name <> 'land_use_zones' ORDER BY id"""), {"p": plan}).all()
    assert [(r.table_name, r.op) for r in rows] == [
        ("plans", "I"), ("red_lines", "I"), ("red_lines", "U"), ("plans", "U")]
    assert rows[2].old_row["width_m"] == 30 and rows[2].new_row["width_m"] == 40
    assert rows[3].old_row["status"] == "approved" and rows[3].new_row["status"] == "superseded"
    assert rows[3].decision == "88/QĐ-UBND"


def test_change_layer_view_lists_changes_not_original_content(conn):
    plan = _adjust_2021(conn)
    change_context(conn)  # the adjustment's context ends: what follows names no decision
    add_zone(conn, plan, "KHÁC", "CX", cell(5))  # no decision: the plan's own content
    conn.execute(text("UPDATE land_use_zones SET note = 'ghi chú' WHERE plan_id = :p"),
                 {"p": plan})
    rows = conn.execute(text("SELECT change, label, decision FROM zone_changes "
                             "WHERE plan_id = :p ORDER BY id"), {"p": plan}).all()
    assert sorted((r.change, r.label) for r in rows) == [
        ("added", "C.3-2a"), ("added", "C.3-2b"), ("indicators", "C.1"), ("removed", "C.3-2")]
    assert {r.decision for r in rows} == {"1234/QĐ-UBND"}
