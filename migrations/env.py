"""Alembic environment: the URL comes from the settings object, never from the ini file."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool

from planning_gis.models import Base
from planning_gis.settings import get_settings

config = context.config
target_metadata = Base.metadata


def _include_object(obj, name, type_, reflected, compare_to):  # noqa: ANN001
    # PostGIS and its extensions own tables of their own (spatial_ref_sys, topology ...).
    if type_ == "table" and reflected and compare_to is None:
        return False
    return True


def run_migrations_online() -> None:
    url = config.attributes.get("database_url") or get_settings().database_url
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            include_object=_include_object,
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations_online()
