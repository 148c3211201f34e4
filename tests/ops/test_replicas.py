"""Reads on a streaming replica, writes on the primary (planning_gis/replicas.py, web/db.py).

Real parts: the private PostgreSQL 15 cluster of tests/ops/conftest.py and a replica of it made
with ``pg_basebackup -R``. The replica's replay is paused (``pg_wal_replay_pause()``) to make it
lag on purpose: what the primary has and the replica has not shows where a request read from.
"""

from __future__ import annotations

import dataclasses
import time

import psycopg
import pytest

from planning_gis import db
from planning_gis.replicas import ReadRouter
from server import create_app

pytestmark = pytest.mark.db

LEGEND_CODE = "RPL"


def _super(cluster, database: str = "planning") -> psycopg.Connection:
    return psycopg.connect(cluster.url(database, user="postgres", password="")
                           .replace("+psycopg", ""), autocommit=True)


def _pause(replica_conn: psycopg.Connection) -> None:
    """Pause the replay and wait until it *is* paused (the call only asks for it)."""
    replica_conn.execute("SELECT pg_wal_replay_pause()")
    deadline = time.monotonic() + 10
    while replica_conn.execute("SELECT pg_get_wal_replay_pause_state()").fetchone()[0] != "paused":
        assert time.monotonic() < deadline, "the replay did not pause"
        time.sleep(0.02)


def _wait_caught_up(primary, replica, timeout: float = 20) -> None:
    with _super(primary) as p:
        target = p.execute("SELECT pg_current_wal_insert_lsn()").fetchone()[0]
    deadline = time.monotonic() + timeout
    with _super(replica) as r:
        while time.monotonic() < deadline:
            if r.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (target,)).fetchone()[0]:
                return
            time.sleep(0.05)
    raise AssertionError("the replica did not catch up")


@pytest.fixture
def replica_settings(private_cluster, private_settings, private_replica):
    _wait_caught_up(private_cluster, private_replica)
    yield dataclasses.replace(private_settings, read_database_url=private_replica.url("planning"),
                              read_max_lag_seconds=2, read_check_ms=100)
    db.dispose_engines()
    with _super(private_replica) as r:
        r.execute("SELECT pg_wal_replay_resume()")
    with _super(private_cluster) as p:
        p.execute("DELETE FROM land_use_legend WHERE code = %s", (LEGEND_CODE,))


def _codes(client, **kwargs) -> set[str]:
    resp = client.get("/api/legend", **kwargs)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return {row["code"] for row in resp.get_json()}


def _write_legend_row(primary) -> None:
    with _super(primary) as p:
        p.execute("INSERT INTO land_use_legend (code, name_vi, name_en, color, category,"
                  " sort_order) VALUES (%s, 'Thử bản sao', 'Replica test', '#123456', 'other', 999)",
                  (LEGEND_CODE,))


def test_router_measures_lag_and_leaves_a_lagging_replica_out(private_cluster, private_replica,
                                                              replica_settings):
    s = replica_settings
    router = ReadRouter(s.database_url, s.read_database_urls, max_lag_s=1.0, check_s=0.1)
    try:
        router.check()
        (state,) = router.states.values()
        assert state.usable and state.lag_seconds == 0.0
        assert router.read_url() == private_replica.url("planning")
        with _super(private_replica) as r:
            _pause(r)
        _write_legend_row(private_cluster)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and state.usable:
            router.check()
            time.sleep(0.1)
        assert not state.usable and state.lag_seconds > 1.0, state
        assert router.read_url() == s.database_url  # the primary, while the replica lags
        with _super(private_replica) as r:
            r.execute("SELECT pg_wal_replay_resume()")
        deadline = time.monotonic() + 10
        # usable again once behind by less than the threshold; caught up a moment later
        while time.monotonic() < deadline and not (state.usable and state.lag_seconds == 0.0):
            router.check()
            time.sleep(0.1)
        assert state.usable and state.lag_seconds == 0.0, state
    finally:
        router.close()


def test_public_reads_on_the_replica_planner_reads_on_the_primary(private_cluster,
                                                                   private_replica,
                                                                   replica_settings):
    s = dataclasses.replace(replica_settings, read_max_lag_seconds=60)
    app = create_app(s)
    client = app.test_client()
    assert LEGEND_CODE not in _codes(client)
    with _super(private_replica) as r:
        _pause(r)
    _write_legend_row(private_cluster)
    # A citizen reads from the replica, which has not replayed the write (it is within the lag
    # allowed here); a planner's browser (the session cookie) reads its own write at once.
    assert LEGEND_CODE not in _codes(client)
    planner = app.test_client()
    planner.set_cookie("qh_session", "anything")
    assert LEGEND_CODE in _codes(planner)
    with _super(private_replica) as r:
        r.execute("SELECT pg_wal_replay_resume()")
    _wait_caught_up(private_cluster, private_replica)
    assert LEGEND_CODE in _codes(client)


def test_a_replica_too_far_behind_is_left_out_then_back(private_cluster, private_replica,
                                                         replica_settings):
    app = create_app(replica_settings)  # 2 s of lag allowed, checked every 0.1 s
    client = app.test_client()
    with _super(private_replica) as r:
        _pause(r)
    _write_legend_row(private_cluster)
    assert LEGEND_CODE not in _codes(client), db.read_router(replica_settings).status()
    deadline = time.monotonic() + 6
    while LEGEND_CODE not in _codes(client):
        assert time.monotonic() < deadline, "reads never moved to the primary"
        time.sleep(0.1)
    resp = client.get("/api/ready")
    assert resp.status_code == 503 and resp.get_json()["reads"]["replicas"][0]["usable"] is False


def test_a_stopped_replica_is_left_out_at_once(private_cluster, private_replica, replica_settings):
    app = create_app(replica_settings)
    client = app.test_client()
    assert client.get("/api/legend").status_code == 200
    private_replica.stop()
    try:
        # The very next requests: the refused connection sends them to the primary.
        statuses = [client.get("/api/legend").status_code for _ in range(20)]
        tile = client.get("/tiles/zones/12/3258/1804.mvt")
        assert statuses == [200] * 20 and tile.status_code in (200, 204)
    finally:
        private_replica.start()
    _wait_caught_up(private_cluster, private_replica)
    router = db.read_router(replica_settings)
    deadline = time.monotonic() + 5
    while not all(st.usable for st in router.states.values()):
        assert time.monotonic() < deadline, router.status()
        time.sleep(0.1)


def test_without_replicas_every_read_is_on_the_primary(private_settings):
    assert db.read_router(private_settings) is None
    assert db.read_url(private_settings) == private_settings.database_url
