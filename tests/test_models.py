"""The database refuses what must never be stored, whatever code path writes it."""

import pytest
from geoalchemy2.shape import from_shape
from shapely.geometry import MultiPolygon, Polygon, box
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from planning_gis.models import LandUseZone, Plan

pytestmark = pytest.mark.db

E0, N0 = 582000.0, 2326000.0


def _plan(session) -> Plan:
    plan = Plan(name="Quy hoạch thử", kind="phan_khu", scale_denominator=2000, status="approved",
                geom=from_shape(MultiPolygon([box(E0, N0, E0 + 500, N0 + 500)]), 5897))
    session.add(plan)
    session.flush()
    return plan


def _zone(plan, **kw):
    values = dict(plan_id=plan.id, label="A.1-OM1", function_code="OM", coverage_pct=40,
                  floors_min=3, floors_max=9,
                  geom=from_shape(MultiPolygon([box(E0, N0, E0 + 100, N0 + 100)]), 5897))
    values.update(kw)
    return LandUseZone(**values)


def test_a_good_zone_is_stored_and_found_by_its_index(session):
    plan = _plan(session)
    session.add(_zone(plan))
    session.flush()
    n = session.execute(text(
        "SELECT count(*) FROM land_use_zones WHERE plan_id = :p"
        " AND geom && ST_MakeEnvelope(:a,:b,:c,:d,5897)"),
        dict(p=plan.id, a=E0, b=N0, c=E0 + 10, d=N0 + 10)).scalar()
    assert n == 1


@pytest.mark.parametrize(
    "override,constraint",
    [
        ({"coverage_pct": 120}, "coverage_range"),
        ({"coverage_pct": -1}, "coverage_range"),
        ({"floors_min": -2}, "floors_min_non_negative"),
        ({"floors_min": 9, "floors_max": 3}, "floors_order"),
        ({"function_code": "XX"}, "function_code"),
        ({"label": ""}, "label_not_empty"),
        ({"geom": from_shape(MultiPolygon([Polygon(
            [(E0, N0), (E0 + 10, N0 + 10), (E0 + 10, N0), (E0, N0 + 10), (E0, N0)])]), 5897)},
         "geom_valid"),
    ],
)
def test_constraints_refuse_bad_zones(session, override, constraint):
    plan = _plan(session)
    session.add(_zone(plan, **override))
    with pytest.raises(IntegrityError) as info:
        session.flush()
    assert constraint in str(info.value)


@pytest.mark.parametrize("field,value", [("kind", "vung"), ("status", "maybe"),
                                         ("scale_denominator", 0)])
def test_plan_constraints(session, field, value):
    plan = Plan(name="x", kind="chi_tiet", status="approved")
    setattr(plan, field, value)
    session.add(plan)
    with pytest.raises(IntegrityError):
        session.flush()


def test_every_geometry_column_has_a_gist_index(conn):
    rows = conn.execute(text("""
        SELECT c.relname AS tbl, a.attname AS col,
               EXISTS (SELECT 1 FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
                       JOIN pg_am am ON am.oid = ic.relam
                       WHERE i.indrelid = c.oid AND a.attnum = ANY(i.indkey) AND am.amname = 'gist')
                 AS indexed
        FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND a.atttypid = 'geometry'::regtype AND c.relkind = 'r'
          AND NOT a.attisdropped
    """)).all()
    # read, never searched: a sheet's neatline, and the derived zone tables' copies in the web
    # grid's CRS (tiles search those tables by their indexed ``geom``; migration 0014)
    unsearched = {("map_sheets", "neatline"), ("zone_coverage", "geom_web"),
                  ("zone_overview", "geom_web")}
    missing = {(r.tbl, r.col) for r in rows if not r.indexed} - unsearched
    assert rows and not missing
