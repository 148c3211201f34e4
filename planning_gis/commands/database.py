"""``import_maps.py db``: migrate the schema and load the legend."""

from __future__ import annotations

import argparse

from planning_gis import legend, migrate
from planning_gis.db import session_scope


def _upgrade(args: argparse.Namespace) -> int:
    migrate.upgrade(args.revision)
    with session_scope() as session:
        count = legend.load_legend(session)
    print(f"database at {args.revision}; legend has {count} land-use codes")
    return 0


def _downgrade(args: argparse.Namespace) -> int:
    migrate.downgrade(args.revision)
    print(f"database downgraded to {args.revision}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    db = sub.add_parser("db", help="database schema (Alembic migrations)")
    dbsub = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    up = dbsub.add_parser("upgrade", help="migrate to a revision (default: head), load the legend")
    up.add_argument("revision", nargs="?", default="head")
    up.set_defaults(func=_upgrade)
    down = dbsub.add_parser("downgrade", help="migrate down to a revision (e.g. base)")
    down.add_argument("revision")
    down.set_defaults(func=_downgrade)
