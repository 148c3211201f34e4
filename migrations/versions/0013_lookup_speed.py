"""Look-up at city size: the plan that replaces a plan, found by index.

Each point look-up asks, for every plan under the point, which approved plan supersedes it. With
1,588 plans that question was a sequential scan per plan: 2.2 of the 4.1 ms of a point's
statement on the city data (EXPLAIN ANALYZE, 7 plans under the point).

Revision ID: 0013
Revises: 0011
"""

from __future__ import annotations

from alembic import op

revision = "0013"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(op.f("ix_plans_supersedes_id"), "plans", ["supersedes_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_plans_supersedes_id"), table_name="plans")
