"""The service's connections: JIT off and random_page_cost for memory/SSD on every one (the
pool's and the hot path's)."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from planning_gis import db

pytestmark = pytest.mark.db


def test_every_connection_runs_without_jit(settings):
    """A city tile's statement is costed past jit_above_cost by its unused live branch, and
    compiling it took 888 of 1,150 ms; the service's statements gain nothing from JIT."""
    with db.get_engine(settings).connect() as conn:
        assert conn.execute(text("SHOW jit")).scalar() == "off"
        assert conn.execute(text("SHOW random_page_cost")).scalar() == "1.1"
        assert conn.execute(text("SELECT current_setting('jit_above_cost')::float")).scalar() > 0
    hot = db.hot_read_connection(settings)
    assert hot.execute("SHOW jit").fetchone()[0] == "off"
    db.drop_hot_connection(settings)
