"""The neatline traced in real (simulated) scans, the row/column correction, and its fallbacks."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
from PIL import Image

from planning_gis.crs import parse_crs
from planning_gis.errors import InvalidInput
from planning_gis.georef.control_points import write_points
from planning_gis.georef.neatline import (
    VERTICAL,
    apply_neatline,
    infer_frame,
    observations,
    parse_bounds,
    trace_neatline,
)
from planning_gis.georef.report import analyse
from planning_gis.georef.scan_io import open_windows, probe_scan
from planning_gis.georef.transforms import EdgeObservations, PixelCorrection, fit
from planning_gis.georef.warp import warp_scan
from planning_gis.scan_simulator import demo_zones, simulate_scan

# A 1:2000 sheet whose frame lies on the 200 m grid, so crosses sit on its corners and ticks.
BOUNDS = (586000.0, 2325200.0, 587000.0, 2326000.0)


@pytest.fixture(scope="module")
def drift(tmp_path_factory):
    """A small scan (about 1800 x 1300 px) whose carriage wobbled by 4 px."""
    d = tmp_path_factory.mktemp("neat")
    return simulate_scan(demo_zones(BOUNDS, seed=2), BOUNDS, d / "drift.png", dpi=75, seed=12,
                         rotation_deg=0.5, shrink_px=2.0, drift_px=4.0, check_count=40,
                         grid_step_m=200.0)


def _checks(sim):
    px = np.array([c.pixel_x for c in sim.check_points])
    py = np.array([c.pixel_y for c in sim.check_points])
    te = np.array([c.easting for c in sim.check_points])
    tn = np.array([c.northing for c in sim.check_points])
    return px, py, te, tn


def _rmse(f, sim) -> float:
    px, py, te, tn = _checks(sim)
    e, n = f.forward(px, py)
    return float(np.sqrt(np.mean((e - te) ** 2 + (n - tn) ** 2)))


def _trace(sim, points=None, bounds=None):
    points = points or sim.control_points
    rep = analyse(points, "auto", image_size=(sim.width, sim.height))
    ref = rep.fits["poly2"]
    with open_windows(probe_scan(sim.path), sim.path.parent) as src:
        return trace_neatline(src, points, ref.transform, ref.loo_rmse_m / ref.pixel_size_m,
                              bounds)


def test_frame_is_inferred_from_the_points_on_it(drift):
    frame, why = infer_frame(drift.control_points)
    assert why is None
    assert frame.sides == {"left": BOUNDS[0], "right": BOUNDS[2], "bottom": BOUNDS[1],
                           "top": BOUNDS[3]}


def test_traced_edges_follow_the_true_line(drift):
    result = _trace(drift)
    assert result.traced, result.reason
    assert {t.side for t in result.traces} == {"left", "right", "top", "bottom"}
    for t in result.traces:
        assert t.reliable, t.why_not
        assert t.kept.sum() >= 0.5 * t.attempted
        cx, cy = t.pixels()
        e, n = drift.pixel_to_map(cx, cy)
        off_px = ((e if t.side in VERTICAL else n) - t.value) / drift.metres_per_pixel
        # The printed line is drawn inside the frame, a pixel or so wide: a constant offset
        # per side. About it, every kept sample is within half a pixel of the true line.
        assert abs(float(np.median(off_px))) < 2.0
        assert np.abs(off_px - np.median(off_px)).max() < 0.5


def test_correction_lowers_the_check_point_error_on_a_drifting_scanner(drift):
    points_only = analyse(drift.control_points, "auto", image_size=(drift.width, drift.height))
    with open_windows(probe_scan(drift.path), drift.path.parent) as src:
        rep = apply_neatline(points_only, drift.control_points, "auto", src,
                             image_size=(drift.width, drift.height))
    section = rep.data["neatline"]
    assert section["traced"] and section["used"], section
    assert section["loo_row_correction"]["loo_rmse_m"] < section["loo_points_only"]["loo_rmse_m"]
    assert _rmse(rep.fit, drift) < _rmse(points_only.fit, drift)
    for side in ("left", "right", "top", "bottom"):
        edge = section["edges"][side]
        assert edge["traced"] and edge["kept"] + edge["rejected"] == edge["samples"]
    assert section["edge_rms_chosen"]["rms_px"] < section["edge_rms_points_only"]["rms_px"]


def test_inverse_round_trips_with_the_correction(drift):
    result = _trace(drift)
    f = fit(drift.control_points, "tps-smooth", correction=result.correction)
    assert f.transform.correction is not None
    gx, gy = np.meshgrid(np.linspace(5, drift.width - 5, 40), np.linspace(5, drift.height - 5, 30))
    e, n = f.forward(gx.ravel(), gy.ravel())
    bx, by = f.inverse(e, n)
    assert np.hypot(bx - gx.ravel(), by - gy.ravel()).max() < 0.01


def test_correction_undo_is_exact():
    knots = np.linspace(0, 1000, 51)
    corr = PixelCorrection(knots, 4 * np.sin(knots / 90.0), knots, 2 * np.cos(knots / 70.0))
    x = np.linspace(-50, 1050, 301)
    y = x[::-1].copy()
    cx, cy = corr.apply(x, y)
    bx, by = corr.undo(cx, cy)
    assert np.abs(bx - x).max() < 1e-6 and np.abs(by - y).max() < 1e-6


def test_plain_image_falls_back_with_the_reason(drift, tmp_path):
    blank = tmp_path / "blank.png"
    Image.new("RGB", (drift.width, drift.height), (250, 250, 245)).save(blank)
    plain = replace(drift, path=blank)
    result = _trace(plain)
    assert not result.traced
    assert "no side of the neatline was traced reliably" in result.reason
    assert all(not t.reliable and t.why_not for t in result.traces)


def test_sheet_cropped_inside_the_frame_falls_back(drift, tmp_path):
    # Crop 60 px inside the frame: the edge crosses are gone, the outermost crosses left are
    # interior grid crosses with no line through them.
    xs = [p.pixel_x for p in drift.control_points]
    ys = [p.pixel_y for p in drift.control_points]
    x0, y0 = int(min(xs)) + 60, int(min(ys)) + 60
    x1, y1 = int(max(xs)) - 60, int(max(ys)) - 60
    path = tmp_path / "cropped.png"
    Image.open(drift.path).crop((x0, y0, x1, y1)).save(path)
    pts = [replace(p, pixel_x=p.pixel_x - x0, pixel_y=p.pixel_y - y0)
           for p in drift.control_points if x0 < p.pixel_x < x1 and y0 < p.pixel_y < y1]
    out = tmp_path / "out.tif"
    result = warp_scan(path, pts, 5897, "auto", out)
    section = result.report["neatline"]
    assert out.exists()
    assert section["traced"] is False and section["used"] is False
    assert section["reason"]


def test_given_bounds_are_traced_too(drift):
    result = _trace(drift, bounds=BOUNDS)
    assert result.traced
    assert result.frame.source == "given"


@pytest.mark.parametrize("text", ["1,2,3", "a,b,c,d", "586000,2326000,587000,2325200", ""])
def test_malformed_bounds(text):
    with pytest.raises(InvalidInput, match="--neatline-bounds"):
        parse_bounds(text)


@pytest.fixture
def drift_points(drift, tmp_path):
    path = tmp_path / "drift.points"
    write_points(drift.control_points, path, parse_crs(5897))
    return path


def test_cli_residuals_with_and_without_the_scan(cli, drift, drift_points):
    code, stdout, stderr = cli(["residuals", "--gcps", str(drift_points), "--scan",
                                str(drift.path)])
    assert code == 0, stderr
    section = json.loads(stdout)["neatline"]
    assert section["traced"] and section["used"]
    assert section["frame"]["source"] == "control points"
    code, stdout, _ = cli(["residuals", "--gcps", str(drift_points)])
    section = json.loads(stdout)["neatline"]
    assert code == 0 and section["traced"] is False and "no scan" in section["reason"]


def test_cli_warp_with_and_without_the_neatline(cli, drift, drift_points, tmp_path):
    reports = {}
    for tag, extra in (("with", ["--neatline-bounds", ",".join(str(b) for b in BOUNDS)]),
                       ("without", ["--no-neatline"])):
        out = tmp_path / f"{tag}.tif"
        code, stdout, stderr = cli(["warp", str(drift.path), "--gcps", str(drift_points),
                                    "--crs", "EPSG:5897", *extra, "--out", str(out)])
        assert code == 0, stderr
        assert out.exists()
        reports[tag] = json.loads(stdout)
    assert reports["with"]["neatline"]["used"] is True
    assert reports["with"]["neatline"]["frame"]["source"] == "given"
    assert reports["without"]["neatline"] == {"traced": False, "used": False,
                                             "reason": "not asked for (--no-neatline)"}
    assert reports["with"]["loo_rmse_m"] < reports["without"]["loo_rmse_m"]


@pytest.mark.parametrize("command", ["warp", "residuals"])
def test_cli_malformed_bounds_is_one_line(cli, drift, drift_points, tmp_path, command):
    out = tmp_path / "o.tif"
    argv = ["residuals", "--gcps", str(drift_points), "--scan", str(drift.path)]
    if command == "warp":
        argv = ["warp", str(drift.path), "--gcps", str(drift_points), "--out", str(out)]
    code, stdout, stderr = cli([*argv, "--neatline-bounds", "586000,2325200,587000"])
    assert code == 2
    assert stdout == ""
    assert stderr.startswith("error: --neatline-bounds") and stderr.count("\n") == 1, stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["drift.points"]


@pytest.fixture(scope="module")
def shrunk(tmp_path_factory):
    """A small scan of unevenly shrunk paper, no scanner wobble."""
    d = tmp_path_factory.mktemp("shrunk")
    return simulate_scan(demo_zones(BOUNDS, seed=1), BOUNDS, d / "shrunk.png", dpi=75, seed=11,
                         rotation_deg=1.0, shrink_px=5.0, drift_px=0.0, check_count=40,
                         grid_step_m=200.0)


def test_edge_samples_lower_the_noise_of_poly2_on_shrunk_paper(shrunk):
    result = _trace(shrunk)
    edges = observations(result)
    assert edges is not None and len(edges.pixels) == 4
    plain = fit(shrunk.control_points, "poly2")
    aided = fit(shrunk.control_points, "poly2", edges=edges)
    assert _rmse(aided, shrunk) < _rmse(plain, shrunk)


def test_edge_offsets_stay_free(shrunk):
    # An edge says the coordinate is the same all along it, not which: moving every edge's
    # value leaves the fit where the control points put it.
    edges = observations(_trace(shrunk))
    moved = EdgeObservations(edges.pixels, edges.axis, tuple(v + 7.0 for v in edges.value))
    a = fit(shrunk.control_points, "poly2", edges=edges)
    b = fit(shrunk.control_points, "poly2", edges=moved)
    px, py, _, _ = _checks(shrunk)
    ea, na = a.forward(px, py)
    eb, nb = b.forward(px, py)
    assert np.abs(ea - eb).max() < 1e-6 and np.abs(na - nb).max() < 1e-6
