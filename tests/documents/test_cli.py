"""``import_maps.py documents``: exit 0 when all rows import, 1 with a per-row list when some
fail, 2 with one ``error:`` line when the run itself cannot start."""

from __future__ import annotations

import csv
import os
import subprocess
import sys

import pytest
from sqlalchemy import text

from planning_gis import db
from planning_gis.settings import PROJECT_ROOT

pytestmark = pytest.mark.db


def run_cli(*args, settings):
    env = dict(os.environ, PLANNING_DATABASE_URL=settings.database_url,
               PLANNING_DATA_DIR=settings.data_dir)
    return subprocess.run([sys.executable, "import_maps.py", *args], cwd=PROJECT_ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


def _csv(path, rows):
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["file", "doc_type", "title", "number"])
        w.writerows(rows)
    return path


def test_good_import_then_resume(tmp_path, make_pdf, settings):
    d = tmp_path / "kho"
    make_pdf("a.pdf", folder=d)
    make_pdf("b.pdf", folder=d, number=None)
    meta = _csv(tmp_path / "m.csv", [["a.pdf", "quyet_dinh", "Quyết định A (CLI)", "5/QĐ-UBND"],
                                     ["b.pdf", "quy_dinh", "Quy định B (CLI)", ""]])
    try:
        first = run_cli("documents", str(d), "--metadata", str(meta), "--progress",
                        settings=settings)
        assert first.returncode == 0, first.stderr
        assert "2 imported, 0 skipped" in first.stdout and "0 failed" in first.stdout
        assert "Nhập văn bản" in first.stderr  # the progress bar goes to stderr
        second = run_cli("documents", str(d), "--metadata", str(meta), "--quiet",
                         settings=settings)
        assert second.returncode == 0 and "0 imported, 2 skipped" in second.stdout
    finally:
        with db.session_scope(settings) as s:
            s.execute(text("DELETE FROM documents WHERE title LIKE '%(CLI)'"))


def test_failed_rows_exit_1_and_are_listed(tmp_path, make_pdf, settings):
    d = tmp_path / "kho"
    d.mkdir()
    (d / "x.pdf").write_text("không phải pdf", encoding="utf-8")
    meta = _csv(tmp_path / "m.csv", [["x.pdf", "quyet_dinh", "X", ""],
                                     ["y.pdf", "quyet_dinh", "Y", ""]])
    report = tmp_path / "bao-cao.json"
    result = run_cli("documents", str(d), "--metadata", str(meta), "--report", str(report),
                     "--quiet", settings=settings)
    assert result.returncode == 1
    assert "0 imported, 0 skipped (already in the library), 2 failed" in result.stdout
    assert "row 2: invalid_pdf: x.pdf: not a PDF file" in result.stdout
    assert "row 3: missing_file" in result.stdout
    assert report.is_file()


@pytest.mark.parametrize("case", ["no_metadata", "no_folder", "bad_header"])
def test_run_level_errors_are_one_line_exit_2(tmp_path, settings, case):
    d = tmp_path / "kho"
    d.mkdir()
    meta = tmp_path / "m.csv"
    if case == "bad_header":
        meta.write_text("ten_tep,loai\nx.pdf,quyet_dinh\n", encoding="utf-8")
    elif case == "no_folder":
        _csv(meta, [["x.pdf", "quyet_dinh", "X", ""]])
        d = tmp_path / "khong-co"
    result = run_cli("documents", str(d), "--metadata", str(meta), settings=settings)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert "Traceback" not in result.stderr
