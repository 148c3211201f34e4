from __future__ import annotations

import json
import subprocess
import sys

import pytest
from PIL import Image

from planning_gis.crs import parse_crs
from planning_gis.georef.control_points import write_csv, write_points
from planning_gis.settings import reset_settings


@pytest.fixture
def gcps(sim, tmp_path):
    path = tmp_path / "sheet.points"
    write_points(sim.control_points, path, parse_crs(5897))
    return path


def _only(tmp_path, *names):
    return sorted(p.name for p in tmp_path.iterdir()) == sorted(names)


def test_warp_prints_one_json_report(cli, sim, gcps, tmp_path):
    out = tmp_path / "out.tif"
    code, stdout, stderr = cli(["warp", str(sim.path), "--gcps", str(gcps), "--crs",
                                "EPSG:5897", "--mask", sim.neatline_wkt, "--out", str(out)])
    assert code == 0, stderr
    report = json.loads(stdout)
    for key in ("method", "rmse_m", "loo_rmse_m", "residuals", "blunders", "reason"):
        assert key in report
    assert report["crs"] == "EPSG:5897"
    assert out.exists()
    assert _only(tmp_path, "out.tif", "sheet.points")


def test_residuals_reports_every_method(cli, gcps):
    code, stdout, _ = cli(["residuals", "--gcps", str(gcps), "--crs", "EPSG:5897"])
    assert code == 0
    report = json.loads(stdout)
    assert set(report["methods"]) == {
        "helmert", "affine", "poly2", "poly3", "projective", "tps", "tps-smooth"
    }
    smooth = report["methods"]["tps-smooth"]
    assert smooth["supported"] is True
    assert 3.0 <= smooth["smoothing"]["effective_parameters"] <= report["points_used"]


def test_drop_blunders(cli, sim, tmp_path):
    pts = list(sim.control_points)
    p = pts[5]
    pts[5] = type(p)(p.pixel_x, p.pixel_y, p.easting + 50.0, p.northing, True, p.label)
    path = tmp_path / "g.csv"
    write_csv(pts, path)
    code, stdout, _ = cli(["residuals", "--gcps", str(path), "--drop-blunders"])
    report = json.loads(stdout)
    assert code == 0
    assert report["blunders"][0]["label"] == p.label
    assert report["blunders"][0]["likely_cause"] == "typo in easting"
    assert report["points_used"] == len(pts) - 1


def _check_fails(cli, argv, tmp_path, pattern, keep):
    code, stdout, stderr = cli(argv)
    assert code == 2
    assert stdout == ""
    assert stderr.startswith("error: ") and stderr.count("\n") == 1, stderr
    assert pattern in stderr
    assert _only(tmp_path, *keep)


def test_unknown_crs(cli, sim, gcps, tmp_path):
    _check_fails(cli, ["warp", str(sim.path), "--gcps", str(gcps), "--crs", "EPSG:123456",
                       "--out", str(tmp_path / "o.tif")], tmp_path, "unknown CRS",
                 ["sheet.points"])


def test_too_few_points(cli, sim, tmp_path):
    path = tmp_path / "g.csv"
    write_csv(sim.control_points[::9][:4], path)
    _check_fails(cli, ["warp", str(sim.path), "--gcps", str(path), "--method", "poly2",
                       "--out", str(tmp_path / "o.tif")], tmp_path, "poly2 needs at least 6",
                 ["g.csv"])


def test_residuals_with_the_smoothing_spline(cli, gcps):
    code, stdout, _ = cli(["residuals", "--gcps", str(gcps), "--crs", "EPSG:5897",
                           "--method", "tps-smooth"])
    assert code == 0
    report = json.loads(stdout)
    assert report["method"] == "tps-smooth"
    assert report["smoothing"]["effective_parameters"] >= 3.0


def test_too_few_points_for_the_smoothing_spline(cli, sim, tmp_path):
    path = tmp_path / "g.csv"
    write_csv(sim.control_points[::9][:4], path)
    _check_fails(cli, ["residuals", "--gcps", str(path), "--method", "tps-smooth"], tmp_path,
                 "tps-smooth needs at least 5", ["g.csv"])


def test_duplicate_points(cli, sim, tmp_path):
    path = tmp_path / "g.csv"
    write_csv(sim.control_points + [sim.control_points[0]], path)
    _check_fails(cli, ["warp", str(sim.path), "--gcps", str(path), "--out",
                       str(tmp_path / "o.tif")], tmp_path, "duplicate", ["g.csv"])


def test_collinear_points(cli, sim, tmp_path):
    path = tmp_path / "g.csv"
    path.write_text("pixel_x,pixel_y,easting,northing\n10,10,586000,2326000\n"
                    "20,20,586010,2325990\n30,30,586020,2325980\n40,40,586030,2325970\n")
    _check_fails(cli, ["warp", str(sim.path), "--gcps", str(path), "--method", "affine",
                       "--out", str(tmp_path / "o.tif")], tmp_path, "collinear", ["g.csv"])


def test_points_outside_the_image(cli, sim, tmp_path):
    pts = [type(p)(p.pixel_x + 5000, p.pixel_y, p.easting, p.northing, True, p.label)
           for p in sim.control_points]
    path = tmp_path / "g.csv"
    write_csv(pts, path)
    _check_fails(cli, ["warp", str(sim.path), "--gcps", str(path), "--out",
                       str(tmp_path / "o.tif")], tmp_path, "outside the", ["g.csv"])


def test_truncated_scan(cli, sim, gcps, tmp_path):
    bad = tmp_path / "cut.png"
    data = sim.path.read_bytes()
    bad.write_bytes(data[: len(data) * 2 // 3])
    _check_fails(cli, ["warp", str(bad), "--gcps", str(gcps), "--out",
                       str(tmp_path / "o.tif")], tmp_path, "truncated",
                 ["cut.png", "sheet.points"])


def test_image_over_the_pixel_limit(cli, sim, gcps, tmp_path, monkeypatch):
    monkeypatch.setenv("PLANNING_MAX_SCAN_PIXELS", "100000")
    reset_settings()
    try:
        _check_fails(cli, ["warp", str(sim.path), "--gcps", str(gcps), "--out",
                           str(tmp_path / "o.tif")], tmp_path, "over the limit",
                     ["sheet.points"])
    finally:
        monkeypatch.delenv("PLANNING_MAX_SCAN_PIXELS")
        reset_settings()


def test_pdf_without_an_image(cli, gcps, tmp_path):
    from reportlab.pdfgen import canvas

    pdf = tmp_path / "text.pdf"
    c = canvas.Canvas(str(pdf))
    c.drawString(50, 50, "Thuyết minh")
    c.save()
    _check_fails(cli, ["warp", str(pdf), "--gcps", str(gcps), "--out",
                       str(tmp_path / "o.tif")], tmp_path, "no image",
                 ["text.pdf", "sheet.points"])


def test_warp_from_a_one_page_pdf(cli, sim, gcps, tmp_path):
    from reportlab.pdfgen import canvas

    pdf = tmp_path / "scan.pdf"
    w, h = sim.width * 72 / 75, sim.height * 72 / 75
    c = canvas.Canvas(str(pdf), pagesize=(w, h))
    c.drawImage(str(sim.path), 0, 0, width=w, height=h)
    c.save()
    out = tmp_path / "o.tif"
    code, stdout, stderr = cli(["warp", str(pdf), "--gcps", str(gcps), "--method", "affine",
                                "--out", str(out)])
    assert code == 0, stderr
    assert json.loads(stdout)["width"] > 0 and out.exists()


def test_subprocess_exit_code_and_message(sim, gcps, tmp_path):
    """The real interpreter, the real dispatcher: success prints JSON, failure one line, 2."""
    from planning_gis.settings import PROJECT_ROOT

    runner = str(PROJECT_ROOT / "import_maps.py")
    out = tmp_path / "o.tif"
    ok = subprocess.run([sys.executable, runner, "warp", str(sim.path),
                         "--gcps", str(gcps), "--method", "helmert", "--out", str(out)],
                        capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["method"] == "helmert"
    bad = subprocess.run([sys.executable, runner, "warp", str(tmp_path / "x.png"),
                          "--gcps", str(gcps), "--out", str(tmp_path / "p.tif")],
                         capture_output=True, text=True)
    assert bad.returncode == 2
    assert bad.stderr.startswith("error: scan not found")
    assert not (tmp_path / "p.tif").exists()


def test_jpeg_scan(cli, sim, gcps, tmp_path):
    jpg = tmp_path / "scan.jpg"
    Image.open(sim.path).save(jpg, quality=85)
    code, _, stderr = cli(["warp", str(jpg), "--gcps", str(gcps), "--method", "affine",
                           "--out", str(tmp_path / "o.tif")])
    assert code == 0, stderr


# --- any CRS: VN-2000/HN-72 are checked against Hanoi, others against their area of use ------

def _moved(points, dx: float, dy: float):
    return [type(p)(p.pixel_x, p.pixel_y, p.easting + dx, p.northing + dy, p.enabled, p.label)
            for p in points]


def test_warp_a_swiss_sheet_in_lv03(cli, sim, tmp_path):
    """A sheet in Swiss LV03 (EPSG:21781) is warped: its points lie in Switzerland."""
    pts = _moved(sim.control_points, 600000.0 - 586000.0, 200000.0 - 2325500.0)
    gcps = tmp_path / "bern.points"
    write_points(pts, gcps, parse_crs(21781))
    out = tmp_path / "bern.tif"
    code, stdout, stderr = cli(["warp", str(sim.path), "--gcps", str(gcps), "--crs",
                                "EPSG:21781", "--out", str(out)])
    assert code == 0, stderr
    report = json.loads(stdout)
    assert report["crs"] == "EPSG:21781"
    import rasterio

    with rasterio.open(out) as ds:
        assert ds.crs.to_epsg() == 21781
        assert 599000 < ds.bounds.left < 601000 and 199000 < ds.bounds.bottom < 201000


def test_swiss_points_typed_in_the_wrong_order_are_refused(cli, sim, tmp_path):
    pts = _moved(sim.control_points, 600000.0 - 586000.0, 200000.0 - 2325500.0)
    swapped = [type(p)(p.pixel_x, p.pixel_y, p.northing, p.easting, True, p.label) for p in pts]
    gcps = tmp_path / "bern.points"
    write_points(swapped, gcps, parse_crs(21781))
    _check_fails(cli, ["residuals", "--gcps", str(gcps)], tmp_path,
                 "outside the area of use of CH1903 / LV03", ["bern.points"])


def test_swiss_numbers_in_vn2000_are_still_refused(cli, sim, tmp_path):
    pts = _moved(sim.control_points, 600000.0 - 586000.0, 200000.0 - 2325500.0)
    gcps = tmp_path / "bern.points"
    write_points(pts, gcps, parse_crs(5897))
    _check_fails(cli, ["residuals", "--gcps", str(gcps)], tmp_path, "outside Hanoi",
                 ["bern.points"])


def test_warp_an_hn72_sheet(cli, sim, tmp_path):
    """HN-72 (EPSG:2044, Gauss-Kruger zone 18) is a Hanoi system: checked against Hanoi."""
    from planning_gis.crs import transformer

    t = transformer(5897, 2044)
    pts = []
    for p in sim.control_points:
        e, n = t.transform(p.easting, p.northing)
        pts.append(type(p)(p.pixel_x, p.pixel_y, e, n, True, p.label))
    gcps = tmp_path / "hn72.points"
    write_points(pts, gcps, parse_crs(2044))
    out = tmp_path / "hn72.tif"
    code, stdout, stderr = cli(["warp", str(sim.path), "--gcps", str(gcps), "--crs",
                                "EPSG:2044", "--out", str(out)])
    assert code == 0, stderr
    assert json.loads(stdout)["crs"] == "EPSG:2044"
    swapped = [type(p)(p.pixel_x, p.pixel_y, p.northing, p.easting, True, p.label) for p in pts]
    write_points(swapped, gcps, parse_crs(2044))
    _check_fails(cli, ["residuals", "--gcps", str(gcps)], tmp_path, "swapped",
                 ["hn72.points", "hn72.tif"])
