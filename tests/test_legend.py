"""The legend load writes only what changed: an unchanged legend leaves the editions alone."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from layers.editions import layer_edition
from planning_gis import legend

pytestmark = pytest.mark.db


def test_loading_an_unchanged_legend_bumps_no_edition_and_a_change_does(session, conn):
    legend.load_legend(session)
    session.flush()
    before = layer_edition(conn, "zones")
    assert legend.load_legend(session) >= 10
    session.flush()
    assert layer_edition(conn, "zones") == before  # once, every db upgrade made tiles stale
    conn.execute(text("UPDATE land_use_legend SET color = '#000000' WHERE code = 'CX'"))
    changed = layer_edition(conn, "zones")
    assert changed > before
    legend.load_legend(session)
    session.flush()
    assert layer_edition(conn, "zones") > changed
    assert conn.execute(text("SELECT color FROM land_use_legend WHERE code = 'CX'")).scalar() \
        != "#000000"
