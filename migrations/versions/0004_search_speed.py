"""Search at 10 000 documents: a small title vector, decision numbers by prefix, newest first.

Revision ID: 0004
Revises: 0003

Measured with ``bench/documents.py`` at 10 000 documents, three parts of 0002 were slow:

* ranking documents read every matching ``search_tsv`` (body text, TOASTed): a word as common as
  "quy hoạch" matches half the library. ``title_tsv`` (title, number, issuer) is small and is what
  the search ranks on; the body vector only filters, and ranks the newest few hundred matches.
* trigram indexes on decision numbers: "qd ubnd" is in half the numbers, so every "1234 qd ubnd"
  fetched and rechecked thousands of rows. Numbers are now found by their number, a prefix search
  on a btree (``text_pattern_ops``) index over the normalised text, and ranked by trigram
  similarity among those few; the trigram indexes on numbers and titles are dropped.
* the library and the body-match candidates order by (issued_on DESC NULLS LAST, id DESC): the
  index now has that order.
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

DOCUMENT_TITLE_TSV = (
    "setweight(to_tsvector('simple'::regconfig, public.f_search_norm("
    "coalesce(title, '') || ' ' || coalesce(number, ''))), 'A') || "
    "setweight(to_tsvector('simple'::regconfig, public.f_search_norm(coalesce(issuer, ''))),"
    " 'B')"
)
NUMBER_PREFIX = [
    ("ix_documents_number_prefix", "documents", "number"),
    ("ix_plans_decision_number_prefix", "plans", "decision_number"),
]
OLD_TRGM = [
    ("ix_plans_decision_number_trgm", "plans", "decision_number"),
    ("ix_documents_number_trgm", "documents", "number"),
    ("ix_documents_title_trgm", "documents", "title"),
]


def upgrade() -> None:
    op.execute(
        "ALTER TABLE documents ADD COLUMN title_tsv tsvector "
        f"GENERATED ALWAYS AS ({DOCUMENT_TITLE_TSV}) STORED"
    )
    op.execute("CREATE INDEX ix_documents_title_tsv ON documents USING gin (title_tsv)")
    for name, _table, _column in OLD_TRGM:
        op.execute(f"DROP INDEX IF EXISTS {name}")
    for name, table, column in NUMBER_PREFIX:
        op.execute(f"CREATE INDEX {name} ON {table} "
                   f"(public.f_search_norm({column}) text_pattern_ops)")
    op.drop_index("ix_documents_issued_on", table_name="documents")
    op.execute("CREATE INDEX ix_documents_issued_on ON documents "
               "(issued_on DESC NULLS LAST, id DESC)")


def downgrade() -> None:
    op.drop_index("ix_documents_issued_on", table_name="documents")
    op.create_index("ix_documents_issued_on", "documents", ["issued_on"])
    for name, _table, _column in NUMBER_PREFIX:
        op.execute(f"DROP INDEX IF EXISTS {name}")
    for name, table, column in OLD_TRGM:
        op.execute(f"CREATE INDEX {name} ON {table} "
                   f"USING gin (public.f_search_norm({column}) gin_trgm_ops)")
    op.execute("DROP INDEX IF EXISTS ix_documents_title_tsv")
    op.execute("ALTER TABLE documents DROP COLUMN IF EXISTS title_tsv")
