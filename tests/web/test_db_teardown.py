"""A request whose database connection dies under it (the primary restarted) must end with the
answer its view gave: the teardown that releases the ORM session and the read connection must
not raise (a raise there escapes Flask's error handlers: gunicorn answers a bare 500).

Found by tests/ops/test_primary_writes_restart.py (one 500 among the 503s, now and then); here
the connection is killed deterministically with ``pg_terminate_backend``.
"""

from __future__ import annotations

import pytest
from sqlalchemy import text

from planning_gis import db
from planning_gis.web import db as web_db
from planning_gis.web.accounts import get_session

pytestmark = pytest.mark.db


def _kill(settings, pid: int) -> None:
    with db.get_engine(settings).connect() as conn:
        conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        conn.commit()


def test_teardown_survives_a_killed_session_connection(app, demo):
    ctx = app.app_context()
    ctx.push()
    try:
        session = get_session()
        pid = session.execute(text("SELECT pg_backend_pid()")).scalar_one()  # a transaction
        _kill(demo, pid)
    finally:
        ctx.pop()  # must not raise


def test_teardown_survives_a_killed_read_connection(app, demo):
    with app.test_request_context("/api/health"):
        conn = web_db.get_conn()
        pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
        _kill(demo, pid)
        # leaving the context closes the dead connection: no raise
