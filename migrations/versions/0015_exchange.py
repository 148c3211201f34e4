"""Two-way exchange with citizens: questions, consultations on draft plans, planning-information
requests, the e-mail outbox and the rate counters of anonymous posts.

Contact data (name, e-mail, phone) lives only in the base tables, which the web's public code
never selects from directly: the public layers read the ``public_*`` views below, which carry
public fields only (a developer can pull "comments on this draft plan" as OGC features without
any chance of a phone number riding along). ``organisations.admin_unit_id`` routes a question at
a point that no plan governs to the unit of the administrative area.

Revision ID: 0015
Revises: 0010
"""

from __future__ import annotations

import geoalchemy2
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0015"
down_revision = "0010"
branch_labels = None
depends_on = None

#: Public views: published rows only, no personal data; points for the OGC API (a comment on
#: a zone or on the whole plan gets its point on surface when posted; a request shows the
#: plot's point on surface, not the family's outline).
VIEWS = {
    "public_questions": """
        SELECT q.id, q.code, q.plan_id, q.organisation_id, o.name AS organisation,
               q.created_at::date AS asked_on, q.answered_at::date AS answered_on, q.due_on,
               q.public_body, q.public_answer, q.geom
        FROM questions q LEFT JOIN organisations o ON o.id = q.organisation_id
        WHERE q.status = 'answered' AND NOT q.is_private AND NOT q.hidden""",
    "public_comments": """
        SELECT c.id, c.consultation_id, k.plan_id, c.zone_id, c.topic, c.public_body,
               c.response_text, c.created_at::date AS posted_on,
               c.responded_at::date AS responded_on,
               c.geom
        FROM consultation_comments c JOIN consultations k ON k.id = c.consultation_id
        WHERE c.state = 'published'""",
    "public_info_requests": """
        SELECT r.id, r.code, r.organisation_id, o.name AS organisation, r.status,
               r.received_at::date AS received_on, r.due_on, r.answered_at::date AS answered_on,
               r.geom
        FROM info_requests r LEFT JOIN organisations o ON o.id = r.organisation_id""",
}

def upgrade() -> None:
    op.create_table('outbox',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('to_addr', sa.Text(), nullable=True),
    sa.Column('subject', sa.Text(), nullable=False),
    sa.Column('body', sa.Text(), nullable=True),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox'))
    )
    op.create_index('ix_outbox_due', 'outbox', ['next_attempt_at'], unique=False, postgresql_where='sent_at IS NULL')
    op.create_table('rate_counters',
    sa.Column('key', sa.String(length=80), nullable=False),
    sa.Column('window_start', sa.DateTime(timezone=True), nullable=False),
    sa.Column('hits', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('key', 'window_start', name=op.f('pk_rate_counters'))
    )
    op.create_table('consultations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('plan_id', sa.Integer(), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=True),
    sa.Column('opens_on', sa.Date(), nullable=False),
    sa.Column('closes_on', sa.Date(), nullable=False),
    sa.Column('summary', sa.Text(), nullable=True),
    sa.Column('report_text', sa.Text(), nullable=True),
    sa.Column('report_published_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('closes_on - opens_on + 1 BETWEEN 20 AND 30', name=op.f('ck_consultations_window_legal')),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_consultations_created_by_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisations.id'], name=op.f('fk_consultations_organisation_id_organisations'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['plan_id'], ['plans.id'], name=op.f('fk_consultations_plan_id_plans'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_consultations')),
    sa.UniqueConstraint('plan_id', name=op.f('uq_consultations_plan_id'))
    )
    op.create_index(op.f('ix_consultations_organisation_id'), 'consultations', ['organisation_id'], unique=False)
    op.create_table('info_requests',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('code', sa.String(length=16), nullable=False),
    sa.Column('token_sha256', sa.String(length=64), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=True),
    sa.Column('plot', geoalchemy2.types.Geometry(geometry_type='MULTIPOLYGON', srid=5897, dimension=2, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.Column('geom', geoalchemy2.types.Geometry(geometry_type='POINT', srid=5897, dimension=2, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.Column('area_m2', sa.Float(), nullable=False),
    sa.Column('purpose', sa.Text(), nullable=True),
    sa.Column('applicant_name', sa.Text(), nullable=True),
    sa.Column('contact_email', sa.Text(), nullable=True),
    sa.Column('contact_phone', sa.Text(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('working_days', sa.Integer(), nullable=False),
    sa.Column('answered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('answered_by', sa.Integer(), nullable=True),
    sa.Column('officer_name', sa.Text(), nullable=True),
    sa.Column('answer_note', sa.Text(), nullable=True),
    sa.Column('return_reason', sa.Text(), nullable=True),
    sa.Column('contact_erased_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status <> 'answered' OR officer_name IS NOT NULL", name=op.f('ck_info_requests_answered_signed')),
    sa.CheckConstraint("status <> 'returned' OR return_reason IS NOT NULL", name=op.f('ck_info_requests_returned_has_reason')),
    sa.CheckConstraint("status IN ('received', 'in_progress', 'answered', 'returned')", name=op.f('ck_info_requests_status_known')),
    sa.ForeignKeyConstraint(['answered_by'], ['users.id'], name=op.f('fk_info_requests_answered_by_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisations.id'], name=op.f('fk_info_requests_organisation_id_organisations'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_info_requests')),
    sa.UniqueConstraint('code', name=op.f('uq_info_requests_code'))
    )
    op.create_index('ix_info_requests_inbox', 'info_requests', ['organisation_id', 'status', 'due_on'], unique=False)
    op.create_index('ix_info_requests_received', 'info_requests', ['organisation_id', 'received_at'], unique=False)
    op.create_table('questions',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('code', sa.String(length=16), nullable=False),
    sa.Column('token_sha256', sa.String(length=64), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=True),
    sa.Column('plan_id', sa.Integer(), nullable=True),
    sa.Column('admin_unit_id', sa.Integer(), nullable=True),
    sa.Column('routed_by', sa.String(length=16), nullable=False),
    sa.Column('geom', geoalchemy2.types.Geometry(geometry_type='POINT', srid=5897, dimension=2, from_text='ST_GeomFromEWKT', name='geometry'), nullable=True),
    sa.Column('plot', geoalchemy2.types.Geometry(geometry_type='MULTIPOLYGON', srid=5897, dimension=2, from_text='ST_GeomFromEWKT', name='geometry'), nullable=True),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('asker_name', sa.Text(), nullable=True),
    sa.Column('contact_email', sa.Text(), nullable=True),
    sa.Column('contact_phone', sa.Text(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('is_private', sa.Boolean(), nullable=False),
    sa.Column('hidden', sa.Boolean(), nullable=False),
    sa.Column('reports', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('answered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('answered_by', sa.Integer(), nullable=True),
    sa.Column('answer_text', sa.Text(), nullable=True),
    sa.Column('answer_officer', sa.Text(), nullable=True),
    sa.Column('answer_document_ids', postgresql.JSONB(astext_type=sa.Text()), server_default='[]', nullable=False),
    sa.Column('answer_info_sheet', sa.Boolean(), nullable=False),
    sa.Column('public_body', sa.Text(), nullable=True),
    sa.Column('public_answer', sa.Text(), nullable=True),
    sa.Column('routing', postgresql.JSONB(astext_type=sa.Text()), server_default='[]', nullable=False),
    sa.Column('contact_erased_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("body <> ''", name=op.f('ck_questions_body_not_empty')),
    sa.CheckConstraint("routed_by IN ('plan', 'unit', 'none', 'staff')", name=op.f('ck_questions_routed_by_known')),
    sa.CheckConstraint("status <> 'answered' OR (answered_at IS NOT NULL AND answer_text IS NOT NULL)", name=op.f('ck_questions_answered_has_answer')),
    sa.CheckConstraint("status IN ('received', 'answered')", name=op.f('ck_questions_status_known')),
    sa.ForeignKeyConstraint(['admin_unit_id'], ['admin_units.id'], name=op.f('fk_questions_admin_unit_id_admin_units'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['answered_by'], ['users.id'], name=op.f('fk_questions_answered_by_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisations.id'], name=op.f('fk_questions_organisation_id_organisations'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['plan_id'], ['plans.id'], name=op.f('fk_questions_plan_id_plans'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_questions')),
    sa.UniqueConstraint('code', name=op.f('uq_questions_code'))
    )
    op.create_index('ix_questions_created', 'questions', ['organisation_id', 'created_at'], unique=False)
    op.create_index('ix_questions_inbox', 'questions', ['organisation_id', 'status', 'due_on'], unique=False)
    op.create_index(op.f('ix_questions_plan_id'), 'questions', ['plan_id'], unique=False)
    op.create_table('consultation_comments',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('consultation_id', sa.Integer(), nullable=False),
    sa.Column('zone_id', sa.Integer(), nullable=True),
    sa.Column('geom', geoalchemy2.types.Geometry(geometry_type='POINT', srid=5897, dimension=2, from_text='ST_GeomFromEWKT', name='geometry'), nullable=True),
    sa.Column('topic', sa.String(length=16), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('author_name', sa.Text(), nullable=True),
    sa.Column('contact_email', sa.Text(), nullable=True),
    sa.Column('contact_phone', sa.Text(), nullable=True),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('public_body', sa.Text(), nullable=True),
    sa.Column('reports', sa.Integer(), nullable=False),
    sa.Column('response_text', sa.Text(), nullable=True),
    sa.Column('responded_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('responded_by', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('contact_erased_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("body <> ''", name=op.f('ck_consultation_comments_body_not_empty')),
    sa.CheckConstraint("state IN ('pending', 'published', 'rejected')", name=op.f('ck_consultation_comments_state_known')),
    sa.CheckConstraint("topic IN ('su_dung_dat', 'chi_tieu', 'giao_thong', 'ha_tang', 'cong_cong', 'moi_truong', 'boi_thuong', 'khac')", name=op.f('ck_consultation_comments_topic_known')),
    sa.ForeignKeyConstraint(['consultation_id'], ['consultations.id'], name=op.f('fk_consultation_comments_consultation_id_consultations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['responded_by'], ['users.id'], name=op.f('fk_consultation_comments_responded_by_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['zone_id'], ['land_use_zones.id'], name=op.f('fk_consultation_comments_zone_id_land_use_zones'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_consultation_comments'))
    )
    op.create_index('ix_consultation_comments_state', 'consultation_comments', ['consultation_id', 'state'], unique=False)
    op.add_column('organisations', sa.Column('admin_unit_id', sa.Integer(), nullable=True))
    op.create_index(op.f('ix_organisations_admin_unit_id'), 'organisations', ['admin_unit_id'], unique=False)
    op.create_foreign_key(op.f('fk_organisations_admin_unit_id_admin_units'), 'organisations', 'admin_units', ['admin_unit_id'], ['id'], ondelete='SET NULL')
    op.create_index('ix_audit_log_object', 'audit_log', ['object_type', 'object_id', 'at'], unique=False)
    for name, sql in VIEWS.items():
        op.execute(f"CREATE VIEW {name} AS {sql}")


def downgrade() -> None:
    for name in VIEWS:
        op.execute(f"DROP VIEW IF EXISTS {name}")
    op.drop_index('ix_audit_log_object', table_name='audit_log')
    op.drop_constraint(op.f('fk_organisations_admin_unit_id_admin_units'), 'organisations', type_='foreignkey')
    op.drop_index(op.f('ix_organisations_admin_unit_id'), table_name='organisations')
    op.drop_column('organisations', 'admin_unit_id')
    op.drop_index('ix_consultation_comments_state', table_name='consultation_comments')
    op.drop_table('consultation_comments')
    op.drop_index(op.f('ix_questions_plan_id'), table_name='questions')
    op.drop_index('ix_questions_inbox', table_name='questions')
    op.drop_index('ix_questions_created', table_name='questions')
    op.drop_table('questions')
    op.drop_index('ix_info_requests_received', table_name='info_requests')
    op.drop_index('ix_info_requests_inbox', table_name='info_requests')
    op.drop_table('info_requests')
    op.drop_index(op.f('ix_consultations_organisation_id'), table_name='consultations')
    op.drop_table('consultations')
    op.drop_table('rate_counters')
    op.drop_index('ix_outbox_due', table_name='outbox', postgresql_where='sent_at IS NULL')
    op.drop_table('outbox')
