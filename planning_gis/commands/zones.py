"""``import_maps.py zones``: load a plan's land-use zones from a GIS file."""

from __future__ import annotations

import argparse
from pathlib import Path

from planning_gis.db import session_scope
from planning_gis.zones_import import import_zones


def _zones(args: argparse.Namespace) -> int:
    with session_scope() as session:
        result = import_zones(session, Path(args.file), args.plan, args.crs)
    print(f"imported {result.inserted} zones into plan {result.plan_id} (from {result.source_crs})")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("zones", help="import land-use zones of a plan from GPKG/SHP/GeoJSON")
    p.add_argument("file", help="GeoPackage, Shapefile or GeoJSON with polygon zones")
    p.add_argument("--plan", type=int, required=True, help="id of the plan the zones belong to")
    p.add_argument("--crs", help="CRS of the file when it has none or a wrong one, e.g. EPSG:5897")
    p.set_defaults(func=_zones)
