"""An index on the scan a map sheet uses.

Deleting a draft sheet takes its scan out of the content-addressed store when no other sheet
uses the same file: "is there another sheet with this sha256" is answered from this index,
not by reading every sheet.

Revision ID: 0019
Revises: 0018
"""

from __future__ import annotations

from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_map_sheets_scan_sha256", "map_sheets", ["scan_sha256"])


def downgrade() -> None:
    op.drop_index("ix_map_sheets_scan_sha256", table_name="map_sheets")
