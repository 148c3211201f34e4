"""The request's database connection: the Flask half of ``planning_gis.db``.

The tutorial's pattern (``init_app`` registers the teardown): a blueprint asks for
:func:`get_conn`, the connection is opened on first use and returned to the pool when the app
context ends. Services never call this: they take a connection or a session as an argument.
"""

from __future__ import annotations

from flask import Flask, current_app, g
from sqlalchemy import Connection

from planning_gis.db import get_engine


def get_conn() -> Connection:
    """The request's read connection, opened on first use and returned to the pool at teardown.

    It runs in autocommit: requests only read through it (writes go through
    :func:`session_scope`), so there is no BEGIN/ROLLBACK round trip around each statement.
    Under READ COMMITTED every statement had its own snapshot anyway.
    """
    if "db_conn" not in g:
        g.db_conn = get_engine(current_app.config["SETTINGS"]).connect().execution_options(
            isolation_level="AUTOCOMMIT"
        )
    return g.db_conn


def _close_conn(_exc: BaseException | None = None) -> None:
    conn = g.pop("db_conn", None)
    if conn is not None:
        conn.close()


def init_app(app: Flask) -> None:
    app.teardown_appcontext(_close_conn)
