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


# --- the session key (issue 12: a published default key let anyone forge an admin session) ---

def test_there_is_no_default_secret_key(tmp_path):
    assert Settings().secret_key == ""
    assert Settings.from_env({}, data_dir=str(tmp_path)).secret_key == ""


@pytest.mark.parametrize("key", ["", "dev-only-change-me", "x" * 40, "short-but-random-9f3"])
def test_create_app_refuses_a_missing_published_or_weak_key(tmp_path, key):
    from server import create_app

    with pytest.raises(ConfigurationError, match="secret key") as err:
        create_app(Settings(data_dir=str(tmp_path), secret_key=key))
    assert "PLANNING_SECRET_KEY" in str(err.value) and err.value.message_vi != str(err.value)


def test_create_app_accepts_a_random_key(tmp_path):
    import secrets

    from server import create_app

    key = secrets.token_urlsafe(48)
    app = create_app(Settings(data_dir=str(tmp_path), secret_key=key))
    assert app.secret_key == key


def test_key_is_read_from_the_key_file_or_the_data_folder(tmp_path):
    named = tmp_path / "elsewhere.key"
    named.write_text("k" * 10 + "from-the-named-file-0123456789\n")
    s = Settings.from_env({"PLANNING_SECRET_KEY_FILE": str(named)}, data_dir=str(tmp_path))
    assert s.secret_key == "k" * 10 + "from-the-named-file-0123456789"
    (tmp_path / "secret_key").write_text("from-the-data-folder-0123456789abcdef\n")
    assert Settings.from_env({}, data_dir=str(tmp_path)).secret_key == (
        "from-the-data-folder-0123456789abcdef")
    # the environment's own key wins over any file
    s = Settings.from_env({"PLANNING_SECRET_KEY": "from-env-0123456789abcdefghijklmnop",
                           "PLANNING_SECRET_KEY_FILE": str(named)}, data_dir=str(tmp_path))
    assert s.secret_key == "from-env-0123456789abcdefghijklmnop"


def test_a_named_key_file_that_is_missing_is_an_error(tmp_path):
    with pytest.raises(ConfigurationError, match="PLANNING_SECRET_KEY_FILE"):
        Settings.from_env({"PLANNING_SECRET_KEY_FILE": str(tmp_path / "none")})


def test_gunicorn_refuses_to_serve_without_a_key(tmp_path):
    """The real server: no key in the environment or the data folder, it exits with the reason
    instead of opening its port."""
    import os
    import socket
    import subprocess
    import sys
    from pathlib import Path

    from planning_gis.settings import PROJECT_ROOT

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLANNING_SECRET_KEY")}
    env.update(PLANNING_DATA_DIR=str(tmp_path), PYTHONPATH=str(PROJECT_ROOT))
    gunicorn = Path(sys.executable).with_name("gunicorn")
    proc = subprocess.run(
        [str(gunicorn), "-c", "python:planning_gis.web.gunicorn_config", "--workers", "1",
         "--bind", f"127.0.0.1:{port}", "server:create_app()"],
        cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0
    assert "no secret key to sign sessions" in proc.stderr


@pytest.mark.parametrize("url", ["/pmtiles", "/static-tiles/", "https://tiles.example.vn/hanoi",
                                 "http://127.0.0.1:8080/pmtiles"])
def test_static_tiles_url_accepts_a_path_or_an_http_url(url):
    assert Settings.from_env({"PLANNING_STATIC_TILES_URL": url}).static_tiles_url == url


@pytest.mark.parametrize("url", ["pmtiles", "//cdn.example.vn/x", "javascript:alert(1)",
                                 "ftp://x.vn/a", "https://", "/a b", "/a;script-src *",
                                 "https://x.vn/a'"])
def test_static_tiles_url_refuses_anything_else(url):
    with pytest.raises(ConfigurationError, match="PLANNING_STATIC_TILES_URL"):
        Settings.from_env({"PLANNING_STATIC_TILES_URL": url})
