"""The zones of a plan as they are, or as they were on a date.

A zone's state on day D is the state before the first change that took effect after D (its
``old_row``/``old_geom`` in ``history``), or the zone as it is now when nothing changed after D.
A change takes effect on its ``effective_on`` (the decision's date) or, without one, on the day
it was recorded; an insert without a date belongs to the plan from its start (the plan's own
validity says since when). Which plans were in force on D is read from their validity dates.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import shapely
from shapely.geometry.base import BaseGeometry
from sqlalchemy import Connection, text

from planning_gis.errors import NotFound

#: The indicators compared, in the order they are shown, with their Vietnamese and English names
#: and units.
INDICATORS = (
    ("coverage_pct", "mật độ xây dựng", "building coverage", "%"),
    ("floors_min", "tầng cao tối thiểu", "floors (min)", "tầng"),
    ("floors_max", "tầng cao tối đa", "floors (max)", "tầng"),
    ("far", "hệ số sử dụng đất", "floor-area ratio", "lần"),
    ("population", "dân số", "population", "người"),
)
_WHOLE = ("floors_min", "floors_max", "population")
_COLUMNS = "label, function_code, " + ", ".join(name for name, *_ in INDICATORS)
_FROM_ROW = ", ".join(
    ["a.old_row->>'label'", "a.old_row->>'function_code'"]
    + [f"(a.old_row->>'{name}')::{'integer' if name in _WHOLE else 'float8'}"
       for name, *_ in INDICATORS])
#: A change of what a comparison reads (an update of a zone's sheet or note alone is not one).
MATTERS = ("(h.op <> 'U' OR (h.old_row - 'sheet_id' - 'note') IS DISTINCT FROM "
           "(h.new_row - 'sheet_id' - 'note') OR NOT ST_Equals(h.old_geom, h.geom))")
#: When a change takes effect (see the module docstring).
EFFECTIVE = ("coalesce(h.effective_on, CASE WHEN h.op = 'I' THEN DATE '0001-01-01' "
             "ELSE h.recorded_at::date END)")


@dataclass
class ZoneState:
    """One zone as it is or was: what the comparison reads."""

    id: int
    plan_id: int
    label: str
    function_code: str
    indicators: dict[str, Any]
    geom: BaseGeometry  # EPSG:5897

    @property
    def area_m2(self) -> float:
        return float(self.geom.area)


@dataclass
class PlanSide:
    """A plan as it is (``on`` None) or as it was on a date."""

    plan_id: int
    on: dt.date | None
    name: str = ""
    kind: str = ""
    status: str = ""
    decision_number: str | None = None
    decision_date: dt.date | None = None
    approving_body: str | None = None
    valid_from: dt.date | None = None
    valid_to: dt.date | None = None
    supersedes_id: int | None = None
    zones: list[ZoneState] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"plan_id": self.plan_id, "date": self.on.isoformat() if self.on else None,
                "name": self.name, "kind": self.kind, "status": self.status,
                "decision": {"number": self.decision_number,
                             "date": self.decision_date.isoformat() if self.decision_date else None,
                             "approving_body": self.approving_body},
                "zones": len(self.zones)}


_PLAN_SQL = text("""
SELECT id, name, kind, status, decision_number, decision_date, approving_body, valid_from,
       valid_to, supersedes_id FROM plans WHERE id = :id""")


def plan_side(conn: Connection, plan_id: int, on: dt.date | None = None) -> PlanSide:
    """The plan's facts (as they are now: its decision and validity dates)."""
    row = conn.execute(_PLAN_SQL, {"id": plan_id}).first()
    if row is None:
        raise NotFound(f"plan {plan_id} does not exist",
                       message_vi=f"Không có đồ án quy hoạch số {plan_id}.")
    return PlanSide(plan_id, on, row.name, row.kind, row.status, row.decision_number,
                    row.decision_date, row.approving_body, row.valid_from, row.valid_to,
                    row.supersedes_id)


def _area_filter(column: str) -> str:
    area = "ST_GeomFromText(:area, 5897)"
    return f" AND {column} && {area} AND ST_Intersects({column}, {area})"


def zones_sql(on_date: bool, with_area: bool) -> str:
    """The statement that reads a plan's zones now or on ``:on`` (optionally within ``:area``)."""
    now_area = _area_filter("z.geom") if with_area else ""
    now = (f"SELECT z.id, z.plan_id, {', '.join('z.' + c.strip() for c in _COLUMNS.split(','))},"
           f" ST_AsBinary(z.geom) AS wkb FROM land_use_zones z WHERE z.plan_id = :plan{now_area}")
    if not on_date:
        return now
    old_area = _area_filter("a.old_geom") if with_area else ""
    return f"""
WITH after AS (
  SELECT DISTINCT ON (h.row_id) h.row_id, h.op, h.old_row, h.old_geom
  FROM history h
  WHERE h.table_name = 'land_use_zones' AND h.plan_id = :plan AND {EFFECTIVE} > :on
  ORDER BY h.row_id, {EFFECTIVE}, h.id
)
{now} AND NOT EXISTS (SELECT 1 FROM after a WHERE a.row_id = z.id)
UNION ALL
SELECT a.row_id, (a.old_row->>'plan_id')::integer, {_FROM_ROW}, ST_AsBinary(a.old_geom)
FROM after a WHERE a.op <> 'I'{old_area}"""


_STATEMENTS: dict[tuple[bool, bool], Any] = {}


def zones_of(conn: Connection, plan_id: int, on: dt.date | None = None,
             area_wkt: str | None = None) -> list[ZoneState]:
    """The zones of a plan now (``on`` None) or on day ``on``, within ``area_wkt`` if given."""
    key = (on is not None, area_wkt is not None)
    stmt = _STATEMENTS.get(key)
    if stmt is None:
        stmt = _STATEMENTS[key] = text(zones_sql(*key))
    rows = conn.execute(stmt, {"plan": plan_id, "on": on, "area": area_wkt}).all()
    geoms = shapely.from_wkb([bytes(r.wkb) for r in rows]) if rows else []
    out = []
    for r, g in zip(rows, geoms, strict=True):
        out.append(ZoneState(r.id, r.plan_id, r.label, r.function_code,
                             {name: getattr(r, name) for name, *_ in INDICATORS}, g))
    out.sort(key=lambda z: (z.label, z.id))
    return out


def load_side(conn: Connection, plan_id: int, on: dt.date | None = None,
              area_wkt: str | None = None) -> PlanSide:
    side = plan_side(conn, plan_id, on)
    side.zones = zones_of(conn, plan_id, on, area_wkt)
    return side


_IN_FORCE_AT = text("""
SELECT p.id FROM plans p
WHERE p.geom && ST_GeomFromText(:area, 5897) AND ST_Intersects(p.geom, ST_GeomFromText(:area, 5897))
  AND p.status <> 'draft'
  AND coalesce(p.valid_from, p.decision_date) <= :on
  AND (p.valid_to IS NULL OR p.valid_to >= :on)""")


def plans_in_force(conn: Connection, area_wkt: str, on: dt.date) -> list[int]:
    """The plans in force on day ``on`` over an area (by their validity dates)."""
    return [r.id for r in conn.execute(_IN_FORCE_AT, {"area": area_wkt, "on": on})]


_EVENTS_SQL = text(f"""
SELECT DISTINCT ON (h.row_id) h.row_id, h.op, h.decision, {EFFECTIVE} AS effective,
       h.recorded_at, h.user_email, h.note
FROM history h
WHERE h.table_name = 'land_use_zones' AND h.plan_id = :plan
  AND {EFFECTIVE} > :after AND {EFFECTIVE} <= :upto AND {MATTERS}
ORDER BY h.row_id, {EFFECTIVE} DESC, h.id DESC""")


def last_events(conn: Connection, plan_id: int, after: dt.date,
                upto: dt.date) -> dict[int, Any]:
    """Per zone id, the last change of the plan that took effect in (after, upto]: who and why."""
    return {r.row_id: r for r in conn.execute(_EVENTS_SQL, {"plan": plan_id, "after": after,
                                                            "upto": upto})}


_ZONE_HISTORY_SQL = text(f"""
SELECT h.id, h.op, h.old_row, h.new_row, ST_Area(h.old_geom) AS old_area, ST_Area(h.geom) AS area,
       h.recorded_at, {EFFECTIVE} AS effective, h.effective_on, h.decision, h.user_email, h.note
FROM history h WHERE h.table_name = 'land_use_zones' AND h.row_id = :id ORDER BY h.id""")


def zone_history(conn: Connection, zone_id: int) -> list[dict[str, Any]]:
    """Every recorded change of one zone, oldest first, each with its state before and after."""
    out = []
    for r in conn.execute(_ZONE_HISTORY_SQL, {"id": zone_id}):
        out.append({
            "id": r.id, "op": {"I": "insert", "U": "update", "D": "delete"}[r.op],
            "recorded_at": r.recorded_at.isoformat(),
            "effective_on": r.effective_on.isoformat() if r.effective_on else None,
            "decision": r.decision, "user": r.user_email, "note": r.note,
            "before": None if r.old_row is None else {**r.old_row, "area_m2": round(r.old_area, 1)},
            "after": None if r.new_row is None else {**r.new_row, "area_m2": round(r.area, 1)},
        })
    return out
