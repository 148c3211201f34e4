"""What changed at a place: every adjustment of the zones under a point, in words, newest first.

Two sources: a plan that supersedes another over the point (the newer plan against the older,
attributed to the newer's decision), and the recorded changes of a plan's zones there (the day
before each change took effect against the day it did, attributed to the recorded decision).
Each item carries the parameters of its full comparison, for a link.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Connection, text

from planning_gis.history.compare import compare
from planning_gis.history.export import change_dict
from planning_gis.history.states import EFFECTIVE, MATTERS

_SUCCESSIONS = text("""
SELECT p.id AS b, o.id AS a FROM plans p JOIN plans o ON o.id = p.supersedes_id
WHERE p.geom && ST_GeomFromText(:pt, 5897) AND ST_Intersects(p.geom, ST_GeomFromText(:pt, 5897))
  AND ST_Intersects(o.geom, ST_GeomFromText(:pt, 5897))""")

#: Both geometry columns are indexed (GiST); a point hits few rows.
_ADJUSTMENTS = text(f"""
SELECT DISTINCT h.plan_id, {EFFECTIVE} AS effective FROM history h
WHERE h.table_name = 'land_use_zones'
  AND ((h.geom && ST_GeomFromText(:pt, 5897) AND ST_Intersects(h.geom, ST_GeomFromText(:pt, 5897)))
    OR (h.old_geom && ST_GeomFromText(:pt, 5897)
        AND ST_Intersects(h.old_geom, ST_GeomFromText(:pt, 5897))))
  AND NOT (h.op = 'I' AND h.effective_on IS NULL) AND {MATTERS}
  AND EXISTS (SELECT 1 FROM plans p WHERE p.id = h.plan_id)""")


def changes_here(conn: Connection, easting: float, northing: float,
                 limit: int = 20) -> list[dict[str, Any]]:
    """The changes at a point, newest first: each a change of the comparison, plus ``compare``
    (the query of the full comparison) and ``year``."""
    return changes_in(conn, f"POINT({easting!r} {northing!r})", limit, scope="point")


def changes_in(conn: Connection, pt: str, limit: int = 20,
               scope: str = "area") -> list[dict[str, Any]]:
    """The changes over a geometry (WKT, EPSG:5897: a point or a plot), newest first."""
    items: list[dict[str, Any]] = []
    for r in conn.execute(_SUCCESSIONS, {"pt": pt}).all():
        cmp = compare(conn, r.a, r.b, area_wkt=pt, scope=scope)
        for c in cmp.changes:
            items.append({**change_dict(c, cmp.legend),
                          "compare": {"a": r.a, "b": r.b}})
    for r in conn.execute(_ADJUSTMENTS, {"pt": pt}).all():
        day = r.effective
        before = day - dt.timedelta(days=1)
        cmp = compare(conn, r.plan_id, date_a=before, date_b=day, area_wkt=pt, scope=scope)
        for c in cmp.changes:
            items.append({**change_dict(c, cmp.legend),
                          "compare": {"a": r.plan_id, "date_a": before.isoformat(),
                                      "date_b": day.isoformat()}})
    for it in items:
        it["year"] = (it["decision"].get("effective_on") or it["decision"].get("date") or "")[:4]
    items.sort(key=lambda it: it["decision"].get("effective_on") or "", reverse=True)
    return items[:limit]
