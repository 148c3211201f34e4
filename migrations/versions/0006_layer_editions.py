"""Layer editions: a counter per vector-tile layer (and the look-up), bumped by triggers on writes.

Rendered MVT tiles and look-up answers are cached in each server process under the edition; a
write to any table they draw from (in a request, the job worker, the CLI or psql) bumps the
edition in the same transaction, so the next request misses the cache and reads the new data.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

#: Which editions each table feeds: the vector-tile layers (zones carry legend colours and the
#: plan's kind and status), and the point look-up, which reads zones, legend, plans, their
#: documents and the accuracy of the sheets the zones were traced from.
FEEDS = {
    "land_use_zones": ("zones", "lookup"),
    "land_use_legend": ("zones", "lookup"),
    "plans": ("zones", "plans", "redlines", "lookup"),
    "red_lines": ("redlines",),
    "admin_units": ("units",),
    "map_sheets": ("lookup",),
    "plan_documents": ("lookup",),
    "documents": ("lookup",),
}
LAYERS = ("zones", "redlines", "plans", "units", "lookup")


def upgrade() -> None:
    op.create_table(
        "layer_editions",
        sa.Column("layer", sa.String(length=32), nullable=False),
        sa.Column("edition", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("changed_at", sa.DateTime(timezone=True), server_default=sa.text("now()"),
                  nullable=False),
        sa.PrimaryKeyConstraint("layer", name=op.f("pk_layer_editions")),
    )
    op.execute("INSERT INTO layer_editions (layer) VALUES "
               + ", ".join(f"('{name}')" for name in LAYERS))
    op.execute("""
CREATE FUNCTION bump_layer_editions() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE layer_editions SET edition = edition + 1, changed_at = now()
   WHERE layer = ANY (TG_ARGV);
  RETURN NULL;
END $$""")
    for table, layers in FEEDS.items():
        args = ", ".join(f"'{name}'" for name in layers)
        op.execute(f"CREATE TRIGGER {table}_layer_edition AFTER INSERT OR UPDATE OR DELETE OR "
                   f"TRUNCATE ON {table} FOR EACH STATEMENT EXECUTE FUNCTION "
                   f"bump_layer_editions({args})")


def downgrade() -> None:
    for table in FEEDS:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_layer_edition ON {table}")
    op.execute("DROP FUNCTION IF EXISTS bump_layer_editions()")
    op.drop_table("layer_editions")
