"""Planning schema: plans, documents, map sheets, control points, zones, red lines, units.

The extensions are normally created by run.sh as postgres (template1); IF NOT EXISTS keeps
this migration runnable by the non-superuser service role.

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-25 17:48:07.978654
"""

from __future__ import annotations

import geoalchemy2
import sqlalchemy as sa
from alembic import op

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    for ext in ("postgis", "unaccent", "pg_trgm"):
        op.execute(f"CREATE EXTENSION IF NOT EXISTS {ext}")
    op.create_table('admin_units',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('level', sa.String(length=16), nullable=False),
    sa.Column('code', sa.String(length=16), nullable=True),
    sa.Column('parent_id', sa.Integer(), nullable=True),
    sa.Column('valid_from', sa.Date(), nullable=True),
    sa.Column('valid_to', sa.Date(), nullable=True),
    sa.Column('successor_id', sa.Integer(), nullable=True),
    sa.Column('is_fictional', sa.Boolean(), nullable=False),
    sa.Column('geom', geoalchemy2.types.Geometry(geometry_type='MULTIPOLYGON', srid=5897, dimension=2, from_text='ST_GeomFromEWKT', name='geometry'), nullable=True),
    sa.CheckConstraint("level IN ('thanh_pho', 'quan', 'huyen', 'thi_xa', 'phuong', 'xa', 'thi_tran')", name=op.f('ck_admin_units_level_known')),
    sa.CheckConstraint('geom IS NULL OR ST_IsValid(geom)', name=op.f('ck_admin_units_geom_valid')),
    sa.CheckConstraint('valid_to IS NULL OR valid_from IS NULL OR valid_to >= valid_from', name=op.f('ck_admin_units_valid_dates')),
    sa.ForeignKeyConstraint(['parent_id'], ['admin_units.id'], name=op.f('fk_admin_units_parent_id_admin_units')),
    sa.ForeignKeyConstraint(['successor_id'], ['admin_units.id'], name=op.f('fk_admin_units_successor_id_admin_units')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_admin_units'))
    )
    op.create_table('documents',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('doc_type', sa.String(length=16), nullable=False),
    sa.Column('number', sa.Text(), nullable=True),
    sa.Column('issued_on', sa.Date(), nullable=True),
    sa.Column('issuer', sa.Text(), nullable=True),
    sa.Column('title', sa.Text(), nullable=False),
    sa.Column('file_sha256', sa.String(length=64), nullable=False),
    sa.Column('file_size', sa.BigInteger(), nullable=False),
    sa.Column('file_name', sa.Text(), nullable=True),
    sa.Column('page_count', sa.Integer(), nullable=True),
    sa.Column('text', sa.Text(), nullable=True),
    sa.Column('is_fictional', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("doc_type IN ('quyet_dinh', 'thuyet_minh', 'quy_dinh', 'ban_ve', 'dieu_chinh')", name=op.f('ck_documents_type_known')),
    sa.CheckConstraint("file_sha256 ~ '^[0-9a-f]{64}$'", name=op.f('ck_documents_sha256_hex')),
    sa.CheckConstraint('file_size > 0', name=op.f('ck_documents_size_positive')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_documents')),
    sa.UniqueConstraint('file_sha256', name=op.f('uq_documents_file_sha256'))
    )
    op.create_table('land_use_legend',
    sa.Column('code', sa.String(length=8), nullable=False),
    sa.Column('name_vi', sa.Text(), nullable=False),
    sa.Column('name_en', sa.Text(), nullable=False),
    sa.Column('color', sa.String(length=7), nullable=False),
    sa.Column('category', sa.String(length=32), nullable=False),
    sa.Column('sort_order', sa.Integer(), nullable=False),
    sa.CheckConstraint("color ~ '^#[0-9a-fA-F]{6}$'", name=op.f('ck_land_use_legend_color_hex')),
    sa.PrimaryKeyConstraint('code', name=op.f('pk_land_use_legend'))
    )
    op.create_table('plans',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('scale_denominator', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('decision_number', sa.Text(), nullable=True),
    sa.Column('decision_date', sa.Date(), nullable=True),
    sa.Column('approving_body', sa.Text(), nullable=True),
    sa.Column('organisation', sa.Text(), nullable=True),
    sa.Column('valid_from', sa.Date(), nullable=True),
    sa.Column('valid_to', sa.Date(), nullable=True),
    sa.Column('supersedes_id', sa.Integer(), nullable=True),
    sa.Column('area_ha', sa.Numeric(precision=12, scale=2), nullable=True),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('is_fictional', sa.Boolean(), nullable=False),
    sa.Column('geom', geoalchemy2.types.Geometry(geometry_type='MULTIPOLYGON', srid=5897, dimension=2, from_text='ST_GeomFromEWKT', name='geometry'), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("kind IN ('chung', 'phan_khu', 'tuyen_duong', 'cum_cong_nghiep', 'chi_tiet')", name=op.f('ck_plans_kind_known')),
    sa.CheckConstraint("status IN ('draft', 'approved', 'amended', 'superseded')", name=op.f('ck_plans_status_known')),
    sa.CheckConstraint('geom IS NULL OR ST_IsValid(geom)', name=op.f('ck_plans_geom_valid')),
    sa.CheckConstraint('scale_denominator IS NULL OR scale_denominator > 0', name=op.f('ck_plans_scale_positive')),
    sa.CheckConstraint('supersedes_id IS NULL OR supersedes_id <> id', name=op.f('ck_plans_not_self_superseding')),
    sa.CheckConstraint('valid_to IS NULL OR valid_from IS NULL OR valid_to >= valid_from', name=op.f('ck_plans_valid_dates')),
    sa.ForeignKeyConstraint(['supersedes_id'], ['plans.id'], name=op.f('fk_plans_supersedes_id_plans'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_plans'))
    )
    op.create_table('document_pages',
    sa.Column('document_id', sa.Integer(), nullable=False),
    sa.Column('page_no', sa.Integer(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('source', sa.String(length=8), nullable=False),
    sa.CheckConstraint("source IN ('text', 'ocr', 'none')", name=op.f('ck_document_pages_source_known')),
    sa.CheckConstraint('page_no >= 1', name=op.f('ck_document_pages_page_positive')),
    sa.ForeignKeyConstraint(['document_id'], ['documents.id'], name=op.f('fk_document_pages_document_id_documents'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('document_id', 'page_no', name=op.f('pk_document_pages'))
    )
    op.create_table('map_sheets',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('plan_id', sa.Integer(), nullable=False),
    sa.Column('title', sa.Text(), nullable=False),
    sa.Column('scan_sha256', sa.String(length=64), nullable=False),
    sa.Column('scan_size', sa.BigInteger(), nullable=False),
    sa.Column('scan_name', sa.Text(), nullable=True),
    sa.Column('width', sa.Integer(), nullable=False),
    sa.Column('height', sa.Integer(), nullable=False),
    sa.Column('crs_epsg', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('method', sa.String(length=16), nullable=True),
    sa.Column('rmse_m', sa.Float(), nullable=True),
    sa.Column('loo_rmse_m', sa.Float(), nullable=True),
    sa.Column('check_error_m', sa.Float(), nullable=True),
    sa.Column('cog_path', sa.Text(), nullable=True),
    sa.Column('neatline', geoalchemy2.types.Geometry(geometry_type='POLYGON', dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry'), nullable=True),
    sa.Column('footprint', geoalchemy2.types.Geometry(geometry_type='POLYGON', srid=5897, dimension=2, from_text='ST_GeomFromEWKT', name='geometry'), nullable=True),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("scan_sha256 ~ '^[0-9a-f]{64}$'", name=op.f('ck_map_sheets_sha256_hex')),
    sa.CheckConstraint("state <> 'published' OR cog_path IS NOT NULL", name=op.f('ck_map_sheets_published_has_cog')),
    sa.CheckConstraint("state IN ('uploaded', 'control_points', 'georeferenced', 'published')", name=op.f('ck_map_sheets_state_known')),
    sa.CheckConstraint('neatline IS NULL OR ST_IsValid(neatline)', name=op.f('ck_map_sheets_neatline_valid')),
    sa.CheckConstraint('width > 0 AND height > 0', name=op.f('ck_map_sheets_size_positive')),
    sa.ForeignKeyConstraint(['plan_id'], ['plans.id'], name=op.f('fk_map_sheets_plan_id_plans'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_map_sheets'))
    )
    op.create_table('plan_documents',
    sa.Column('plan_id', sa.Integer(), nullable=False),
    sa.Column('document_id', sa.Integer(), nullable=False),
    sa.Column('sort_order', sa.Integer(), server_default='0', nullable=False),
    sa.ForeignKeyConstraint(['document_id'], ['documents.id'], name=op.f('fk_plan_documents_document_id_documents'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['plan_id'], ['plans.id'], name=op.f('fk_plan_documents_plan_id_plans'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('plan_id', 'document_id', name=op.f('pk_plan_documents'))
    )
    op.create_table('red_lines',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('plan_id', sa.Integer(), nullable=False),
    sa.Column('road_name', sa.Text(), nullable=True),
    sa.Column('width_m', sa.Float(), nullable=True),
    sa.Column('geom', geoalchemy2.types.Geometry(geometry_type='MULTILINESTRING', srid=5897, dimension=2, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.CheckConstraint('ST_IsValid(geom) AND NOT ST_IsEmpty(geom)', name=op.f('ck_red_lines_geom_valid')),
    sa.CheckConstraint('width_m IS NULL OR width_m > 0', name=op.f('ck_red_lines_width_positive')),
    sa.ForeignKeyConstraint(['plan_id'], ['plans.id'], name=op.f('fk_red_lines_plan_id_plans'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_red_lines'))
    )
    op.create_index(op.f('ix_red_lines_plan_id'), 'red_lines', ['plan_id'], unique=False)
    op.create_table('control_points',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('sheet_id', sa.Integer(), nullable=False),
    sa.Column('label', sa.Text(), nullable=True),
    sa.Column('pixel_x', sa.Float(), nullable=False),
    sa.Column('pixel_y', sa.Float(), nullable=False),
    sa.Column('easting', sa.Float(), nullable=False),
    sa.Column('northing', sa.Float(), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('residual_m', sa.Float(), nullable=True),
    sa.Column('loo_error_m', sa.Float(), nullable=True),
    sa.CheckConstraint('pixel_x >= 0 AND pixel_y >= 0', name=op.f('ck_control_points_pixel_non_negative')),
    sa.ForeignKeyConstraint(['sheet_id'], ['map_sheets.id'], name=op.f('fk_control_points_sheet_id_map_sheets'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_control_points')),
    sa.UniqueConstraint('sheet_id', 'pixel_x', 'pixel_y', name='uq_control_points_pixel')
    )
    op.create_index(op.f('ix_control_points_sheet_id'), 'control_points', ['sheet_id'], unique=False)
    op.create_table('land_use_zones',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('plan_id', sa.Integer(), nullable=False),
    sa.Column('sheet_id', sa.Integer(), nullable=True),
    sa.Column('label', sa.Text(), nullable=False),
    sa.Column('function_code', sa.String(length=8), nullable=False),
    sa.Column('area_m2', sa.Float(), nullable=True),
    sa.Column('coverage_pct', sa.Float(), nullable=True),
    sa.Column('floors_min', sa.Integer(), nullable=True),
    sa.Column('floors_max', sa.Integer(), nullable=True),
    sa.Column('far', sa.Float(), nullable=True),
    sa.Column('population', sa.Integer(), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('geom', geoalchemy2.types.Geometry(geometry_type='MULTIPOLYGON', srid=5897, dimension=2, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.CheckConstraint("label <> ''", name=op.f('ck_land_use_zones_label_not_empty')),
    sa.CheckConstraint('ST_IsValid(geom) AND NOT ST_IsEmpty(geom)', name=op.f('ck_land_use_zones_geom_valid')),
    sa.CheckConstraint('area_m2 IS NULL OR area_m2 > 0', name=op.f('ck_land_use_zones_area_positive')),
    sa.CheckConstraint('coverage_pct IS NULL OR (coverage_pct >= 0 AND coverage_pct <= 100)', name=op.f('ck_land_use_zones_coverage_range')),
    sa.CheckConstraint('far IS NULL OR far >= 0', name=op.f('ck_land_use_zones_far_non_negative')),
    sa.CheckConstraint('floors_max IS NULL OR floors_max >= 0', name=op.f('ck_land_use_zones_floors_max_non_negative')),
    sa.CheckConstraint('floors_min IS NULL OR floors_max IS NULL OR floors_max >= floors_min', name=op.f('ck_land_use_zones_floors_order')),
    sa.CheckConstraint('floors_min IS NULL OR floors_min >= 0', name=op.f('ck_land_use_zones_floors_min_non_negative')),
    sa.CheckConstraint('population IS NULL OR population >= 0', name=op.f('ck_land_use_zones_population_non_negative')),
    sa.ForeignKeyConstraint(['function_code'], ['land_use_legend.code'], name=op.f('fk_land_use_zones_function_code_land_use_legend')),
    sa.ForeignKeyConstraint(['plan_id'], ['plans.id'], name=op.f('fk_land_use_zones_plan_id_plans'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['sheet_id'], ['map_sheets.id'], name=op.f('fk_land_use_zones_sheet_id_map_sheets'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_land_use_zones'))
    )
    op.create_index(op.f('ix_land_use_zones_function_code'), 'land_use_zones', ['function_code'], unique=False)
    op.create_index(op.f('ix_land_use_zones_plan_id'), 'land_use_zones', ['plan_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_land_use_zones_plan_id'), table_name='land_use_zones')
    op.drop_index(op.f('ix_land_use_zones_function_code'), table_name='land_use_zones')
    op.drop_table('land_use_zones')
    op.drop_index(op.f('ix_control_points_sheet_id'), table_name='control_points')
    op.drop_table('control_points')
    op.drop_index(op.f('ix_red_lines_plan_id'), table_name='red_lines')
    op.drop_table('red_lines')
    op.drop_table('plan_documents')
    op.drop_table('map_sheets')
    op.drop_table('document_pages')
    op.drop_table('plans')
    op.drop_table('land_use_legend')
    op.drop_table('documents')
    op.drop_table('admin_units')
