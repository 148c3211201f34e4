"""Red lines (chỉ giới đường đỏ) near a point or across a plot: the SQL of the red-line answer.

Kept apart from :mod:`layers.lookup` on purpose: the zones' answer says what land use a place
has, this says whether a planned road takes part of it. Both sides of a road are stored as its
red lines and the land between them as ``red_lines.reserve`` (migration 0011, built by a
trigger), so that "inside the road reserve?" is ``ST_Intersects`` and "how many m² of my plot" is
one ``ST_Intersection`` per road near the plot. The nearest roads come from the GiST index on the
lines (``ORDER BY geom <-> place LIMIT k``, a K-nearest-neighbour index scan), bounded by a
radius so that a point far from any planned road gets "none near here" quickly.

Only plans in force count (approved, amended): a superseded road plan no longer binds anyone.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, text

from planning_gis.crs import STORAGE_SRID

#: How far from a point or plot a planned road is still worth naming (metres).
NEAR_M = 150.0
#: How much of a road's reserve and red lines comes back for drawing, around the place (metres).
DRAW_M = 250.0
IN_FORCE = "('approved', 'amended')"

_ROAD_COLUMNS = """
  r.id, r.plan_id, r.road_name, r.width_m, r.cross_section, r.setback_m,
  p.name AS plan_name, p.kind AS plan_kind, p.status AS plan_status, p.scale_denominator,
  p.decision_number, p.decision_date, p.approving_body, p.is_fictional"""


def _draw(geom: str, place: str) -> str:
    """A geometry clipped to the drawing window around the place, as GeoJSON in WGS 84."""
    return (f"ST_AsGeoJSON(ST_Transform(ST_Intersection({geom}, "
            f"ST_Expand(ST_Envelope({place}), {DRAW_M})), 4326), 7)")


POINT = f"ST_SetSRID(ST_MakePoint(:e, :n), {STORAGE_SRID})"
PLOT = f"ST_GeomFromText(:wkt, {STORAGE_SRID})"

#: The planned roads nearest a point: distance to the red line, inside the reserve or not, the
#: distance to the reserve (for the building line's setback) and what to draw.
POINT_SQL = text(f"""
SELECT {_ROAD_COLUMNS},
  ST_Distance(r.geom, {POINT}) AS to_red_line_m,
  coalesce(ST_Intersects(r.reserve, {POINT}), false) AS inside,
  ST_Distance(r.reserve, {POINT}) AS to_reserve_m,
  ST_AsGeoJSON(ST_Transform(ST_ClosestPoint(r.geom, {POINT}), 4326), 7) AS nearest_point,
  {_draw("r.geom", POINT)} AS lines_geojson,
  {_draw("r.reserve", POINT)} AS reserve_geojson
FROM red_lines r JOIN plans p ON p.id = r.plan_id
WHERE ST_DWithin(r.geom, {POINT}, :near) AND p.status IN {IN_FORCE}
ORDER BY r.geom <-> {POINT}
LIMIT :k
""")

#: The planned roads near a plot: each road's reserve inside the plot (m²) and the setback strip
#: between the red line and the building line inside the plot. The reserve is clipped to the
#: plot's neighbourhood before it is buffered by the setback, so a long road costs no more than
#: a short one.
PLOT_SQL = text(f"""
WITH near AS (
  SELECT {_ROAD_COLUMNS}, r.geom, r.reserve,
    ST_Intersection(r.reserve, ST_Expand(ST_Envelope({PLOT}), coalesce(r.setback_m, 0) + 1))
      AS local_reserve
  FROM red_lines r JOIN plans p ON p.id = r.plan_id
  WHERE ST_DWithin(r.geom, {PLOT}, :near) AND p.status IN {IN_FORCE}
  ORDER BY r.geom <-> {PLOT}
  LIMIT :k
)
SELECT n.id, n.plan_id, n.road_name, n.width_m, n.cross_section, n.setback_m, n.plan_name,
  n.plan_kind, n.plan_status, n.scale_denominator, n.decision_number, n.decision_date,
  n.approving_body, n.is_fictional,
  ST_Distance(n.geom, {PLOT}) AS to_red_line_m,
  coalesce(ST_Intersects(n.reserve, {PLOT}), false) AS inside,
  ST_Distance(n.reserve, {PLOT}) AS to_reserve_m,
  ST_AsBinary(ST_Intersection(n.local_reserve, {PLOT})) AS cut_wkb,
  CASE WHEN n.setback_m > 0 THEN ST_AsBinary(ST_Intersection(
    ST_Difference(ST_Buffer(n.local_reserve, n.setback_m), n.local_reserve), {PLOT})) END
    AS setback_wkb,
  NULL::text AS nearest_point,
  {_draw("n.geom", PLOT)} AS lines_geojson,
  {_draw("n.reserve", PLOT)} AS reserve_geojson
FROM near n
""")


def roads_near_point(conn: Connection, easting: float, northing: float, *,
                     near_m: float = NEAR_M, k: int = 3) -> list[Any]:
    """Up to ``k`` planned roads of plans in force within ``near_m`` of a point, nearest first."""
    return conn.execute(POINT_SQL, {"e": easting, "n": northing, "near": near_m, "k": k}).all()


def roads_near_plot(conn: Connection, wkt: str, *, near_m: float = NEAR_M,
                    k: int = 5) -> list[Any]:
    """Planned roads within ``near_m`` of a plot (EPSG:5897 WKT) with their cut of it."""
    return conn.execute(PLOT_SQL, {"wkt": wkt, "near": near_m, "k": k}).all()


#: The named street of the base map nearest a point (what a tap on a road means to a citizen).
STREET_SQL = text(f"""
SELECT s.id, s.name, s.kind, s.is_fictional, ST_Distance(s.geom, {POINT}) AS distance_m
FROM streets s
WHERE s.name IS NOT NULL AND ST_DWithin(s.geom, {POINT}, :near)
ORDER BY s.geom <-> {POINT}
LIMIT 1
""")


def nearest_street(conn: Connection, easting: float, northing: float,
                   near_m: float = 40.0) -> Any | None:
    """The nearest named street within ``near_m`` metres, or None."""
    return conn.execute(STREET_SQL, {"e": easting, "n": northing, "near": near_m}).first()
