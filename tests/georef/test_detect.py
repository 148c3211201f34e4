"""Zero-click control points: the printed grid's crosses, read coordinates, lattice assignment."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from planning_gis.errors import GeoreferenceError
from planning_gis.georef.control_points import read_control_points
from planning_gis.georef.detect import Reading, _off_neighbours, _settle, detect_grid, parse_label
from planning_gis.scan_simulator import demo_zones, simulate_scan

BOUNDS = (586030.0, 2325530.0, 586680.0, 2326070.0)


@pytest.mark.parametrize("text,expected", [
    ("X = 2 321 400", ("X", 2321400.0)),
    ("2321400", (None, 2321400.0)),
    ("2.321.400", (None, 2321400.0)),
    ("Y: 586 400", ("Y", 586400.0)),
    ("Y=586400", ("Y", 586400.0)),
    ("X = 2 326100", ("X", 2326100.0)),  # a space the OCR missed
    ("586 400,50", None),  # a decimal part is not a grid label
    ("OM.12", None),
    ("12", None),
    ("", None),
])
def test_parse_label(text, expected):
    assert parse_label(text) == expected


def _reading(line: int, value: float, axis: str = "easting") -> Reading:
    return Reading(axis, line, f"{value:.0f}", value, (0, 0, 1, 1), 90.0)


def test_a_misread_digit_is_refused_by_the_lattice():
    rs = [_reading(0, 586100), _reading(1, 586200), _reading(2, 586900),  # 3 read as 9
          _reading(3, 586400)]
    axis, why = _settle(rs, "easting", +1, None)
    assert why == "" and axis is not None
    assert (axis.start, axis.step) == (586100, 100)
    assert [r.status for r in rs] == ["used", "used", "refused", "used"]
    assert "586900 where the grid says 586300" in rs[2].why


def test_two_disagreeing_readings_settle_nothing():
    rs = [_reading(0, 586100), _reading(1, 586700)]  # no round step joins them
    axis, why = _settle(rs, "easting", +1, None)
    assert axis is None and "do not agree" in why
    assert all(r.status == "refused" for r in rs)


def test_equally_backed_grids_settle_nothing():
    rs = [_reading(0, 586100), _reading(1, 586200), _reading(2, 586500), _reading(3, 586600)]
    axis, why = _settle(rs, "easting", +1, None)
    assert axis is None and "equally" in why


def test_northings_fall_down_the_sheet():
    rs = [_reading(0, 2326100, "northing"), _reading(2, 2325900, "northing")]
    axis, _ = _settle(rs, "northing", -1, None)
    assert axis is not None and axis.step == -100 and axis.value(1) == 2326000


@pytest.fixture(scope="module", params=["margin-xy", "margin-bare", "margin-dots",
                                        "margin-rotated"])
def sheet(request, tmp_path_factory):
    d = tmp_path_factory.mktemp("detect")
    return simulate_scan(demo_zones(BOUNDS, seed=4), BOUNDS, d / "sheet.png", dpi=100, seed=4,
                         rotation_deg=1.4, shrink_px=5.0, drift_px=1.5, grid_step_m=100,
                         label_style=request.param)


def test_every_label_style_gives_right_points(sheet):
    found = detect_grid(sheet.path, crs_epsg=5897)
    truth = {(round(p.easting), round(p.northing)) for p in sheet.control_points}
    assert len(found.points) >= 0.9 * len(truth), found.report
    for p in found.points:
        assert (round(p.easting), round(p.northing)) in truth
        x, y = sheet.map_to_pixel(np.array([p.easting]), np.array([p.northing]))
        assert np.hypot(p.pixel_x - x[0], p.pixel_y - y[0]) < 1.5, p
        assert 0 < p.confidence <= 1
    rep = found.report
    json.dumps(rep)
    crosses = rep["crosses"]
    assert rep["labels"]["used"] >= 4
    assert crosses["found"] + crosses["completed_from_lattice"] >= len(found.points)
    assert rep["grid"]["easting"]["step"] == 100 and rep["grid"]["northing"]["step"] == -100


def test_cli_detect_then_warp(cli, tmp_path, sheet):
    pts = tmp_path / "found.points"
    code, stdout, stderr = cli(["gcps", "detect", str(sheet.path), "--crs", "EPSG:5897",
                                "--out", str(pts)])
    assert code == 0, stderr
    report = json.loads(stdout)
    assert report["points"] >= 0.9 * len(sheet.control_points)
    cps = read_control_points(pts, crs=5897)
    assert len(cps.points) == report["points"]
    out = tmp_path / "o.tif"
    code, stdout, stderr = cli(["warp", str(sheet.path), "--gcps", str(pts), "--out", str(out)])
    assert code == 0, stderr
    # the warped sheet is right at the hidden check markers
    fit = json.loads(stdout)
    assert fit["loo_rmse_m"] < 1.0
    as_csv = tmp_path / "found.csv"
    code, _, stderr = cli(["gcps", "detect", str(sheet.path), "--out", str(as_csv)])
    assert code == 0, stderr
    with open(as_csv, encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert rows and all(0 < float(r["confidence"]) <= 1 for r in rows)


def test_a_blank_sheet_says_no_grid(tmp_path):
    from PIL import Image

    path = tmp_path / "blank.png"
    Image.new("RGB", (600, 400), (250, 250, 245)).save(path)
    with pytest.raises(GeoreferenceError, match="no regular grid"):
        detect_grid(path)


def test_cli_refuses_a_bad_out_suffix(cli, tmp_path, sheet):
    code, stdout, stderr = cli(["gcps", "detect", str(sheet.path), "--out",
                                str(tmp_path / "x.txt")])
    assert code == 2 and stdout == "" and stderr.startswith("error: ") and ".points" in stderr


def test_a_crossing_off_its_rows_bend_is_left_out():
    """A centre measured on a zone's edge a few pixels beside the stroke is refused; the
    shared bend of a row (scanner drift) is not mistaken for it."""
    full = {}
    for i in range(6):
        for j in range(5):
            drift = 3.0 * np.sin(j * 1.3)  # one drift per scan line, as a carriage gives
            full[(i, j)] = (100.0 + 300 * i + 2 * j + drift, 80.0 + 300 * j + 1.5 * i)
    assert _off_neighbours(full) == []
    x, y = full[(2, 3)]
    full[(2, 3)] = (x, y - 3.5)
    assert _off_neighbours(full) == [(2, 3)]


def test_crossings_on_zone_edges_are_completed_from_the_lattice(tmp_path):
    """Zones drawn over most crosses: the whole-sheet filter misses some, the lattice finds
    them where it says they must be, all at the right place."""
    bounds = (586030.0, 2325230.0, 587010.0, 2326010.0)
    sim = simulate_scan(demo_zones(bounds, seed=1), bounds, tmp_path / "s.png", dpi=150,
                        seed=21, grid_step_m=100.0, label_style="margin-bare",
                        rotation_deg=1.5, shrink_px=8.0, drift_px=3.0)
    found = detect_grid(sim.path, crs_epsg=5897)
    crosses = found.report["crosses"]
    assert crosses["completed_from_lattice"] > 0, crosses
    assert len(found.points) >= 0.95 * len(sim.control_points), crosses
    truth = {(round(p.easting), round(p.northing)) for p in sim.control_points}
    for p in found.points:
        assert (round(p.easting), round(p.northing)) in truth
        x, y = sim.map_to_pixel(np.array([p.easting]), np.array([p.northing]))
        assert np.hypot(p.pixel_x - x[0], p.pixel_y - y[0]) < 3.0, p
