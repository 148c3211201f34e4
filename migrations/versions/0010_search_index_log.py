"""Ranked search: a change log of the document library that each node's text index replays.

Revision ID: 0010
Revises: 0014

The ranked search (``planning_gis.documents.text_index``) keeps a BM25 index on each app node's
disk; PostgreSQL stays the one source of truth. Every write that changes what a document's
entry holds — the document row (title, number, issuer, type, date, text) and its plans — logs
the document's id here, in the writer's own transaction, with the writer's transaction id. A
node replays the rows it has not applied, and knows from the transaction ids when rows that were
still invisible (transactions in progress) may have appeared: see ``text_index.sync``.
``TRUNCATE documents`` logs a NULL id: rebuild everything.
"""

from __future__ import annotations

from alembic import op

revision = "0010"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE document_index_log (
            seq bigserial PRIMARY KEY,
            document_id integer,
            txid xid8 NOT NULL DEFAULT pg_current_xact_id(),
            logged_at timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    op.execute("CREATE INDEX ix_document_index_log_txid ON document_index_log (txid)")
    op.execute(
        """
        CREATE FUNCTION log_document_change() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF TG_OP = 'TRUNCATE' THEN
            INSERT INTO document_index_log (document_id) VALUES (NULL);
          ELSIF TG_TABLE_NAME = 'documents' THEN
            INSERT INTO document_index_log (document_id)
              VALUES (CASE WHEN TG_OP = 'DELETE' THEN OLD.id ELSE NEW.id END);
          ELSE
            INSERT INTO document_index_log (document_id)
              VALUES (CASE WHEN TG_OP = 'DELETE' THEN OLD.document_id ELSE NEW.document_id END);
            IF TG_OP = 'UPDATE' AND OLD.document_id <> NEW.document_id THEN
              INSERT INTO document_index_log (document_id) VALUES (OLD.document_id);
            END IF;
          END IF;
          RETURN NULL;
        END $$
        """
    )
    for table in ("documents", "plan_documents"):
        op.execute(f"CREATE TRIGGER {table}_index_log AFTER INSERT OR UPDATE OR DELETE ON {table} "
                   "FOR EACH ROW EXECUTE FUNCTION log_document_change()")
        op.execute(f"CREATE TRIGGER {table}_index_log_truncate AFTER TRUNCATE ON {table} "
                   "FOR EACH STATEMENT EXECUTE FUNCTION log_document_change()")


def downgrade() -> None:
    for table in ("documents", "plan_documents"):
        op.execute(f"DROP TRIGGER IF EXISTS {table}_index_log ON {table}")
        op.execute(f"DROP TRIGGER IF EXISTS {table}_index_log_truncate ON {table}")
    op.execute("DROP FUNCTION IF EXISTS log_document_change()")
    op.execute("DROP TABLE IF EXISTS document_index_log")
