"""Search: an immutable unaccent wrapper, tsvector columns and GIN indexes (full text, trigram).

Revision ID: 0002
Revises: 0001

PostgreSQL has no Vietnamese stemmer, so text is searched with the 'simple' configuration over
``f_search_norm(text)``: lower case, accents removed by ``unaccent`` (đ becomes d), every run of
characters that is not a-z/0-9 turned into one space. That makes "1234/QĐ-UBND" the three words
"1234 qd ubnd" instead of one opaque file-path token, and makes the tokens the same in SQL and in
Python (``planning_gis.documents.text.fold``). ``unaccent`` itself is only STABLE (it reads a
dictionary by name), hence the IMMUTABLE wrapper naming the dictionary with its schema: the usual
recipe that lets an index or a generated column use it.
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

#: table -> the expression of its generated ``search_tsv`` column.
TSV = {
    "documents": (
        "setweight(to_tsvector('simple'::regconfig, public.f_search_norm("
        "coalesce(title, '') || ' ' || coalesce(number, ''))), 'A') || "
        "setweight(to_tsvector('simple'::regconfig, public.f_search_norm(coalesce(issuer, ''))),"
        " 'B') || "
        "setweight(to_tsvector('simple'::regconfig, public.f_search_norm(coalesce(text, ''))),"
        " 'D')"
    ),
    "plans": (
        "setweight(to_tsvector('simple'::regconfig, public.f_search_norm("
        "coalesce(name, '') || ' ' || coalesce(decision_number, ''))), 'A') || "
        "setweight(to_tsvector('simple'::regconfig, public.f_search_norm("
        "coalesce(approving_body, '') || ' ' || coalesce(organisation, ''))), 'B') || "
        "setweight(to_tsvector('simple'::regconfig, public.f_search_norm("
        "coalesce(description, ''))), 'D')"
    ),
    "land_use_zones": (
        "setweight(to_tsvector('simple'::regconfig, public.f_search_norm(label)), 'A') || "
        "setweight(to_tsvector('simple'::regconfig, public.f_search_norm(coalesce(note, ''))),"
        " 'D')"
    ),
    "admin_units": "to_tsvector('simple'::regconfig, public.f_search_norm(name))",
}

#: (index name, table, column) of the trigram indexes over normalised names and numbers.
TRGM = [
    ("ix_plans_name_trgm", "plans", "name"),
    ("ix_plans_decision_number_trgm", "plans", "decision_number"),
    ("ix_documents_number_trgm", "documents", "number"),
    ("ix_documents_title_trgm", "documents", "title"),
    ("ix_admin_units_name_trgm", "admin_units", "name"),
    ("ix_land_use_zones_label_trgm", "land_use_zones", "label"),
]


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS unaccent")
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.execute(
        """
        CREATE OR REPLACE FUNCTION public.f_unaccent(text) RETURNS text
        LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
        AS $$ SELECT public.unaccent('public.unaccent'::regdictionary, $1) $$
        """
    )
    op.execute(
        """
        CREATE OR REPLACE FUNCTION public.f_search_norm(text) RETURNS text
        LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
        AS $$ SELECT pg_catalog.btrim(pg_catalog.regexp_replace(
                 pg_catalog.lower(public.f_unaccent(pg_catalog.lower($1))),
                 '[^a-z0-9]+', ' ', 'g')) $$
        """
    )
    for table, expr in TSV.items():
        op.execute(
            f"ALTER TABLE {table} ADD COLUMN search_tsv tsvector "
            f"GENERATED ALWAYS AS ({expr}) STORED"
        )
        op.execute(f"CREATE INDEX ix_{table}_search_tsv ON {table} USING gin (search_tsv)")
    for name, table, column in TRGM:
        op.execute(
            f"CREATE INDEX {name} ON {table} "
            f"USING gin (public.f_search_norm({column}) gin_trgm_ops)"
        )
    # Library filters and the plan page's ordered list.
    op.create_index("ix_documents_issued_on", "documents", ["issued_on"])
    op.create_index("ix_documents_doc_type", "documents", ["doc_type"])
    op.create_index("ix_plan_documents_document_id", "plan_documents", ["document_id"])


def downgrade() -> None:
    op.drop_index("ix_plan_documents_document_id", table_name="plan_documents")
    op.drop_index("ix_documents_doc_type", table_name="documents")
    op.drop_index("ix_documents_issued_on", table_name="documents")
    for name, _table, _column in TRGM:
        op.execute(f"DROP INDEX IF EXISTS {name}")
    for table in TSV:
        op.execute(f"DROP INDEX IF EXISTS ix_{table}_search_tsv")
        op.execute(f"ALTER TABLE {table} DROP COLUMN IF EXISTS search_tsv")
    op.execute("DROP FUNCTION IF EXISTS public.f_search_norm(text)")
    op.execute("DROP FUNCTION IF EXISTS public.f_unaccent(text)")
