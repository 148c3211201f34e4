"""The planner's own choice of transformation, saved with the sheet and used by publish.

NULL is ``auto`` (the lowest honest leave-one-out error). A planner who knows the sheet (a
stiff Helmert for a sheet whose few points are all on one side, say) picks the method once; the
editor's report, the preview and every later publish use it (MapWarper's issue #88: the choice
was lost between the editor and the warp).

Revision ID: 0018
Revises: 0016
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0016"
branch_labels = None
depends_on = None

METHODS = ("helmert", "affine", "poly2", "poly3", "projective", "tps", "tps-smooth")


def upgrade() -> None:
    op.add_column("map_sheets", sa.Column("method_choice", sa.String(16), nullable=True))
    op.create_check_constraint(
        "map_sheets_method_choice_known", "map_sheets",
        "method_choice IS NULL OR method_choice IN ("
        + ", ".join(f"'{m}'" for m in METHODS) + ")")


def downgrade() -> None:
    op.drop_constraint("map_sheets_method_choice_known", "map_sheets", type_="check")
    op.drop_column("map_sheets", "method_choice")
