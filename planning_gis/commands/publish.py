"""``import_maps.py publish static OUTDIR``: the read side as PMTiles archives + TileJSON."""

from __future__ import annotations

import argparse
from pathlib import Path

from layers import static
from planning_gis.settings import get_settings


def _bbox(value: str) -> tuple[float, float, float, float]:
    try:
        parts = tuple(float(v) for v in value.split(","))
    except ValueError:
        parts = ()
    if len(parts) != 4:
        raise argparse.ArgumentTypeError("west,south,east,north in degrees")
    return parts  # type: ignore[return-value]


def _static(args: argparse.Namespace) -> int:
    done = static.publish_static(get_settings(), Path(args.outdir), args.layer or None,
                                 max_zoom=args.max_zoom, max_tiles=args.max_tiles,
                                 force=args.force, base_url=args.base_url, bbox=args.bbox)
    for item in done:
        print(item.line())
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("publish", help="publish the read side as static files")
    psub = p.add_subparsers(dest="publish_command", required=True, metavar="WHAT")
    s = psub.add_parser("static", help="a PMTiles archive and a TileJSON per vector layer "
                                       "(a layer whose edition did not change is kept)")
    s.add_argument("outdir")
    s.add_argument("--layer", action="append", help="only this layer (repeat); default: all")
    s.add_argument("--max-zoom", type=int, default=static.DEFAULT_MAX_ZOOM,
                   help=f"highest zoom written (default {static.DEFAULT_MAX_ZOOM})")
    s.add_argument("--max-tiles", type=int, default=static.DEFAULT_MAX_TILES,
                   help="per layer: the top zoom is lowered until the tiles fit "
                        f"(default {static.DEFAULT_MAX_TILES})")
    s.add_argument("--bbox", type=_bbox, default=None,
                   help="W,S,E,N (lon/lat): only this part of the data (a city's dense core "
                        "to its top zoom); default: the data's whole extent")
    s.add_argument("--force", action="store_true", help="write every layer again")
    s.add_argument("--base-url", default="",
                   help="where OUTDIR is served (for the TileJSON's URLs); default: relative")
    s.set_defaults(func=_static)
