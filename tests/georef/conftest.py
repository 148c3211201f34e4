"""Fixtures for the georeferencing tests: small synthetic scans and control points, made by code."""

from __future__ import annotations

import io
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import numpy as np
import pytest

from planning_gis.georef.control_points import ControlPoint
from planning_gis.scan_simulator import demo_zones, simulate_scan

ROOT = Path(__file__).resolve().parents[2]

BOUNDS = (586000.0, 2325500.0, 586600.0, 2326000.0)


@pytest.fixture(scope="session")
def sim(tmp_path_factory):
    """A small distorted sheet (about 1300 x 800 px) with grid crosses and hidden markers."""
    d = tmp_path_factory.mktemp("sim")
    return simulate_scan(
        demo_zones(BOUNDS, seed=3), BOUNDS, d / "sheet.png", dpi=75, seed=3,
        rotation_deg=1.5, shrink_px=4.0, drift_px=1.0, check_count=10,
    )


def grid_points(
    func=None, n_e: int = 5, n_n: int = 4, noise_px: float = 0.0, seed: int = 0
) -> list[ControlPoint]:
    """Grid crosses every 100 m; ``func`` maps (E, N) arrays to pixel (x, y) arrays."""
    rng = np.random.default_rng(seed)
    e0, n0 = 586000.0, 2326000.0
    if func is None:
        def func(e, n):
            return (e - e0) / 0.5 + 50.0, (n0 - n) / 0.5 + 40.0
    pts = []
    k = 0
    for i in range(n_e):
        for j in range(n_n):
            e, n = e0 + 100.0 * i, n0 - 100.0 * j
            x, y = func(np.array(e), np.array(n))
            x = float(x) + rng.normal(0, noise_px) if noise_px else float(x)
            y = float(y) + rng.normal(0, noise_px) if noise_px else float(y)
            k += 1
            pts.append(ControlPoint(x, y, e, n, True, f"P{k}"))
    return pts


def run_cli(argv: list[str]) -> tuple[int, str, str]:
    """Call ``import_maps.main`` in-process, capturing what it prints."""
    import import_maps

    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = import_maps.main(argv)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def make_grid():
    return grid_points


@pytest.fixture
def cli():
    return run_cli
