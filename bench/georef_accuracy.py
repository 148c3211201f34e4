#!/usr/bin/env python3
"""Georeferencing accuracy at hidden check markers: our ``auto`` against GDAL's options.

Each case draws a planning sheet in EPSG:5897 with the scan simulator, distorts it (rotation
and scale; quadratic paper shrink; wavy scanner drift), reads noisy control points off the grid
crosses, and keeps hidden check markers whose true coordinates are known. The same control
points go to ``auto`` and to the real ``gdaltransform`` with ``-order 1``, ``-order 2`` and
``-tps``; the error is measured at the check markers (RMSE and max, metres). Printed, not
asserted. Run: ``/work/main/.venv/bin/python bench/georef_accuracy.py``.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from shapely.geometry import Polygon  # noqa: E402

from planning_gis.georef.report import analyse  # noqa: E402
from planning_gis.scan_simulator import demo_zones, simulate_scan  # noqa: E402

BOUNDS = (586000.0, 2325200.0, 587000.0, 2326000.0)  # 1000 m x 800 m: a 1:2000 sheet
CASES = [
    ("rotation + scale", dict(rotation_deg=2.0, shrink_px=0.0, drift_px=0.0)),
    ("paper shrink 10 px", dict(rotation_deg=1.0, shrink_px=10.0, drift_px=0.0)),
    ("scanner drift 4 px", dict(rotation_deg=0.5, shrink_px=2.0, drift_px=4.0)),
    ("shrink + drift", dict(rotation_deg=1.5, shrink_px=8.0, drift_px=3.0)),
]
GDAL = [("gdal -order 1", ["-order", "1"]), ("gdal -order 2", ["-order", "2"]),
        ("gdal -tps", ["-tps"])]


def gdaltransform(points, args, px, py):
    cmd = ["gdaltransform", *args]
    for p in points:
        cmd += ["-gcp", f"{p.pixel_x:.4f}", f"{p.pixel_y:.4f}", f"{p.easting:.4f}",
                f"{p.northing:.4f}"]
    text = "\n".join(f"{x:.4f} {y:.4f}" for x, y in zip(px, py, strict=True))
    out = subprocess.run(cmd, input=text, capture_output=True, text=True, check=True).stdout
    arr = np.array([[float(v) for v in line.split()[:2]] for line in out.strip().splitlines()])
    return arr[:, 0], arr[:, 1]


def stats(e, n, te, tn):
    err = np.hypot(e - te, n - tn)
    return float(np.sqrt(np.mean(err**2))), float(err.max())


def main() -> None:
    rows = []
    t0 = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        for k, (name, opts) in enumerate(CASES):
            sim = simulate_scan(demo_zones(BOUNDS, seed=k), BOUNDS, Path(tmp) / f"case{k}.png",
                                dpi=150, seed=10 + k, check_count=40, grid_step_m=200.0,
                                **opts)
            pts = sim.control_points
            px = np.array([c.pixel_x for c in sim.check_points])
            py = np.array([c.pixel_y for c in sim.check_points])
            te = np.array([c.easting for c in sim.check_points])
            tn = np.array([c.northing for c in sim.check_points])
            rep = analyse(pts, "auto", image_size=(sim.width, sim.height),
                          region_area_px=Polygon(sim.neatline_pixels).area)
            e, n = rep.fit.forward(px, py)
            auto = stats(e, n, te, tn)
            gd = {label: stats(*gdaltransform(pts, args, px, py), te, tn) for label, args in GDAL}
            rows.append((name, len(pts), len(px), sim.metres_per_pixel, rep.fit.method,
                         rep.data["loo_rmse_m"], auto, gd))
    print(f"Check-point error in metres (RMSE / max), {len(CASES)} synthetic 1:2000 sheets at "
          f"150 dpi (1 px = {rows[0][3]:.3f} m),\ncontrol points = grid crosses every 200 m "
          "(10 cm of paper) read with 0.35 px noise")
    head = (f"{'case':<20} {'gcps':>4} {'chk':>4}  {'auto (method)':<24} "
            + " ".join(f"{label:>16}" for label, _ in GDAL) + "  verdict")
    print(head)
    print("-" * len(head))
    for name, ng, nc, _mpp, method, _loo, auto, gd in rows:
        best = min(v[0] for v in gd.values())
        verdict = ("no worse than best GDAL" if auto[0] <= best * 1.02 else "WORSE than best GDAL")
        if auto[0] < 0.8 * gd["gdal -order 1"][0]:
            verdict += f"; {gd['gdal -order 1'][0] / auto[0]:.1f}x better than -order 1"
        print(f"{name:<20} {ng:>4} {nc:>4}  {auto[0]:6.3f} / {auto[1]:5.2f} ({method:<5})    "
              + " ".join(f"{v[0]:7.3f} / {v[1]:5.2f}" for v in gd.values()) + f"  {verdict}")
    print(f"(total {time.time() - t0:.0f} s)")


if __name__ == "__main__":
    main()
