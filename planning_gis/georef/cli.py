"""Subcommands ``warp`` and ``residuals`` of ``import_maps.py``.

Both print one JSON report to stdout, so the planner (or a script) sees the method chosen,
the honest leave-one-out error and the blunders. Errors are domain errors; the dispatcher turns
them into one ``error: ...`` line and exit code 2.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from planning_gis.crs import epsg_of
from planning_gis.georef.control_points import read_control_points
from planning_gis.georef.neatline import apply_neatline, parse_bounds
from planning_gis.georef.report import analyse
from planning_gis.georef.scan_io import open_windows, probe_scan
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
    _neatline_options(w)
    w.add_argument("--out", required=True, metavar="OUT.tif")
    w.set_defaults(func=run_warp)

    r = subparsers.add_parser(
        "residuals",
        help="report residuals and leave-one-out errors of every method, without warping",
    )
    r.add_argument("--gcps", required=True, metavar="FILE")
    r.add_argument("--crs", default="EPSG:5897")
    r.add_argument("--scan", metavar="SCAN",
                   help="optional: checks points lie on the image and traces the neatline")
    r.add_argument("--method", default="auto", choices=("auto", *METHODS))
    r.add_argument("--drop-blunders", action="store_true")
    _neatline_options(r)
    r.set_defaults(func=run_residuals)

    g = subparsers.add_parser(
        "gcps",
        help="control points: find them on the scan from its printed grid",
    )
    gsub = g.add_subparsers(dest="gcps_command", required=True, metavar="ACTION")
    d = gsub.add_parser(
        "detect",
        help="find the printed grid's crossings and read their coordinates from the margin",
        description="Zero-click control points: crosses, frame ticks and margin labels (OCR); "
        "coordinates assigned by the lattice, never label by label. Prints a JSON report.",
    )
    d.add_argument("scan", metavar="SCAN", help="PNG, JPEG, TIFF or one-page PDF")
    d.add_argument("--crs", default="EPSG:5897",
                   help="the CRS the printed grid is in (EPSG:5897)")
    d.add_argument("--out", required=True, metavar="FILE.points",
                   help="QGIS .points, or .csv (with a confidence column)")
    d.set_defaults(func=run_detect)


def _neatline_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--neatline-bounds", metavar="minE,minN,maxE,maxN",
                   help="the neatline's map rectangle (default: inferred from the control points "
                   "on the frame's corners and ticks)")
    p.add_argument("--no-neatline", action="store_true",
                   help="fit the control points only, without tracing the neatline")


def _bounds(args: argparse.Namespace) -> tuple[float, float, float, float] | None:
    return parse_bounds(args.neatline_bounds) if args.neatline_bounds is not None else None


def run_warp(args: argparse.Namespace) -> int:
    bounds = _bounds(args)  # a malformed value fails before anything is read or written
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
        neatline=not args.no_neatline,
        neatline_bounds=bounds,
    )
    json.dump(result.as_dict(), sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")
    return 0


def run_detect(args: argparse.Namespace) -> int:
    from planning_gis.errors import GeoreferenceError, InvalidInput
    from planning_gis.georef.control_points import ControlPointSet, check_in_hanoi
    from planning_gis.georef.detect import detect_grid, write_detected

    epsg = epsg_of(args.crs)
    out = Path(args.out)
    if out.suffix.lower() not in (".points", ".csv"):
        raise InvalidInput("--out must end in .points or .csv")
    if not out.parent.is_dir():
        raise InvalidInput(f"output folder does not exist: {out.parent}")
    found = detect_grid(args.scan, crs_epsg=epsg)
    if not found.points:
        raise GeoreferenceError(
            "no control point could be given: "
            + "; ".join(found.report["notes"] or found.report["left_out"]))  # type: ignore[arg-type]
    from planning_gis.crs import parse_crs

    check_in_hanoi(ControlPointSet(found.control_points(), parse_crs(epsg)))
    write_detected(found.points, out, epsg)
    found.report["out"] = str(out)
    json.dump(found.report, sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")
    return 0


def run_residuals(args: argparse.Namespace) -> int:
    bounds = _bounds(args)
    epsg = epsg_of(args.crs)
    cps = read_control_points(args.gcps, crs=epsg)
    info = probe_scan(args.scan) if args.scan else None
    kwargs = dict(drop_blunders=args.drop_blunders, crs_epsg=cps.epsg(),
                  include_all_residuals=True,
                  image_size=(info.width, info.height) if info else None)
    rep = analyse(cps.points, args.method, **kwargs)
    if info is None:
        rep = apply_neatline(rep, cps.points, args.method, None, bounds=bounds,
                             enabled=not args.no_neatline, **kwargs)
    else:
        with tempfile.TemporaryDirectory() as tmp, open_windows(info, Path(tmp)) as scan:
            rep = apply_neatline(rep, cps.points, args.method, scan, bounds=bounds,
                                 enabled=not args.no_neatline, **kwargs)
    data = rep.data
    data["notes"] = list(cps.notes) + list(data["notes"])  # type: ignore[arg-type]
    json.dump(data, sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")
    return 0

