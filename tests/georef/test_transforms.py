from __future__ import annotations

import subprocess
from dataclasses import replace

import numpy as np
import pytest

from planning_gis.errors import GeoreferenceError, NotEnoughControlPoints
from planning_gis.georef.control_points import ControlPoint
from planning_gis.georef.transforms import (
    METHODS,
    MIN_POINTS,
    SmoothingPath,
    _tps_kernel,
    as_arrays,
    build_transform,
    fit,
)


def _warped(e, n):
    """A rotated, scaled, quadratically shrunk and gently waved pixel <-> map relation."""
    a, b = (e - 586000.0) / 0.5, (2326000.0 - n) / 0.5
    x = 40 + a * np.cos(0.03) - b * np.sin(0.03) + 2e-5 * a * a + 3 * np.sin(b / 150)
    y = 30 + a * np.sin(0.03) + b * np.cos(0.03) + 1.5e-5 * a * b
    return x, y


@pytest.fixture
def wavy(make_grid):
    return make_grid(_warped, n_e=6, n_n=5, noise_px=0.3, seed=2)


@pytest.mark.parametrize("method", METHODS)
def test_forward_and_inverse_agree(method, wavy):
    f = fit(wavy, method)
    px = np.array([50.0, 400.0, 900.0])
    py = np.array([60.0, 500.0, 700.0])
    e, n = f.forward(px, py)
    bx, by = f.inverse(e, n)
    assert np.abs(bx - px).max() < 1e-3 and np.abs(by - py).max() < 1e-3


@pytest.mark.parametrize("method", ["helmert", "affine", "poly2", "poly3", "projective"])
def test_exact_data_of_the_method_class_is_recovered(method, make_grid):
    def similar(e, n):
        a, b = (e - 586000.0) / 0.5, (2326000.0 - n) / 0.5
        return 40 + a * np.cos(0.1) - b * np.sin(0.1), 30 + a * np.sin(0.1) + b * np.cos(0.1)

    f = fit(make_grid(similar), method)
    assert f.rmse_m < 1e-6
    assert f.loo_rmse_m is not None and f.loo_rmse_m < 1e-5
    assert f.pixel_size_m == pytest.approx(0.5, rel=1e-6)


def test_thin_plate_spline_residuals_are_zero_but_leave_one_out_is_not(wavy):
    f = fit(wavy, "tps")
    assert f.rmse_m < 1e-6
    assert f.loo_rmse_m > 0.05


def test_leave_one_out_matches_a_manual_refit(wavy):
    f = fit(wavy, "poly2")
    others = wavy[1:]
    g = fit(others, "poly2")
    e, n = g.forward(np.array([wavy[0].pixel_x]), np.array([wavy[0].pixel_y]))
    assert f.loo_m[0] == pytest.approx([e[0] - wavy[0].easting, n[0] - wavy[0].northing])


def test_flexible_methods_beat_stiff_ones_out_of_sample(wavy):
    loo = {m: fit(wavy, m).loo_rmse_m for m in METHODS}
    assert loo["tps"] < loo["affine"]
    assert loo["poly2"] < loo["helmert"]


def _gdaltransform(points, args, queries):
    cmd = ["gdaltransform", *args]
    for p in points:
        cmd += ["-gcp", repr(p.pixel_x), repr(p.pixel_y), repr(p.easting), repr(p.northing)]
    out = subprocess.run(cmd, input="\n".join(f"{x:.6f} {y:.6f}" for x, y in queries),
                         capture_output=True, text=True, check=True).stdout
    return np.array([[float(v) for v in line.split()[:2]] for line in out.strip().splitlines()])


@pytest.mark.parametrize(
    ("method", "args"),
    [("affine", ["-order", "1"]), ("poly2", ["-order", "2"]), ("poly3", ["-order", "3"]),
     ("tps", ["-tps"])],
)
def test_forward_mapping_agrees_with_gdal(method, args, wavy):
    f = fit(wavy, method)
    queries = np.array([[10.0, 15.0], [333.3, 444.4], [700.0, 120.0], [1200.0, 800.0]])
    gdal = _gdaltransform(wavy, args, queries)
    e, n = f.forward(queries[:, 0], queries[:, 1])
    # well under a pixel (0.5 m): in practice the same least-squares / spline solution
    assert np.abs(gdal[:, 0] - e).max() < 0.005
    assert np.abs(gdal[:, 1] - n).max() < 0.005


@pytest.mark.parametrize("method", METHODS)
def test_too_few_points(method, make_grid):
    pts = make_grid(n_e=3, n_n=3)[: MIN_POINTS[method] - 1]
    with pytest.raises((NotEnoughControlPoints, GeoreferenceError)):
        fit(pts, method)


def test_duplicate_points_are_refused(make_grid):
    pts = make_grid()
    pts.append(ControlPoint(pts[0].pixel_x, pts[0].pixel_y, 586050.0, 2325950.0, True, "dup"))
    with pytest.raises(GeoreferenceError, match="duplicate"):
        fit(pts, "affine")


def test_collinear_points_are_refused():
    pts = [ControlPoint(10.0 * i, 5.0 * i, 586000.0 + 5 * i, 2326000.0 - 2.5 * i, True, str(i))
           for i in range(6)]
    with pytest.raises(GeoreferenceError, match="collinear"):
        fit(pts, "affine")


def test_poly3_on_a_clustered_layout_is_refused_not_wild():
    # 10 points on two lines: enough in number, not in shape, for a cubic
    pts = [ControlPoint(100.0 * i, 100.0 * (i % 2), 586000 + 50.0 * i, 2326000 - 50.0 * (i % 2),
                        True, str(i)) for i in range(10)]
    with pytest.raises(GeoreferenceError):
        fit(pts, "poly3")


def test_unknown_method(make_grid):
    pts = make_grid()
    with pytest.raises(GeoreferenceError, match="unknown method"):
        build_transform("spline9", np.zeros((4, 2)), np.zeros((4, 2)))
    assert fit(pts, "affine").method == "affine"


def _gentle(e, n):
    """Nearly rigid (a long wave of a pixel): what the exact spline follows is mostly noise."""
    a, b = (e - 586000.0) / 0.5, (2326000.0 - n) / 0.5
    x = 40 + a * np.cos(0.02) - b * np.sin(0.02) + 1e-6 * a * a + np.sin(b / 400)
    y = 30 + a * np.sin(0.02) + b * np.cos(0.02) + 1e-6 * a * b
    return x, y


def _held_out_error(f, seed: int) -> float:
    rng = np.random.default_rng(1000 + seed)
    e = rng.uniform(586000.0, 586600.0, 300)
    n = rng.uniform(2325500.0, 2326000.0, 300)
    px, py = _gentle(e, n)
    fe, fn = f.forward(px, py)
    return float(np.sqrt(np.mean((fe - e) ** 2 + (fn - n) ** 2)))


@pytest.mark.parametrize("seed", range(5))
def test_smoothing_spline_beats_the_exact_one_at_held_out_points(seed, make_grid):
    pts = make_grid(_gentle, n_e=7, n_n=6, noise_px=0.35, seed=seed)
    smooth = fit(pts, "tps-smooth")
    exact = fit(pts, "tps")
    assert _held_out_error(smooth, seed) < _held_out_error(exact, seed)
    # it gives way at the points instead of passing through each reading
    assert smooth.rmse_m > 0.0
    assert 3.0 < smooth.transform.smoothing["effective_parameters"] < len(pts)


def test_a_points_own_coordinates_do_not_choose_its_smoothing(wavy):
    """The leave-one-out prediction of a point ignores its map coordinates, smoothing included.

    Moving one point's coordinates changes the smoothing chosen with all points, but not its
    own leave-one-out prediction: that smoothing is chosen without it.
    """
    i = 7
    moved = list(wavy)
    moved[i] = replace(wavy[i], easting=wavy[i].easting + 3.0, northing=wavy[i].northing - 2.0)
    f, g = fit(wavy, "tps-smooth"), fit(moved, "tps-smooth")
    pred_f = f.loo_m[i] + [wavy[i].easting, wavy[i].northing]
    pred_g = g.loo_m[i] + [moved[i].easting, moved[i].northing]
    assert pred_f == pytest.approx(pred_g, abs=1e-6)
    assert f.transform.smoothing != g.transform.smoothing


def test_nested_leave_one_out_equals_refitting_without_each_point(wavy):
    pixels, coords = as_arrays(wavy)
    src = (pixels - pixels.mean(axis=0)) / pixels.std()
    values = (coords - coords.mean(axis=0)) / coords.std()
    path = SmoothingPath(src, values)
    fast, chosen = path.nested_loo()
    for i in (0, 7, len(src) - 1):
        keep = np.arange(len(src)) != i
        sub = SmoothingPath(src[keep], values[keep])
        scores = [float((sub.loo(lam) ** 2).sum(axis=1).mean()) for lam in path.grid()]
        lam = path.grid()[int(np.argmin(scores))]
        c, a = sub.coefficients(lam)
        q = src[i : i + 1]
        pred = _tps_kernel(np.hypot(*(q - src[keep]).T))[None, :] @ c + a[0] + q @ a[1:]
        assert chosen[i] == lam
        assert fast[i] == pytest.approx(pred[0] - values[i], abs=1e-9)


def test_no_smoothing_is_the_exact_thin_plate_spline(wavy):
    pixels, coords = as_arrays(wavy)
    exact = build_transform("tps", pixels, coords)
    smooth = build_transform("tps-smooth", pixels, coords, smoothing=0.0)
    rng = np.random.default_rng(4)
    px, py = rng.uniform(0, 1300, 200), rng.uniform(0, 900, 200)
    a, b = np.array(exact.forward(px, py)), np.array(smooth.forward(px, py))
    assert np.abs(a - b).max() < 1e-6
    ia, ib = np.array(exact.inverse(*a)), np.array(smooth.inverse(*a))
    assert np.abs(ia - ib).max() < 1e-6


def test_heavy_smoothing_is_the_affine_fit(wavy):
    pixels, coords = as_arrays(wavy)
    affine = build_transform("affine", pixels, coords)
    stiff = build_transform("tps-smooth", pixels, coords, smoothing=1e9)
    px, py = np.array([0.0, 640.0, 1300.0]), np.array([0.0, 450.0, 900.0])
    assert np.abs(np.array(affine.forward(px, py)) - np.array(stiff.forward(px, py))).max() < 1e-3


def test_leave_one_out_shortcut_equals_refitting(wavy):
    """e_i / (1 - H_ii) is the error of a refit without point i, for the same smoothing."""
    pixels, coords = as_arrays(wavy)
    src = (pixels - pixels.mean(axis=0)) / pixels.std()
    values = (coords - coords.mean(axis=0)) / coords.std()
    path = SmoothingPath(src, values)
    lam = 0.3 * path.scale
    shortcut = path.loo(lam)
    for i in (0, 7, len(src) - 1):
        keep = np.arange(len(src)) != i
        c, a = SmoothingPath(src[keep], values[keep]).coefficients(lam)
        q = src[i : i + 1]
        k = _tps_kernel(np.hypot(*(q - src[keep]).T))[None, :]
        pred = k @ c + a[0] + q @ a[1:]
        assert shortcut[i] == pytest.approx(pred[0] - values[i], abs=1e-9)


def test_smoothing_spline_inverse_round_trips_across_the_sheet(wavy):
    f = fit(wavy, "tps-smooth")
    px, py = (a.ravel() for a in np.meshgrid(np.linspace(0, 1300, 25), np.linspace(0, 900, 20)))
    e, n = f.forward(px, py)
    bx, by = f.inverse(e, n)
    assert np.hypot(bx - px, by - py).max() < 0.01


def test_smoothing_spline_with_too_few_points_says_how_many(make_grid):
    with pytest.raises(NotEnoughControlPoints, match="tps-smooth needs at least 5 control "
                       "points, 4 given"):
        fit(make_grid(n_e=2, n_n=2), "tps-smooth")
