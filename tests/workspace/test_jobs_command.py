"""``import_maps.py jobs run``: the worker process that publishes sheets."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.georef.conftest import run_cli

pytestmark = pytest.mark.db
ROOT = Path(__file__).resolve().parents[2]


def test_once_does_the_queued_jobs_and_exits(demo):
    code, out, err = run_cli(["jobs", "run", "--once"])
    assert code == 0, err
    assert out.strip().endswith("job(s) done")


def test_bad_poll_is_one_line_and_non_zero(demo):
    code, out, err = run_cli(["jobs", "run", "--poll", "0"])
    assert code == 2 and out == ""
    assert err.strip() == "error: --poll must be a positive number of seconds"


def test_worker_stops_on_sigterm(demo):
    env = {**os.environ, "PLANNING_DATABASE_URL": demo.database_url,
           "PLANNING_DATA_DIR": demo.data_dir}
    proc = subprocess.Popen([sys.executable, str(ROOT / "import_maps.py"), "jobs", "run",
                             "--poll", "0.2"], cwd=ROOT, env=env, stderr=subprocess.PIPE,
                            text=True)
    try:
        assert "job worker started" in proc.stderr.readline()
        proc.terminate()
        assert proc.wait(timeout=60) == 143
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stderr.close()
