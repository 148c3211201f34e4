"""The zone coverage: where each plan in force governs, and its zones cut to that area; and the
zone overview: the zones of the master and zoning plans in force, what low zooms show.

Why: plans overlap, and a map can show only one zoning at each place: the governing one (the
most detailed plan in force, ranked as :func:`layers.lookup.governing_key` ranks them). Mid-zoom
tiles over a city of overlapping plans held every layer of zones (40 000 in one z14 tile); they
now read this table, which has no overlaps. It is derived data: rebuilt from the zones' edition
in one REPEATABLE READ transaction (the edition it records and the rows it reads are one
snapshot), and a tile query reads it only while ``derived_layer_current('zone_coverage')`` is
true, falling back to the live zones in between (correct, only heavier). Both tables also
hold each geometry in the web map's grid CRS (``geom_web``, EPSG:3857, migration 0014): the
transform is done here once per zone instead of in every tile (it was 90 % of a tile's time).
On the city-size data (530 000 zones, 1 600 plans) a rebuild takes about 40 s; the job worker
does it when it is idle.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, text

from planning_gis.models import PLAN_KINDS

NAME = "zone_coverage"
#: Plans in force today: the statuses the look-up treats as in force, within their dates.
IN_FORCE = ("p.status IN ('approved', 'amended') AND p.geom IS NOT NULL"
            " AND (p.valid_from IS NULL OR p.valid_from <= CURRENT_DATE)"
            " AND (p.valid_to IS NULL OR p.valid_to >= CURRENT_DATE)")
_KIND_RANK = "CASE p.kind " + " ".join(
    f"WHEN '{k}' THEN {rank}" for k, (_vi, _en, rank) in PLAN_KINDS.items()) + " ELSE 0 END"

#: Each plan in force with the part of its outline where no higher-ranked plan in force lies
#: (rank: more detailed kind, larger scale, newer decision, higher id: governing_key's order).
_GOVERNS = f"""
WITH ranked AS (
  SELECT p.id, p.geom, row_number() OVER (
    ORDER BY {_KIND_RANK} DESC, p.scale_denominator ASC NULLS LAST,
             p.decision_date DESC NULLS LAST, p.id DESC) AS r
  FROM plans p WHERE {IN_FORCE}
)
SELECT a.id, CASE WHEN h.g IS NULL THEN a.geom ELSE ST_Difference(a.geom, h.g) END AS geom
FROM ranked a
LEFT JOIN LATERAL (
  SELECT ST_Union(b.geom) AS g FROM ranked b
  WHERE b.r < a.r AND b.geom && a.geom AND ST_Intersects(b.geom, a.geom)) h ON TRUE
"""

#: What a tile draws a zone with, copied so that a tile reads the derived table alone.
DRAWN = "label, function_code, color, plan_kind, plan_status"
DRAWN_FROM = "z.label, z.function_code, z.color, z.plan_kind, z.plan_status"
REFRESH_SQL = (
    "CREATE TEMP TABLE plan_governs ON COMMIT DROP AS " + _GOVERNS,
    "DELETE FROM plan_governs WHERE ST_IsEmpty(geom)",
    "CREATE INDEX ON plan_governs (id)",
    "DELETE FROM zone_coverage",
    "DELETE FROM zone_overview",
    f"""
INSERT INTO zone_overview (id, plan_id, geom, geom_web, area_m2, {DRAWN})
SELECT z.id, z.plan_id, z.geom, ST_Transform(z.geom, 3857), ST_Area(z.geom), {DRAWN_FROM}
FROM zones_with_legend z JOIN plans p ON p.id = z.plan_id
WHERE {IN_FORCE} AND p.kind IN ('chung', 'phan_khu')
""",
    f"""
INSERT INTO zone_coverage (id, plan_id, geom, geom_web, area_m2, {DRAWN})
SELECT id, plan_id, geom, ST_Transform(geom, 3857), ST_Area(geom), {DRAWN} FROM (
  SELECT z.id, z.plan_id, {DRAWN_FROM},
         CASE WHEN ST_CoveredBy(z.geom, g.geom) THEN z.geom
              ELSE ST_Multi(ST_CollectionExtract(ST_Intersection(z.geom, g.geom), 3)) END AS geom
  FROM zones_with_legend z JOIN plan_governs g ON g.id = z.plan_id
  WHERE z.geom && g.geom) AS cut
WHERE NOT ST_IsEmpty(geom) AND ST_Area(geom) > 0.01
""",
    # statistics of the new rows at once: the tiles' plans depend on them (area thinning)
    "ANALYZE zone_overview",
    "ANALYZE zone_coverage",
)

CURRENT_SQL = text("SELECT derived_layer_current(:name)")
STATE_SQL = text("""
SELECT d.built_from, d.built_on, d.built_at, d.seconds, d.features, e.edition, e.changed_at,
       derived_layer_current(d.name) AS current
FROM derived_layers d JOIN layer_editions e ON e.layer = d.source_layer WHERE d.name = :name
""")


@dataclass(frozen=True)
class Refreshed:
    edition: int
    features: int
    seconds: float


def is_current(conn: Connection) -> bool:
    return bool(conn.execute(CURRENT_SQL, {"name": NAME}).scalar())


#: Session-level advisory lock: one rebuild at a time (the job worker, the CLI, a test). Taken
#: before the REPEATABLE READ transaction starts, so that a rebuild waiting for another one reads
#: the data as it is after it, and does not fail on the rows the other one replaced.
LOCK_KEY = 0x5A0E_C0DE


def refresh(engine: Engine, *, only_if_stale: bool = False) -> Refreshed | None:
    """Rebuild the coverage from one snapshot of the zones and plans, in one transaction
    (with ``only_if_stale``, nothing is done when another rebuild made it current meanwhile)."""
    start = time.perf_counter()
    with engine.connect() as conn:
        conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": LOCK_KEY})
        conn.commit()
        try:
            if only_if_stale and is_current(conn):
                conn.commit()
                return None
            conn.commit()
            rr = conn.execution_options(isolation_level="REPEATABLE READ")
            with rr.begin():
                edition = rr.execute(text(
                    "SELECT edition FROM layer_editions WHERE layer = 'zones'")).scalar_one()
                for statement in REFRESH_SQL:
                    rr.execute(text(statement))
                features = rr.execute(text("SELECT count(*) FROM zone_coverage")).scalar_one()
                seconds = time.perf_counter() - start
                rr.execute(text(
                    "UPDATE derived_layers SET built_from = :e, built_on = CURRENT_DATE,"
                    " built_at = now(), seconds = :s, features = :f WHERE name = :name"),
                    {"e": edition, "s": seconds, "f": features, "name": NAME})
        finally:
            conn.execution_options(isolation_level="READ COMMITTED")
            conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": LOCK_KEY})
            conn.commit()
    return Refreshed(edition, features, seconds)


def refresh_if_stale(engine: Engine, settle_seconds: float = 2.0) -> Refreshed | None:
    """Rebuild when the zones changed (or the day did), once the last write is a moment old:
    a planner importing several files in a row gets one rebuild, not one per file."""
    with engine.connect() as conn:
        row = conn.execute(STATE_SQL, {"name": NAME}).one_or_none()
        if row is None or row.current:
            return None
        age = conn.execute(text("SELECT extract(epoch FROM now() - :t)"),
                           {"t": row.changed_at}).scalar_one()
    if float(age) < settle_seconds:
        return None
    return refresh(engine, only_if_stale=True)
