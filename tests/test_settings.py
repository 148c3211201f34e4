import pytest

from planning_gis.errors import ConfigurationError
from planning_gis.settings import Settings


def test_settings_read_prefixed_environment_and_convert_types():
    s = Settings.from_env({"PLANNING_MAX_SCAN_PIXELS": "1000", "PLANNING_DATA_DIR": "/srv/x"})
    assert s.max_scan_pixels == 1000
    assert s.scans_dir.as_posix() == "/srv/x/scans"


def test_settings_reject_a_non_numeric_limit():
    with pytest.raises(ConfigurationError, match="PLANNING_MAX_SCAN_PIXELS"):
        Settings.from_env({"PLANNING_MAX_SCAN_PIXELS": "lots"})


def test_settings_reject_an_unknown_demo_size():
    with pytest.raises(ConfigurationError):
        Settings.from_env({"PLANNING_DEMO_SIZE": "huge"})


def test_sync_url_drops_the_driver_for_libpq_tools():
    s = Settings.from_env({}, database_url="postgresql+psycopg://u:p@h:5432/d")
    assert s.sync_database_url == "postgresql://u:p@h:5432/d"
