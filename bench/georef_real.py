#!/usr/bin/env python3
"""``auto`` against GDAL on a real old map: the 1925 cadastre of Kastoria (Greece).

The only public real historical map with many surveyed points we could obtain offline is the
homologous-point set of the R package mapAI (github.com/kvantas/mapAI, MIT licence,
``data_raw/homologous.csv``): 1 106 points identified both on the 1925 cadastral map of
Kastoria (as digitised, ``source_x/source_y``) and on a modern survey (``target_x/target_y``,
EPSG:2100). Its error is local and irregular (sheets drawn and pasted by hand), unlike the
smooth distortions of the scan simulator. The digitised map coordinates stand in for scan
pixels (a scan is an affine image of them at 300 dpi of a 1:1000 sheet: 1 px = 0.085 m), which
every method here is invariant to.

For 20 and for 40 control points (``DRAWS`` random draws each) the fit is measured at all the
other points: our ``auto`` (as it ships, and with blunders dropped) against ``gdaltransform``
-order 1, -order 2 and -tps. Printed, not asserted. The data set is not vendored: pass its path
(``git show HEAD:data_raw/homologous.csv`` in a clone of mapAI).

Run: ``.venv/bin/python bench/georef_real.py homologous.csv``.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.georef_accuracy import GDAL, gdaltransform, stats  # noqa: E402
from planning_gis.errors import GeoreferenceError  # noqa: E402
from planning_gis.georef.control_points import ControlPoint  # noqa: E402
from planning_gis.georef.report import analyse  # noqa: E402

PIXEL_M = 0.085
DRAWS = 10
SIZES = (20, 40)


def load(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Pixels (column, row) of the old map and true coordinates, from the mapAI CSV."""
    with path.open(newline="") as f:
        rows = [r for r in csv.DictReader(f)]
    src = np.array([[float(r["source_x"]), float(r["source_y"])] for r in rows])
    dst = np.array([[float(r["target_x"]), float(r["target_y"])] for r in rows])
    x0, y1 = src[:, 0].min(), src[:, 1].max()
    pixels = np.column_stack([(src[:, 0] - x0) / PIXEL_M, (y1 - src[:, 1]) / PIXEL_M])
    return pixels, dst


def run(pixels: np.ndarray, coords: np.ndarray, size: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(pixels), size, replace=False)
    rest = np.setdiff1d(np.arange(len(pixels)), pick)
    pts = [ControlPoint(float(pixels[i, 0]), float(pixels[i, 1]), float(coords[i, 0]),
                        float(coords[i, 1]), True, f"P{i}") for i in pick]
    px, py = pixels[rest, 0], pixels[rest, 1]
    te, tn = coords[rest, 0], coords[rest, 1]
    region = float(np.ptp(pixels[:, 0]) * np.ptp(pixels[:, 1]))
    out: dict = {}
    for label, drop in (("auto", False), ("auto -drop", True)):
        try:
            rep = analyse(pts, "auto", region_area_px=region, drop_blunders=drop)
            out[label] = stats(*rep.fit.forward(px, py), te, tn)
            out[label + " method"] = rep.fit.method
            out[label + " blunders"] = len(rep.data["blunders"])
        except GeoreferenceError as exc:
            out[label] = (float("nan"), float("nan"))
            out[label + " method"] = f"refused: {exc}"[:40]
    for label, args in GDAL:
        out[label] = stats(*gdaltransform(pts, args, px, py), te, tn)
    return out


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit("usage: georef_real.py PATH/homologous.csv (mapAI's data_raw)")
    pixels, coords = load(Path(sys.argv[1]))
    shift = np.hypot(*(coords - coords.mean(0)).T)
    print(f"Kastoria 1925 cadastre: {len(pixels)} homologous points over "
          f"{np.ptp(coords[:, 0]):.0f} x {np.ptp(coords[:, 1]):.0f} m (spread {shift.max():.0f} m);"
          f" error at the points not used (RMSE / max, metres), {DRAWS} draws each")
    cols = ["auto", "auto -drop", *(label for label, _ in GDAL)]
    print(f"{'points':>6} {'draw':>4}  {'auto method':<12} {'bl':>3} "
          + " ".join(f"{c:>17}" for c in cols) + "  best GDAL / auto")
    for size in SIZES:
        runs = [run(pixels, coords, size, 1000 * size + d) for d in range(DRAWS)]
        for d, r in enumerate(runs):
            best = min(r[label][0] for label, _ in GDAL)
            print(f"{size:>6} {d:>4}  {r['auto method']:<12} {r.get('auto blunders', 0):>3} "
                  + " ".join(f"{r[c][0]:8.3f} / {r[c][1]:6.2f}" for c in cols)
                  + f"  {best / r['auto'][0]:6.2f}")
        mean = {c: float(np.mean([r[c][0] for r in runs])) for c in cols}
        best_label = min((label for label, _ in GDAL), key=lambda lb: mean[lb])
        methods = "/".join(sorted({r["auto method"] for r in runs}))
        print(f"{size:>6} mean  {methods:<16} "
              + " ".join(f"{mean[c]:17.3f}" for c in cols)
              + f"  {mean[best_label] / mean['auto']:6.2f} (best GDAL: {best_label})")


if __name__ == "__main__":
    main()
