"""The zone coverage and overview made ready to draw: what a tile needs, in the web grid's CRS.

Why, measured on the city data (heaviest tile of its zoom, one client):
* ``geom_web``: a z14 tile of the coverage spent 147 of its 163 ms in ``ST_Transform`` (3,310
  zones, 44 µs each: PROJ's per-call set-up of the VN-2000 datum shift, not the vertices). The
  tables are rebuilt from the zones' edition anyway (layers/coverage.py), so the transform to
  EPSG:3857 is done there, once per zone; a WebMercatorQuad tile only simplifies and clips.
  Tiles of other grids still transform at request time.
* ``area_m2``: thinning by area compares a column the planner has statistics for; on
  ``ST_Area(geom)`` it guessed a third of the rows.
* the drawing fields (label, function, colour, plan kind and status), so that a tile reads
  these tables alone: joined to the zones view, the planner hashed all 528,091 zones for the
  1,087 of a z12 tile (80 of its 280 ms).

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

TABLES = ("zone_coverage", "zone_overview")


def upgrade() -> None:
    for table in TABLES:
        op.execute(f"ALTER TABLE {table} RENAME COLUMN zone_id TO id")
        op.execute(f"""
            ALTER TABLE {table}
              ADD COLUMN geom_web geometry(MultiPolygon, 3857),
              ADD COLUMN area_m2 double precision,
              ADD COLUMN label text,
              ADD COLUMN function_code varchar(8),
              ADD COLUMN color varchar(7),
              ADD COLUMN plan_kind varchar(16),
              ADD COLUMN plan_status varchar(16)""")
        op.execute(f"""
            UPDATE {table} t SET geom_web = ST_Transform(t.geom, 3857),
                   area_m2 = ST_Area(t.geom), label = z.label, function_code = z.function_code,
                   color = z.color, plan_kind = z.plan_kind, plan_status = z.plan_status
              FROM zones_with_legend z WHERE z.id = t.id""")
        for column in ("geom_web", "area_m2", "function_code", "plan_kind", "plan_status"):
            op.execute(f"ALTER TABLE {table} ALTER COLUMN {column} SET NOT NULL")
        op.execute(f"ANALYZE {table}")


def downgrade() -> None:
    for table in TABLES:
        op.execute(f"""
            ALTER TABLE {table} DROP COLUMN geom_web, DROP COLUMN area_m2, DROP COLUMN label,
              DROP COLUMN function_code, DROP COLUMN color, DROP COLUMN plan_kind,
              DROP COLUMN plan_status""")
        op.execute(f"ALTER TABLE {table} RENAME COLUMN id TO zone_id")
