#!/usr/bin/env python3
"""Zero-click control points: found crossings, wrong coordinates, accuracy, time and memory.

Part 1, per label style (``X = 2 321 400``; bare ``2321400`` with northing and easting on
different sides; ``2.321.400``; northings turned 90 degrees): a 1:2000 sheet at 150 dpi with
rotation, paper shrink and scanner drift, made by the scan simulator. ``gcps detect`` finds the
points; the share of crossings found and the number with wrong coordinates are counted; the
sheet is then fitted with ``auto`` on the detected points and the error measured at the hidden
check markers, against GDAL's best option (``gdaltransform`` -order 1 / 2 / -tps) with a
careful planner's hand-placed points on every crossing (the simulator's crossings with reading
noise). Bar: ratio <= 1.1.

A second table says where the crossings went: found by the whole-sheet cross filter, added by
lattice completion (predicted from the lattice and confirmed at full resolution), predicted but
not confirmed (outside the sheet's grid, mostly), refused as off their row's bend, and whether
the coordinates were settled.

Part 2: one 10 000 x 14 000 px sheet (A0 at 300 dpi): ``import_maps.py gcps detect`` run by the
real CLI in a child process; wall time and the command's own peak RSS.

Printed, not asserted. Run: ``.venv/bin/python bench/georef_detect.py`` (``--small`` skips
part 2).
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.georef_accuracy import GDAL, gdaltransform, stats  # noqa: E402
from bench.georef_speed import CLI, timed  # noqa: E402
from planning_gis.georef.detect import detect_grid  # noqa: E402
from planning_gis.georef.report import analyse  # noqa: E402
from planning_gis.scan_simulator import demo_zones, simulate_scan  # noqa: E402

BOUNDS = (586030.0, 2325230.0, 587010.0, 2326010.0)  # a 1:2000 sheet, 100 m grid
STYLES = ("margin-xy", "margin-bare", "margin-dots", "margin-rotated")
DISTORTION = dict(rotation_deg=1.5, shrink_px=8.0, drift_px=3.0)
# A0 at 300 dpi and 1:2000: 84 x 119 cm of paper
BIG_BOUNDS = (585030.0, 2323030.0, 585030.0 + 1560.0, 2323030.0 + 2300.0)


def accuracy(style: str, k: int, tmp: Path) -> dict:
    sim = simulate_scan(demo_zones(BOUNDS, seed=k), BOUNDS, tmp / f"{style}.png", dpi=150,
                        seed=20 + k, check_count=40, grid_step_m=100.0, label_style=style,
                        **DISTORTION)
    t0 = time.perf_counter()
    found = detect_grid(sim.path, crs_epsg=5897)
    seconds = time.perf_counter() - t0
    truth = {(round(p.easting), round(p.northing)) for p in sim.control_points}
    wrong = 0
    for p in found.points:
        x, y = sim.map_to_pixel(np.array([p.easting]), np.array([p.northing]))
        if (round(p.easting), round(p.northing)) not in truth or np.hypot(
                p.pixel_x - x[0], p.pixel_y - y[0]) > 3.0:
            wrong += 1
    px = np.array([c.pixel_x for c in sim.check_points])
    py = np.array([c.pixel_y for c in sim.check_points])
    te = np.array([c.easting for c in sim.check_points])
    tn = np.array([c.northing for c in sim.check_points])
    ours = analyse(found.control_points(), "auto", image_size=(sim.width, sim.height))
    hand = sim.control_points
    gdal = {label: stats(*gdaltransform(hand, args, px, py), te, tn) for label, args in GDAL}
    best = min(gdal, key=lambda m: gdal[m][0])
    auto = stats(*ours.fit.forward(px, py), te, tn)
    return {"style": style, "crossings": len(truth), "found": len(found.points),
            "wrong": wrong, "labels": f"{found.report['labels']['used']}/"
            f"{found.report['labels']['found']}", "seconds": seconds,
            "auto": auto, "method": ours.fit.method, "gdal_best": best, "gdal": gdal[best],
            "crosses": found.report["crosses"], "left_out": found.report["left_out"],
            "settled": bool(found.report["grid"]["easting"] and found.report["grid"]["northing"])}


def main() -> None:
    small = "--small" in sys.argv
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        print("## Detected points on simulated sheets (1:2000, 150 dpi, rotation 1.5°, "
              "shrink 8 px, drift 3 px)\n")
        print("| label style | crossings | found | wrong | labels used/read | detect s | "
              "auto on detected: RMSE / max m | GDAL best on hand-placed | ratio |")
        print("|---|---|---|---|---|---|---|---|---|")
        why = []
        for k, style in enumerate(STYLES):
            r = accuracy(style, k, tmp)
            why.append(r)
            ratio = r["auto"][0] / r["gdal"][0]
            print(f"| {style} | {r['crossings']} | {r['found']} "
                  f"({r['found'] / r['crossings']:.0%}) | {r['wrong']} | {r['labels']} | "
                  f"{r['seconds']:.1f} | {r['auto'][0]:.3f} / {r['auto'][1]:.3f} "
                  f"({r['method']}) | {r['gdal'][0]:.3f} / {r['gdal'][1]:.3f} "
                  f"({r['gdal_best']}) | {ratio:.2f} |", flush=True)
        print("\n### Where the crossings went (from each JSON report)\n")
        print("| label style | found by the whole-sheet filter | added by lattice completion | "
              "predicted, no cross confirmed | off their row, refused | centre not measured | "
              "coordinates settled | not found |")
        print("|---|---|---|---|---|---|---|---|")
        for r in why:
            c = r["crosses"]
            print(f"| {r['style']} | {c['found']} | {c['completed_from_lattice']} | "
                  f"{c['predicted_not_confirmed']} | {c['off_neighbours_refused']} | "
                  f"{c['centre_not_measured']} | {'yes' if r['settled'] else 'NO'} | "
                  f"{r['crossings'] - r['found']} |")
        if small:
            return
        print("\n## A 10 000 x 14 000 px sheet\n")
        t0 = time.perf_counter()
        sim = simulate_scan(demo_zones(BIG_BOUNDS, seed=5), BIG_BOUNDS, tmp / "big.png",
                            dpi=300, seed=5, check_count=10, grid_step_m=100.0,
                            label_style="margin-xy", **DISTORTION)
        made = time.perf_counter() - t0
        out = tmp / "big.points"
        wall, rss, stdout = timed([sys.executable, "-c", CLI.format(root=str(ROOT)), "gcps", "detect",
                                   str(sim.path), "--out", str(out)])
        rep = json.loads(stdout)
        print(f"sheet {sim.width} x {sim.height} px (made in {made:.0f} s), "
              f"{len(sim.control_points)} crossings: {rep['points']} points, "
              f"labels {rep['labels']['used']}/{rep['labels']['found']} used, "
              f"{wall:.1f} s wall, peak RSS {rss:.0f} MB; stages {rep['seconds']}")


if __name__ == "__main__":
    main()
