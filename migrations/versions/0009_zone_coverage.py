"""Zone coverage: the zones of the governing plan at each place, precomputed for mid-zoom tiles.

Plans overlap (a master plan, zoning plans and several detailed plans over one block). At zoom
14-15 a tile over the inner districts held 40 000 overlapping zones (3 MB, 1.9 s to render) of
which a map can show only the top one at each place. ``zone_coverage`` holds, for every zone of a
plan in force, the part of it where its plan governs (the most detailed plan in force, as the
look-up ranks them): a single layer without overlaps, rebuilt from the zones' edition (migration
0006) by :mod:`layers.coverage`. ``derived_layers`` records which edition and day it was built
from; ``derived_layer_current`` tells a tile query whether to read it or the live zones.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
        CREATE TABLE zone_coverage (
            zone_id integer PRIMARY KEY,
            plan_id integer NOT NULL,
            geom geometry(MultiPolygon, 5897) NOT NULL
        )""")
    op.execute("CREATE INDEX idx_zone_coverage_geom ON zone_coverage USING gist (geom)")
    # The zones of the master and zoning plans in force: all a map shows at city and district
    # scale (z10-z13), a few percent of the zones, with an index of their own.
    op.execute("""
        CREATE TABLE zone_overview (
            zone_id integer PRIMARY KEY,
            plan_id integer NOT NULL,
            geom geometry(MultiPolygon, 5897) NOT NULL
        )""")
    op.execute("CREATE INDEX idx_zone_overview_geom ON zone_overview USING gist (geom)")
    op.execute("""
        CREATE TABLE derived_layers (
            name varchar(32) PRIMARY KEY,
            source_layer varchar(32) NOT NULL REFERENCES layer_editions (layer),
            built_from bigint,
            built_on date,
            built_at timestamptz,
            seconds double precision,
            features integer
        )""")
    op.execute("INSERT INTO derived_layers (name, source_layer) VALUES ('zone_coverage', 'zones')")
    # STABLE and column-free: in a tile query it is a one-time filter, evaluated once.
    op.execute("""
        CREATE FUNCTION derived_layer_current(layer_name text) RETURNS boolean
        LANGUAGE sql STABLE AS $$
          SELECT coalesce(bool_and(d.built_from = e.edition AND d.built_on = CURRENT_DATE), false)
            FROM derived_layers d JOIN layer_editions e ON e.layer = d.source_layer
           WHERE d.name = layer_name
        $$""")


def downgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS derived_layer_current(text)")
    op.execute("DROP TABLE IF EXISTS derived_layers")
    op.execute("DROP TABLE IF EXISTS zone_overview")
    op.execute("DROP TABLE IF EXISTS zone_coverage")
