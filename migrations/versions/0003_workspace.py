"""Planner's workspace: organisations, users, audit log, sheet versions.

Revision ID: 0003
Revises: 0002

Self-contained: it only adds tables and columns, so it can be re-chained after any other
revision. ``plans.organisation`` (the name, kept) gains ``organisation_id``; existing plans are
linked to an organisation row of the same name so that access rules work on old data too.
"""

from __future__ import annotations

import geoalchemy2
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "organisations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"),
                  nullable=False),
        sa.CheckConstraint("name <> ''", name=op.f("ck_organisations_name_not_empty")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organisations")),
        sa.UniqueConstraint("name", name=op.f("uq_organisations_name")),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.Text(), nullable=False),
        sa.Column("full_name", sa.Text(), nullable=True),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("failed_logins", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"),
                  nullable=False),
        sa.CheckConstraint("role IN ('admin', 'planner')", name=op.f("ck_users_role_known")),
        sa.CheckConstraint("email = lower(email) AND email LIKE '%_@_%'",
                           name=op.f("ck_users_email_shape")),
        sa.CheckConstraint("role = 'admin' OR organisation_id IS NOT NULL",
                           name=op.f("ck_users_planner_has_organisation")),
        sa.CheckConstraint("failed_logins >= 0", name=op.f("ck_users_failed_non_negative")),
        sa.ForeignKeyConstraint(["organisation_id"], ["organisations.id"],
                                name=op.f("fk_users_organisation_id_organisations"),
                                ondelete="RESTRICT"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("email", name=op.f("uq_users_email")),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.text("now()"),
                  nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("user_email", sa.Text(), nullable=True),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("object_type", sa.Text(), nullable=True),
        sa.Column("object_id", sa.Text(), nullable=True),
        sa.Column("detail", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("ip", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_audit_log_user_id_users"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index(op.f("ix_audit_log_at"), "audit_log", ["at"], unique=False)
    op.add_column("plans", sa.Column("organisation_id", sa.Integer(), nullable=True))
    op.create_foreign_key(op.f("fk_plans_organisation_id_organisations"), "plans",
                          "organisations", ["organisation_id"], ["id"], ondelete="SET NULL")
    op.create_index(op.f("ix_plans_organisation_id"), "plans", ["organisation_id"], unique=False)
    op.execute("INSERT INTO organisations (name) SELECT DISTINCT organisation FROM plans"
               " WHERE organisation IS NOT NULL AND organisation <> ''")
    op.execute("UPDATE plans p SET organisation_id = o.id FROM organisations o"
               " WHERE o.name = p.organisation")
    op.add_column("map_sheets", sa.Column("scan_format", sa.String(length=8), nullable=True))
    op.add_column("map_sheets", sa.Column("current_version", sa.Integer(), nullable=True))
    op.add_column("map_sheets", sa.Column("uploaded_by", sa.Integer(), nullable=True))
    op.create_foreign_key(op.f("fk_map_sheets_uploaded_by_users"), "map_sheets", "users",
                          ["uploaded_by"], ["id"], ondelete="SET NULL")
    op.create_table(
        "sheet_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sheet_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("cog_path", sa.Text(), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("rmse_m", sa.Float(), nullable=True),
        sa.Column("loo_rmse_m", sa.Float(), nullable=True),
        sa.Column("points", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("neatline_wkt", sa.Text(), nullable=True),
        sa.Column("report", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("footprint", geoalchemy2.types.Geometry(geometry_type="POLYGON", srid=5897,
                  dimension=2, spatial_index=True, from_text="ST_GeomFromEWKT",
                  name="geometry"), nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"),
                  nullable=False),
        sa.CheckConstraint("version > 0", name=op.f("ck_sheet_versions_version_positive")),
        sa.ForeignKeyConstraint(["sheet_id"], ["map_sheets.id"],
                                name=op.f("fk_sheet_versions_sheet_id_map_sheets"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"],
                                name=op.f("fk_sheet_versions_created_by_users"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sheet_versions")),
        sa.UniqueConstraint("sheet_id", "version", name="uq_sheet_versions_sheet_version"),
    )


def downgrade() -> None:
    op.drop_table("sheet_versions")
    op.drop_constraint(op.f("fk_map_sheets_uploaded_by_users"), "map_sheets", type_="foreignkey")
    op.drop_column("map_sheets", "uploaded_by")
    op.drop_column("map_sheets", "current_version")
    op.drop_column("map_sheets", "scan_format")
    op.drop_index(op.f("ix_plans_organisation_id"), table_name="plans")
    op.drop_constraint(op.f("fk_plans_organisation_id_organisations"), "plans",
                       type_="foreignkey")
    op.drop_column("plans", "organisation_id")
    op.drop_index(op.f("ix_audit_log_at"), table_name="audit_log")
    op.drop_table("audit_log")
    op.drop_table("users")
    op.drop_table("organisations")
