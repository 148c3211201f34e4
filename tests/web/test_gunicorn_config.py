"""gunicorn_config: the sweep of the shared-cache folders of killed servers."""

from __future__ import annotations

import os
import subprocess

from planning_gis.web import gunicorn_config


def test_the_folders_of_killed_servers_are_swept_and_live_ones_kept(tmp_path):
    dead = subprocess.Popen(["true"])
    dead.wait()  # its pid is free now
    orphan = tmp_path / f"planning-shared-cache-{dead.pid}-0123abcd"
    live = tmp_path / f"planning-shared-cache-{os.getpid()}-4567ef01"
    odd = tmp_path / "planning-shared-cache-notapid-89ab"
    other = tmp_path / "something-else-1"
    for folder in (orphan, live, odd, other):
        (folder / "lookup-answers").mkdir(parents=True)
        (folder / "lookup-answers" / "data.mdb").write_bytes(b"x" * 100)
    assert gunicorn_config.sweep_shared_caches(tmp_path) == [orphan]
    assert not orphan.exists() and live.exists() and odd.exists() and other.exists()


def test_this_instance_names_its_folder_by_its_own_pid():
    name = os.path.basename(gunicorn_config._SHARED_CACHE_DIR)
    assert name.startswith(f"planning-shared-cache-{os.getpid()}-")
    assert gunicorn_config.raw_env == [
        f"PLANNING_SHARED_CACHE_DIR={gunicorn_config._SHARED_CACHE_DIR}"]
