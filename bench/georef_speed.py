#!/usr/bin/env python3
"""Warp speed and peak memory: our engine against gdalwarp, same points, same output options.

A ~10 000 x 7 000 RGB sheet is simulated (tiled DEFLATE TIFF), its grid crosses become the
control points, and each method is run as a child process: ``import_maps.py warp`` (ours) and
``gdal_translate -gcp`` + ``gdalwarp`` (GDAL) with the same output grid, bilinear resampling,
alpha band, DEFLATE COG with 512 px blocks and internal overviews, and 2 threads each. Time and
peak resident memory is the command's own ``ru_maxrss`` (``os.wait4`` in a small launcher).
One method per GDAL transform kind and ``tps-smooth`` (``METHODS``). Then the same for a
20 000 x 14 000 scan (the 10k sheet upsampled by gdal_translate) to show the memory bound.
Printed, never asserted.
Run: ``.venv/bin/python bench/georef_speed.py`` (under 10 minutes on two cores).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from planning_gis.georef.control_points import write_csv  # noqa: E402
from planning_gis.scan_simulator import demo_zones, simulate_scan  # noqa: E402

PY = sys.executable
THREADS = 2
# One method per GDAL transform kind keeps the run under ten minutes on two cores, plus the
# smoothing spline (GDAL has none; compared with its exact -tps, the same kernel per centre).
METHODS = ("affine", "poly2", "tps", "tps-smooth")
BOUNDS = (585000.0, 2324000.0, 587726.0, 2326330.0)  # gives a ~10 000 x 7 000 px sheet
GDAL_EQUIV = {"helmert": ["-order", "1"], "affine": ["-order", "1"], "poly2": ["-order", "2"],
              "poly3": ["-order", "3"], "projective": ["-order", "1"], "tps": ["-tps"],
              "tps-smooth": ["-tps"]}
# Runs the real CLI; command modules of branches not merged yet are skipped.
CLI = (
    "import sys, importlib.util as u; sys.path.insert(0, {root!r}); import import_maps as m; "
    "m.COMMAND_MODULES = tuple(x for x in m.COMMAND_MODULES if u.find_spec(x)); "
    "sys.exit(m.main(sys.argv[1:]))"
)


# A small launcher runs each command and reports the command's own peak RSS (``ru_maxrss`` from
# ``os.wait4``). Not forked from this process directly: a child inherits its parent's peak RSS
# on Linux, and this process holds the simulated sheet.
LAUNCH = (
    "import os, sys, subprocess; p = subprocess.Popen(sys.argv[1:]); "
    "_, st, ru = os.wait4(p.pid, 0); print(ru.ru_maxrss, file=sys.stderr); "
    "sys.exit(os.waitstatus_to_exitcode(st))"
)


def timed(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, float, str]:
    """Wall seconds, peak RSS in MB of the command, its stdout."""
    t0 = time.perf_counter()
    p = subprocess.run([PY, "-c", LAUNCH, *cmd], capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        raise RuntimeError(f"{cmd[:3]} failed: {p.stderr[-2000:]}")
    rss_kb = int(p.stderr.strip().splitlines()[-1])
    return wall, rss_kb / 1024, p.stdout


def gdal_vrt(scan: Path, points, vrt: Path) -> None:
    cmd = ["gdal_translate", "-q", "-of", "VRT", "-a_srs", "EPSG:5897"]
    for p in points:
        cmd += ["-gcp", f"{p.pixel_x:.4f}", f"{p.pixel_y:.4f}", f"{p.easting:.4f}",
                f"{p.northing:.4f}"]
    subprocess.run([*cmd, str(scan), str(vrt)], check=True)


def ours(scan: Path, gcps: Path, method: str, out: Path, env) -> tuple[float, float, dict]:
    wall, rss, stdout = timed(
        [PY, "-c", CLI.format(root=str(ROOT)), "warp", str(scan), "--gcps", str(gcps),
         "--crs", "EPSG:5897", "--method", method, "--out", str(out)], env)
    return wall, rss, json.loads(stdout)


def gdalwarp(vrt: Path, args: list[str], grid: dict, out: Path) -> tuple[float, float]:
    minx, miny, maxx, maxy = grid["bounds"]
    res = grid["resolution"]
    cmd = ["gdalwarp", "-q", "-overwrite", *args, "-t_srs", "EPSG:5897", "-r", "bilinear",
           "-dstalpha", "-te", str(minx), str(miny), str(maxx), str(maxy), "-tr", str(res),
           str(res), "-wm", "256", "-multi", "-wo", f"NUM_THREADS={THREADS}",
           "--config", "GDAL_CACHEMAX", "256", "-of", "COG", "-co", "COMPRESS=DEFLATE",
           "-co", "PREDICTOR=2", "-co", "BLOCKSIZE=512", "-co", f"NUM_THREADS={THREADS}",
           "-co", "OVERVIEW_RESAMPLING=AVERAGE", str(vrt), str(out)]
    wall, rss, _ = timed(cmd)
    return wall, rss


def neatline_cell(rep: dict) -> str:
    """Seconds our warp spent on the neatline, and what of it the fit used."""
    nl = rep.get("neatline", {})
    used = [k for k, flag in (("row correction", nl.get("row_correction_used")),
                              ("edge samples", nl.get("edge_observations_used"))) if flag]
    return f"{nl.get('seconds', 0.0):10.2f}  {', '.join(used) or 'no'}"


def main() -> None:
    env = {**os.environ, "PLANNING_WARP_THREADS": str(THREADS), "PLANNING_WARP_MEMORY_MB": "256",
           "PLANNING_GDAL_CACHEMAX_MB": "256"}
    with tempfile.TemporaryDirectory(prefix="georef-speed-") as tmp:
        d = Path(tmp)
        t0 = time.perf_counter()
        sim = simulate_scan(demo_zones(BOUNDS, seed=4), BOUNDS, d / "sheet.png", dpi=150, seed=4,
                            grid_step_m=200.0, rotation_deg=1.0, shrink_px=8.0, drift_px=2.0)
        scan = d / "sheet.tif"
        subprocess.run(["gdal_translate", "-q", "-co", "TILED=YES", "-co", "COMPRESS=DEFLATE",
                        str(sim.path), str(scan)], check=True)
        (d / "sheet.png").unlink()
        gcps = d / "gcps.csv"
        write_csv(sim.control_points, gcps)
        vrt = d / "gcps.vrt"
        gdal_vrt(scan, sim.control_points, vrt)
        print(f"scan {sim.width} x {sim.height} RGB, {len(sim.control_points)} control points, "
              f"simulated in {time.perf_counter() - t0:.0f} s; {THREADS} threads each; "
              "output DEFLATE COG 512 px blocks, bilinear, alpha, overviews")
        head = (f"{'method':<11} {'ours s':>7} {'ours MB':>8} {'gdalwarp':<10} {'gdal s':>7} "
                f"{'gdal MB':>8} {'time ratio':>10}  {'neatline s':>10}  neatline used")
        print(head)
        print("-" * len(head))
        for method in METHODS:
            w, r, rep = ours(scan, gcps, method, d / f"ours_{method}.tif", env)
            gw, gr = gdalwarp(vrt, GDAL_EQUIV[method], rep, d / f"gdal_{method}.tif")
            label = " ".join(GDAL_EQUIV[method]) + (
                "*" if method in ("helmert", "projective", "tps-smooth") else "")
            print(f"{method:<11} {w:7.1f} {r:8.0f} {label:<10} {gw:7.1f} {gr:8.0f} "
                  f"{w / gw:9.2f}x  {neatline_cell(rep)}", flush=True)
            (d / f"ours_{method}.tif").unlink()
            (d / f"gdal_{method}.tif").unlink()
        if {"helmert", "projective"} & set(METHODS):
            print("* GDAL has no similarity or projective GCP transform; compared with -order 1")
        if "tps-smooth" in METHODS:
            print("* GDAL has no smoothing spline; compared with its exact -tps")

        big = d / "big.tif"
        subprocess.run(["gdal_translate", "-q", "-outsize", "200%", "200%", "-r", "bilinear",
                        "-co", "TILED=YES", "-co", "COMPRESS=DEFLATE", str(scan), str(big)],
                       check=True)
        scaled = [type(p)(p.pixel_x * 2, p.pixel_y * 2, p.easting, p.northing, True, p.label)
                  for p in sim.control_points]
        big_gcps = d / "big.csv"
        write_csv(scaled, big_gcps)
        big_vrt = d / "big.vrt"
        gdal_vrt(big, scaled, big_vrt)
        w, r, rep = ours(big, big_gcps, "auto", d / "ours_big.tif", env)
        gw, gr = gdalwarp(big_vrt, GDAL_EQUIV[rep["method"]], rep, d / "gdal_big.tif")
        print(f"\n{sim.width * 2} x {sim.height * 2} RGB scan, auto -> {rep['method']}, output "
              f"{rep['width']} x {rep['height']}: ours {w:.1f} s, peak {r:.0f} MB; gdalwarp "
              f"{' '.join(GDAL_EQUIV[rep['method']])} {gw:.1f} s, peak {gr:.0f} MB; "
              f"ratio {w / gw:.2f}x; neatline {neatline_cell(rep)}")
        print("neatline s: tracing the frame and the analyses with it, inside 'ours s'")


if __name__ == "__main__":
    main()
