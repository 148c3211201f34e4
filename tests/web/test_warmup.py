"""The worker warm-up: pooled connections opened, hot paths run, and never fatal."""

from __future__ import annotations

import logging

from planning_gis.db import get_engine
from planning_gis.web import gunicorn_config
from planning_gis.web.warmup import _warm_paths, warm_up


def test_warm_up_fills_the_pool_and_runs_the_hot_paths(app, demo):
    engine = get_engine(demo)
    engine.dispose()
    warm_up(app, connections=3)
    assert engine.pool.checkedin() >= 3
    client = app.test_client()
    assert [client.get(p).status_code for p in _warm_paths()][:2] == [200, 200]


def test_a_failed_warm_up_only_logs(demo, caplog):
    from server import create_app

    broken = demo.__class__(**{**demo.__dict__,
                               "database_url": "postgresql+psycopg://nobody:x@127.0.0.1:1/none"})
    with caplog.at_level(logging.WARNING):
        warm_up(create_app(broken), connections=2)
    assert "warm-up skipped" in caplog.text


def test_a_warm_up_of_something_else_only_logs(caplog):
    with caplog.at_level(logging.WARNING):
        warm_up(object(), connections=2)  # type: ignore[arg-type]
    assert "warm-up skipped" in caplog.text


def test_gunicorn_loads_the_app_before_it_listens():
    assert gunicorn_config.preload_app is True
    assert callable(gunicorn_config.post_worker_init)
