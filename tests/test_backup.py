"""Backups and restore (planning_gis/backup.py, ``import_maps.py backup``).

A backup of the session's database with the tiny demo loaded is restored into a NEW database
(made with the tests' own helper, dropped after) and a new data folder; every table must hold
the same rows and every file the same bytes (sha256), read from both sides, not from the
manifest alone.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from planning_gis import backup
from planning_gis.errors import Conflict, InvalidInput
from planning_gis.settings import PROJECT_ROOT, Settings
from tests.conftest import create_database, drop_database

pytestmark = pytest.mark.db


def _counts(url: str) -> dict[str, int]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return backup.row_counts(conn)
    finally:
        engine.dispose()


def _hashes(data_dir: Path) -> dict[str, str]:
    return {rel.as_posix(): backup.sha256_file(data_dir / rel)
            for rel in backup.data_files(data_dir)}


def _cli(*args: str, settings: Settings) -> subprocess.CompletedProcess:
    env = {**os.environ, "PLANNING_DATABASE_URL": settings.database_url,
           "PLANNING_DATA_DIR": settings.data_dir, "PYTHONPATH": str(PROJECT_ROOT)}
    return subprocess.run([sys.executable, str(PROJECT_ROOT / "import_maps.py"), *args],
                          env=env, capture_output=True, text=True, timeout=600)


@pytest.fixture
def target(demo: Settings, tmp_path) -> Settings:
    """A new empty database and a new data folder, made and dropped by this test."""
    name = f"planning_restore_{os.getpid()}"
    url = create_database(name)
    data = tmp_path / "restored-data"
    data.mkdir()
    yield Settings.from_env(database_url=url, data_dir=str(data), demo_size="tiny",
                            secret_key=demo.secret_key)
    drop_database(name)


def test_backup_then_restore_into_a_new_database(demo: Settings, target: Settings, tmp_path):
    # A stored file of every backed-up kind, so that the file half has something to carry.
    for folder in backup.BACKED_UP_FOLDERS:
        f = demo.data_path / folder / "ab" / f"{folder}-sample.bin"
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_bytes(os.urandom(4096) + folder.encode())
    source_counts = _counts(demo.database_url)
    source_files = _hashes(demo.data_path)
    assert sum(source_counts.values()) > 1000 and source_counts["public.land_use_zones"] > 0
    assert len(source_files) >= len(backup.BACKED_UP_FOLDERS)

    folder = tmp_path / "backup-1"
    made = _cli("backup", "create", str(folder), settings=demo)
    assert made.returncode == 0, made.stderr
    print("\n" + made.stdout.strip())
    assert (folder / backup.DUMP).stat().st_size > 0

    done = _cli("backup", "restore", str(folder), settings=target)
    assert done.returncode == 0, done.stderr
    print(done.stdout.strip())

    assert _counts(target.database_url) == source_counts
    assert _hashes(target.data_path) == source_files
    # The restored database is the service's: migrations see it at head, nothing to do.
    upgraded = _cli("db", "upgrade", settings=target)
    assert upgraded.returncode == 0, upgraded.stderr

    # A second restore over it is refused (never over a live database), one line, exit 2.
    again = _cli("backup", "restore", str(folder), settings=target)
    assert again.returncode == 2 and again.stderr.count("\n") == 1
    assert "not empty" in again.stderr


def test_bad_backups_are_refused(demo: Settings, target: Settings, tmp_path):
    with pytest.raises(InvalidInput, match="not a backup"):
        backup.restore_backup(target, tmp_path)
    folder = tmp_path / "b"
    folder.mkdir()
    (folder / "x").write_text("x")
    with pytest.raises(Conflict, match="not empty"):
        backup.create_backup(demo, folder)
    (folder / backup.MANIFEST).write_text('{"format": 1, "dump_sha256": "0"}')
    (folder / backup.DUMP).write_bytes(b"PGDMP")
    with pytest.raises(InvalidInput, match="not the file"):
        backup.restore_backup(target, folder)
    (folder / backup.MANIFEST).write_text("{not json")
    with pytest.raises(InvalidInput, match="not valid JSON"):
        backup.restore_backup(target, folder)
    with pytest.raises(InvalidInput, match="outside the data folder"):
        backup._safe_relative("../../etc/passwd")
    missing = _cli("backup", "restore", str(tmp_path / "nowhere"), settings=target)
    assert missing.returncode == 2 and missing.stderr.startswith("error: ")


def test_a_tampered_file_is_refused(demo: Settings, target: Settings, tmp_path):
    folder = tmp_path / "backup-2"
    backup.create_backup(demo, folder)
    some = next((folder / "files").rglob("*.bin"))
    some.write_bytes(b"changed")
    with pytest.raises(backup.BackupFailed, match="sha256"):
        backup.restore_backup(target, folder)
    # Refused before the database: the target is still empty, so a mended backup may be
    # restored into it at once.
    assert set(_counts(target.database_url)) <= {"public.spatial_ref_sys"}
