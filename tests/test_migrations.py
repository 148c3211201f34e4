"""Migrations own the schema: they upgrade, downgrade and upgrade again on an empty database."""

import os

import pytest
from sqlalchemy import create_engine, inspect

from planning_gis import migrate
from planning_gis.settings import Settings
from tests.conftest import create_database, drop_database

pytestmark = pytest.mark.db


def test_upgrade_downgrade_upgrade(settings):
    name = f"planning_migr_{os.getpid()}"
    url = create_database(name)
    try:
        s = Settings.from_env(database_url=url)
        migrate.upgrade("head", s)
        engine = create_engine(url)
        tables = set(inspect(engine).get_table_names())
        assert {"plans", "land_use_zones", "documents", "map_sheets", "control_points",
                "land_use_legend", "admin_units", "red_lines"} <= tables
        migrate.downgrade("base", s)
        left = set(inspect(engine).get_table_names()) - {"spatial_ref_sys", "alembic_version"}
        assert left == set()
        migrate.upgrade("head", s)
        assert "plans" in inspect(engine).get_table_names()
        engine.dispose()
    finally:
        drop_database(name)


def test_models_match_the_migrations(settings):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from planning_gis.models import Base

    engine = create_engine(settings.database_url)
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={
            "include_object": lambda obj, name, type_, reflected, compare_to: not (
                type_ == "table" and reflected and compare_to is None)})
        diff = compare_metadata(ctx, Base.metadata)
    engine.dispose()
    assert diff == []
