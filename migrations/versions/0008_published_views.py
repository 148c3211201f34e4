"""Views for the joins every reader needs: zones with their legend and plan; published sheets.

The zones-with-legend join was written out in six modules and the published-sheet predicate in
three. Each is now one view; PostgreSQL inlines simple views, so a ``geom && box`` condition on
the view is still an index condition on ``land_use_zones``' GiST index (tests show it with
EXPLAIN). A later migration that adds a column to ``land_use_zones`` or ``map_sheets`` that
readers need recreates the view (a view's column list is fixed when it is created).

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
        CREATE VIEW zones_with_legend AS
        SELECT z.id, z.plan_id, z.sheet_id, z.label, z.function_code, z.area_m2,
               z.coverage_pct, z.floors_min, z.floors_max, z.far, z.population, z.note, z.geom,
               l.name_vi, l.name_en, l.color,
               p.name AS plan_name, p.kind AS plan_kind, p.status AS plan_status
          FROM land_use_zones z
          JOIN land_use_legend l ON l.code = z.function_code
          JOIN plans p ON p.id = z.plan_id
    """)
    op.execute("""
        CREATE VIEW published_sheets AS
        SELECT s.* FROM map_sheets s
         WHERE s.state = 'published' AND s.cog_path IS NOT NULL
    """)


def downgrade() -> None:
    op.execute("DROP VIEW IF EXISTS published_sheets")
    op.execute("DROP VIEW IF EXISTS zones_with_legend")
