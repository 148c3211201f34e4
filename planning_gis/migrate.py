"""Run Alembic from code, so that the CLI, run.sh and the tests migrate the same way."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.util.exc import CommandError

from planning_gis.errors import ConfigurationError
from planning_gis.settings import PROJECT_ROOT, Settings, get_settings


def alembic_config(settings: Settings | None = None) -> Config:
    settings = settings or get_settings()
    cfg = Config(str(PROJECT_ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    cfg.attributes["database_url"] = settings.database_url
    return cfg


def upgrade(revision: str = "head", settings: Settings | None = None) -> None:
    try:
        command.upgrade(alembic_config(settings), revision)
    except CommandError as exc:
        raise ConfigurationError(f"migration failed: {exc}") from exc


def downgrade(revision: str, settings: Settings | None = None) -> None:
    try:
        command.downgrade(alembic_config(settings), revision)
    except CommandError as exc:
        raise ConfigurationError(f"migration failed: {exc}") from exc
