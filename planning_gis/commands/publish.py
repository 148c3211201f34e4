"""``import_maps.py publish static OUTDIR``: the read side as PMTiles archives + TileJSON, one per
vector layer (layers/static.py) and one per published sheet (tiles/static.py)."""

from __future__ import annotations

import argparse
from pathlib import Path

from layers import static
from planning_gis.errors import InvalidInput
from planning_gis.settings import get_settings
from tiles import static as sheets_static


def _bbox(value: str) -> tuple[float, float, float, float]:
    try:
        parts = tuple(float(v) for v in value.split(","))
    except ValueError:
        parts = ()
    if len(parts) != 4:
        raise argparse.ArgumentTypeError("west,south,east,north in degrees")
    return parts  # type: ignore[return-value]


def _static(args: argparse.Namespace) -> int:
    settings = get_settings()
    if not args.outdir.strip():  # Path("") is ".": publishing into the working folder by mistake
        raise InvalidInput("OUTDIR is empty: name the folder to publish into")
    outdir = Path(args.outdir)
    static.check_outdir(outdir)
    # Named layers only, named sheets only, or (neither named) everything.
    do_layers = not args.sheet or bool(args.layer)
    do_sheets = (not args.layer or bool(args.sheet)) and not args.no_sheets
    if do_layers:
        for item in static.publish_static(settings, outdir, args.layer or None,
                                          max_zoom=args.max_zoom, max_tiles=args.max_tiles,
                                          force=args.force, base_url=args.base_url,
                                          bbox=args.bbox):
            print(item.line())
    if do_sheets:
        if args.max_tiles < 1:
            raise InvalidInput("--max-tiles must be at least 1")
        done, gone = sheets_static.publish_sheets(settings, outdir, args.sheet or None,
                                                  max_tiles=args.max_tiles, force=args.force,
                                                  base_url=args.base_url)
        for item in done:
            print(item.line())
        for name in gone:
            print(f"{name}: no longer published, archive removed")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("publish", help="publish the read side as static files")
    psub = p.add_subparsers(dest="publish_command", required=True, metavar="WHAT")
    s = psub.add_parser("static", help="a PMTiles archive and a TileJSON per vector layer and "
                                       "per published sheet (one that did not change is kept)")
    s.add_argument("outdir")
    s.add_argument("--layer", action="append", help="only this layer (repeat); default: all")
    which = s.add_mutually_exclusive_group()
    which.add_argument("--sheet", action="append", type=int, metavar="ID",
                       help="only this published sheet (repeat); default: all")
    which.add_argument("--no-sheets", action="store_true", help="the vector layers only")
    s.add_argument("--max-zoom", type=int, default=static.DEFAULT_MAX_ZOOM,
                   help=f"vector layers' highest zoom (default {static.DEFAULT_MAX_ZOOM}); "
                        "a sheet keeps its COG's own")
    s.add_argument("--max-tiles", type=int, default=static.DEFAULT_MAX_TILES,
                   help="per layer or sheet: the top zoom is lowered until the tiles fit "
                        f"(default {static.DEFAULT_MAX_TILES})")
    s.add_argument("--bbox", type=_bbox, default=None,
                   help="W,S,E,N (lon/lat): vector layers only within this box (a city's dense "
                        "core to its top zoom); default: the data's whole extent")
    s.add_argument("--force", action="store_true", help="write everything again")
    s.add_argument("--base-url", default="",
                   help="where OUTDIR is served (for the TileJSON's URLs); default: relative")
    s.set_defaults(func=_static)
