"""A new version of a plan's zones from a file: matched to the version before and compared
before anything is written; the replaced zones stay in the history with the decision."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import text

from planning_gis import db
from tests.conftest import scratch_plan
from tests.test_import_maps import E0, N0, _features, run_cli

pytestmark = pytest.mark.db


def _ring(x0, w=50.0):
    x, y = E0 + x0, N0
    return [[x, y], [x + w, y], [x + w, y + 50], [x, y + 50], [x, y]]


@pytest.fixture
def plan_with_zones(demo, tmp_path):
    first = tmp_path / "v1.geojson"
    first.write_text(json.dumps(_features(_ring(0), _ring(60), _ring(120), props={
        0: {"label": "C.3-2"}, 1: {"label": "C.3-3"}, 2: {"label": "C.3-4"}})),
        encoding="utf-8")
    with scratch_plan(demo, "Đồ án thử phiên bản", status="approved") as pid:
        assert run_cli("zones", str(first), "--plan", str(pid), settings=demo).returncode == 0
        yield pid


def _v2(tmp_path):
    """C.3-2 split into a school and housing; C.3-3 re-zoned green; C.3-4 unchanged."""
    path = tmp_path / "v2.geojson"
    path.write_text(json.dumps(_features(_ring(0, 30), _ring(30, 20), _ring(60), _ring(120),
                                         props={0: {"label": "C.3-2a", "function_code": "TH"},
                                                1: {"label": "C.3-2b"},
                                                2: {"label": "C.3-3", "function_code": "CX"},
                                                3: {"label": "C.3-4"}})), encoding="utf-8")
    return path


def test_check_shows_the_comparison_and_writes_nothing(demo, plan_with_zones, tmp_path):
    report = tmp_path / "report.html"
    r = run_cli("zones", str(_v2(tmp_path)), "--plan", str(plan_with_zones), "--replace",
                "--check", "--report-html", str(report), settings=demo)
    assert r.returncode == 0, r.stderr
    assert "split 1" in r.stdout and "modified 1" in r.stdout and "unchanged 1" in r.stdout
    assert "Ô C.3-2 được tách thành 2 ô: C.3-2a (đất trường học)" in r.stdout
    assert "Ô C.3-3 chuyển từ đất ở mới sang đất cây xanh." in r.stdout
    page = report.read_text(encoding="utf-8")
    assert "Báo cáo nhập ô quy hoạch" in page and "cdn." not in page
    with db.session_scope(demo) as s:
        labels = s.scalars(text("SELECT label FROM land_use_zones WHERE plan_id = :p "
                                "ORDER BY label"), {"p": plan_with_zones}).all()
    assert labels == ["C.3-2", "C.3-3", "C.3-4"]


def test_replace_keeps_the_old_version_in_the_history(demo, plan_with_zones, tmp_path):
    r = run_cli("zones", str(_v2(tmp_path)), "--plan", str(plan_with_zones), "--replace",
                "--decision", "77/QĐ-UBND", "--effective-on", "2024-05-02", settings=demo)
    assert r.returncode == 0, r.stderr
    assert "imported (replacing the plan's zones) 4 zones" in r.stdout
    with db.session_scope(demo) as s:
        conn = s.connection()
        from planning_gis.history.compare import compare

        cmp = compare(conn, plan_with_zones, date_a=dt.date(2024, 5, 1),
                      date_b=dt.date(2024, 5, 2))
        kinds = sorted(c.kind for c in cmp.changes)
        deleted = s.execute(text("SELECT count(*) FROM history WHERE plan_id = :p AND op = 'D' "
                                 "AND decision = '77/QĐ-UBND'"), {"p": plan_with_zones}).scalar()
    assert deleted == 3
    # the rows were all replaced: each old zone pairs by overlap, C.3-4 (identical) unchanged
    assert kinds == ["modified", "split"] and cmp.unchanged == 1
    assert all(c.decision["number"] == "77/QĐ-UBND" for c in cmp.changes)


def test_rejected_file_is_reported_on_the_map(demo, plan_with_zones, tmp_path):
    path = tmp_path / "bad.geojson"
    path.write_text(json.dumps(_features(_ring(0), props={0: {"function_code": "XX"}})),
                    encoding="utf-8")
    report = tmp_path / "bad.html"
    r = run_cli("zones", str(path), "--plan", str(plan_with_zones), "--replace", "--check",
                "--report-html", str(report), settings=demo)
    assert r.returncode != 0 and r.stderr.startswith("error:")
    assert "XX" in report.read_text(encoding="utf-8")
