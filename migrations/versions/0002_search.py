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

#: The small, never-TOASTed vector of a document's title, number and issuer: ranking reads it
#: for every candidate, which the full-text ``search_tsv`` (body included) would make slow.
DOCUMENT_TITLE_TSV = (
    "setweight(to_tsvector('simple'::regconfig, public.f_search_norm("
    "coalesce(title, '') || ' ' || coalesce(number, ''))), 'A') || "
    "setweight(to_tsvector('simple'::regconfig, public.f_search_norm(coalesce(issuer, ''))),"
    " 'B')"
)

#: (index name, table, column) of the trigram indexes over normalised names.
TRGM = [
    ("ix_plans_name_trgm", "plans", "name"),
    ("ix_admin_units_name_trgm", "admin_units", "name"),
    ("ix_land_use_zones_label_trgm", "land_use_zones", "label"),
]


#: (index name, table, column) of the prefix (btree) indexes over normalised decision numbers.
NUMBER_PREFIX = [
    ("ix_documents_number_prefix", "documents", "number"),
    ("ix_plans_decision_number_prefix", "plans", "decision_number"),
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
    op.execute(
        "ALTER TABLE documents ADD COLUMN title_tsv tsvector "
        f"GENERATED ALWAYS AS ({DOCUMENT_TITLE_TSV}) STORED"
    )
    op.execute("CREATE INDEX ix_documents_title_tsv ON documents USING gin (title_tsv)")
    for name, table, column in TRGM:
        op.execute(
            f"CREATE INDEX {name} ON {table} "
            f"USING gin (public.f_search_norm({column}) gin_trgm_ops)"
        )
    # Decision numbers by their number ("1234" finds "1234/QĐ-UBND" whatever the code): a
    # prefix search on the normalised text. A trigram index does not help here: "qd ubnd" is
    # in half the numbers, so every "1234 qd ubnd" would fetch and recheck thousands of rows.
    for name, table, column in NUMBER_PREFIX:
        op.execute(f"CREATE INDEX {name} ON {table} "
                   f"(public.f_search_norm({column}) text_pattern_ops)")
    # Library order (newest first) and the body-match candidates of the search.
    op.execute("CREATE INDEX ix_documents_issued_on ON documents "
               "(issued_on DESC NULLS LAST, id DESC)")
    op.create_index("ix_documents_doc_type", "documents", ["doc_type"])
    op.create_index("ix_plan_documents_document_id", "plan_documents", ["document_id"])


def downgrade() -> None:
    op.drop_index("ix_plan_documents_document_id", table_name="plan_documents")
    op.drop_index("ix_documents_doc_type", table_name="documents")
    op.drop_index("ix_documents_issued_on", table_name="documents")
    for name, _table, _column in TRGM + NUMBER_PREFIX:
        op.execute(f"DROP INDEX IF EXISTS {name}")
    op.execute("DROP INDEX IF EXISTS ix_documents_title_tsv")
    op.execute("ALTER TABLE documents DROP COLUMN IF EXISTS title_tsv")
    for table in TSV:
        op.execute(f"DROP INDEX IF EXISTS ix_{table}_search_tsv")
        op.execute(f"ALTER TABLE {table} DROP COLUMN IF EXISTS search_tsv")
    op.execute("DROP FUNCTION IF EXISTS public.f_search_norm(text)")
    op.execute("DROP FUNCTION IF EXISTS public.f_unaccent(text)")
