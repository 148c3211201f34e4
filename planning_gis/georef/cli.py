"""Subcommands ``warp`` and ``residuals`` of ``import_maps.py``.

Both print one JSON report to stdout, so the planner (or a script) sees the method chosen,
the honest leave-one-out error and the blunders. Errors are domain errors; the dispatcher turns
them into one ``error: ...`` line and exit code 2.
"""

from __future__ import annotations

import argparse
import json
import sys

from planning_gis.crs import epsg_of
from planning_gis.georef.control_points import read_control_points
from planning_gis.georef.report import report
from planning_gis.georef.scan_io import probe_scan
from planning_gis.georef.transforms import METHODS
from planning_gis.georef.warp import RESAMPLING, warp_scan


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from exc
    if not value > 0:
        raise argparse.ArgumentTypeError("must be a positive number of metres")
    return value


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``warp`` and ``residuals`` to the CLI."""
    w = subparsers.add_parser(
        "warp",
        help="georeference a scanned sheet and write a Cloud-Optimized GeoTIFF",
        description="Fit the control points, report residuals, warp SCAN to a COG.",
    )
    w.add_argument("scan", metavar="SCAN", help="PNG, JPEG, TIFF or one-page PDF")
    w.add_argument("--gcps", required=True, metavar="FILE",
                   help="control points: CSV, QGIS .points or GeoTIFF with GCPs")
    w.add_argument("--crs", default="EPSG:5897",
                   help="output CRS, and the points' CRS when the file does not say (EPSG:5897)")
    w.add_argument("--method", default="auto", choices=("auto", *METHODS))
    w.add_argument("--resolution", type=_positive, metavar="METRES",
                   help="output pixel size (default: the scan's own pixel size)")
    w.add_argument("--mask", metavar="WKT_OR_FILE",
                   help="neatline polygon in scan pixels (or map coordinates), WKT or GeoJSON")
    w.add_argument("--resampling", default="bilinear", choices=tuple(RESAMPLING))
    w.add_argument("--drop-blunders", action="store_true",
                   help="leave points reported as blunders out of the fit")
    w.add_argument("--out", required=True, metavar="OUT.tif")
    w.set_defaults(func=run_warp)

    r = subparsers.add_parser(
        "residuals",
        help="report residuals and leave-one-out errors of every method, without warping",
    )
    r.add_argument("--gcps", required=True, metavar="FILE")
    r.add_argument("--crs", default="EPSG:5897")
    r.add_argument("--scan", metavar="SCAN", help="optional: checks points lie on the image")
    r.add_argument("--method", default="auto", choices=("auto", *METHODS))
    r.add_argument("--drop-blunders", action="store_true")
    r.set_defaults(func=run_residuals)


def run_warp(args: argparse.Namespace) -> int:
    epsg = epsg_of(args.crs)
    cps = read_control_points(args.gcps, crs=epsg)
    result = warp_scan(
        args.scan,
        cps,
        epsg,
        args.method,
        args.out,
        resolution=args.resolution,
        mask=args.mask,
        resampling=args.resampling,
        drop_blunders=args.drop_blunders,
    )
    json.dump(result.as_dict(), sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")
    return 0


def run_residuals(args: argparse.Namespace) -> int:
    epsg = epsg_of(args.crs)
    cps = read_control_points(args.gcps, crs=epsg)
    size = None
    if args.scan:
        info = probe_scan(args.scan)
        size = (info.width, info.height)
    data = report(
        cps.points,
        METHODS,
        method=args.method,
        drop_blunders=args.drop_blunders,
        image_size=size,
        crs_epsg=cps.epsg(),
    )
    data["notes"] = list(cps.notes) + list(data["notes"])  # type: ignore[arg-type]
    json.dump(data, sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")
    return 0

