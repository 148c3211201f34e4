"""History that is never overwritten: every change to a zone, a red line or a plan keeps the
state before it, with the time, the decision and the user that made it.

Why triggers: a zone is written by the workspace, the command line, the demo loader, psql; only
a trigger sees them all. Statement-level triggers with transition tables write one
``INSERT ... SELECT`` per statement (a zones import of 5,000 rows is one history statement, not
5,000 plpgsql calls); an UPDATE that changes nothing is not recorded. The writer says why it
writes with transaction-local settings (``planning_gis.history.context``): ``planning.decision``,
``planning.effective_on`` (the date the change takes effect in law, usually the decision's),
``planning.user_id``, ``planning.user_email``, ``planning.note``; without them a change is
recorded with its transaction time only.

Each row of ``history`` is one changed row: ``op`` I/U/D, its state before (``old_row``,
``old_geom``; NULL for an insert) and after (``new_row``, ``geom``; for a delete ``geom`` is the
old geometry, where the change is drawn). The history triggers touch no other table, so the
``layer_editions`` statement triggers (0006) and the derived ``zone_coverage`` (0009, 0014) work
as before: the edit that writes history bumps the zones' edition in the same statement.

Revision ID: 0016
Revises: 0015
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects.postgresql import JSONB

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

#: The columns each history trigger keeps in ``old_row``/``new_row`` (the geometry apart; the
#: generated search vectors and the derived road reserve are left out).
TRACKED = {
    "land_use_zones": ("plan_id", "sheet_id", "label", "function_code", "area_m2",
                       "coverage_pct", "floors_min", "floors_max", "far", "population", "note"),
    "red_lines": ("plan_id", "road_name", "width_m", "cross_section", "setback_m"),
    "plans": ("name", "kind", "scale_denominator", "status", "decision_number", "decision_date",
              "approving_body", "organisation", "organisation_id", "valid_from", "valid_to",
              "supersedes_id", "area_ha", "description"),
}
#: The plan a row belongs to (a plan belongs to itself).
PLAN_OF = {"land_use_zones": "plan_id", "red_lines": "plan_id", "plans": "id"}

_CONTEXT = """
  nullif(current_setting('planning.effective_on', true), '')::date,
  nullif(current_setting('planning.decision', true), ''),
  nullif(current_setting('planning.user_id', true), '')::integer,
  nullif(current_setting('planning.user_email', true), ''),
  nullif(current_setting('planning.note', true), '')"""
_INTO = ("INSERT INTO history (table_name, row_id, plan_id, op, old_row, new_row, old_geom, geom,"
         " effective_on, decision, user_id, user_email, note)")


def _row(alias: str, table: str) -> str:
    pairs = ", ".join(f"'{c}', {alias}.{c}" for c in TRACKED[table])
    return f"jsonb_build_object({pairs})"


def _functions(table: str) -> dict[str, str]:
    plan = PLAN_OF[table]
    ins = (f"{_INTO} SELECT '{table}', n.id, n.{plan}, 'I', NULL, {_row('n', table)}, NULL, n.geom,"
           f"{_CONTEXT} FROM history_new n")
    upd = (f"{_INTO} SELECT '{table}', n.id, n.{plan}, 'U', {_row('o', table)}, "
           f"{_row('n', table)}, o.geom, n.geom,{_CONTEXT} FROM history_old o "
           "JOIN history_new n ON n.id = o.id WHERE o IS DISTINCT FROM n")
    dele = (f"{_INTO} SELECT '{table}', o.id, o.{plan}, 'D', {_row('o', table)}, NULL, o.geom, "
            f"o.geom,{_CONTEXT} FROM history_old o")
    return {"insert": ins, "update": upd, "delete": dele}


def _transition(event: str) -> str:
    return {"insert": "NEW TABLE AS history_new",
            "update": "OLD TABLE AS history_old NEW TABLE AS history_new",
            "delete": "OLD TABLE AS history_old"}[event]


def upgrade() -> None:
    op.create_table(
        "history",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("table_name", sa.String(length=32), nullable=False),
        sa.Column("row_id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=True),
        sa.Column("op", sa.String(length=1), nullable=False),
        sa.Column("old_row", JSONB(), nullable=True),
        sa.Column("new_row", JSONB(), nullable=True),
        sa.Column("old_geom", Geometry(srid=5897, spatial_index=False), nullable=True),
        sa.Column("geom", Geometry(srid=5897, spatial_index=False), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), server_default=sa.text("now()"),
                  nullable=False),
        sa.Column("effective_on", sa.Date(), nullable=True),
        sa.Column("decision", sa.Text(), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("user_email", sa.Text(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.CheckConstraint("op IN ('I', 'U', 'D')", name=op.f("ck_history_op_known")),
        sa.CheckConstraint("table_name IN ('land_use_zones', 'red_lines', 'plans')",
                           name=op.f("ck_history_table_known")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_history")),
    )
    op.create_index("ix_history_row", "history", ["table_name", "row_id", "id"])
    op.create_index("ix_history_plan", "history", ["plan_id", "table_name"])
    op.create_index("idx_history_geom", "history", ["geom"], postgresql_using="gist")
    op.create_index("idx_history_old_geom", "history", ["old_geom"], postgresql_using="gist")
    for table in TRACKED:
        for event, body in _functions(table).items():
            name = f"history_{table}_{event}"
            op.execute(f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$\n"
                       f"BEGIN\n  {body};\n  RETURN NULL;\nEND $$")
            op.execute(f"CREATE TRIGGER {name} AFTER {event.upper()} ON {table} "
                       f"REFERENCING {_transition(event)} FOR EACH STATEMENT "
                       f"EXECUTE FUNCTION {name}()")
    # The change layer (layers/registry.py "changes"): every recorded change of a zone, drawn
    # where it happened, with what it was and what it became.
    op.execute("""
        CREATE VIEW zone_changes AS
        SELECT h.id, h.row_id AS zone_id, h.plan_id, p.name AS plan_name, h.op,
               CASE h.op WHEN 'I' THEN 'added' WHEN 'D' THEN 'removed'
                    WHEN 'U' THEN CASE
                      WHEN h.old_row->>'function_code' IS DISTINCT FROM h.new_row->>'function_code'
                        THEN 'function'
                      WHEN NOT ST_Equals(h.old_geom, h.geom) THEN 'geometry'
                      ELSE 'indicators' END END AS change,
               coalesce(h.new_row->>'label', h.old_row->>'label') AS label,
               h.old_row->>'function_code' AS function_from,
               h.new_row->>'function_code' AS function_to,
               coalesce(h.effective_on, h.recorded_at::date) AS effective_on,
               h.recorded_at, h.decision, h.user_email, h.geom
        FROM history h JOIN plans p ON p.id = h.plan_id
        WHERE h.table_name = 'land_use_zones'
          -- an insert without a decision is the plan's original content, not a change
          AND NOT (h.op = 'I' AND h.effective_on IS NULL AND h.decision IS NULL)
          -- nor is linking a zone to the sheet it was traced from
          AND (h.op <> 'U' OR (h.old_row - 'sheet_id' - 'note') IS DISTINCT FROM
               (h.new_row - 'sheet_id' - 'note') OR NOT ST_Equals(h.old_geom, h.geom))""")


def downgrade() -> None:
    op.execute("DROP VIEW IF EXISTS zone_changes")
    for table in TRACKED:
        for event in ("insert", "update", "delete"):
            name = f"history_{table}_{event}"
            op.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
            op.execute(f"DROP FUNCTION IF EXISTS {name}()")
    op.drop_table("history")
