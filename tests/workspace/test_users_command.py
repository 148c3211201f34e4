"""``import_maps.py users create``: password from stdin or a file, one-line errors."""

import os
import subprocess
import sys

import pytest

from planning_gis.settings import PROJECT_ROOT

pytestmark = pytest.mark.db


def _run(demo, *args, stdin=""):
    env = dict(os.environ, PLANNING_DATABASE_URL=demo.database_url, PLANNING_DATA_DIR=demo.data_dir)
    return subprocess.run([sys.executable, "import_maps.py", "users", *args], input=stdin,
                          capture_output=True, text=True, cwd=PROJECT_ROOT, env=env)


def test_create_planner_from_stdin_then_sign_in(demo, app, tmp_path):
    r = _run(demo, "create", "--email", "Can.Bo@Quan.VN", "--role", "planner",
             "--organisation", "UBND quận Cầu Giấy", stdin="mat-khau-rat-dai\n")
    assert r.returncode == 0, r.stderr
    assert "created planner can.bo@quan.vn of UBND quận Cầu Giấy" in r.stdout
    from tests.workspace.conftest import sign_in

    assert sign_in(app.test_client(), "can.bo@quan.vn", "mat-khau-rat-dai").status_code == 302
    again = _run(demo, "create", "--email", "can.bo@quan.vn", "--role", "planner",
                 "--organisation", "X", stdin="mat-khau-rat-dai\n")
    assert again.returncode == 2 and again.stderr.count("\n") == 1 and "already exists" in again.stderr


@pytest.mark.parametrize("args,stdin,expect", [
    (["--role", "planner"], "mat-khau-rat-dai\n", "organisation"),
    (["--role", "admin"], "short\n", "at least 10"),
    (["--role", "admin"], "", "no password"),
])
def test_bad_input_is_one_line(demo, args, stdin, expect):
    r = _run(demo, "create", "--email", "x@y.vn", *args, stdin=stdin)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and expect in r.stderr, r.stderr
