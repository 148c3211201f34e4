"""``import_maps.py zones``: load a plan's land-use zones from a GIS file."""

from __future__ import annotations

import argparse
from pathlib import Path

from planning_gis.db import session_scope
from planning_gis.errors import InvalidInput
from planning_gis.zones_import import import_zones


def _zones(args: argparse.Namespace) -> int:
    mapping = {}
    for item in args.map or ():
        field, sep, column = item.partition("=")
        if not sep or not column:
            raise InvalidInput(f"--map wants FIELD=COLUMN, not {item!r}")
        mapping[field.strip()] = column.strip()
    with session_scope() as session:
        result = import_zones(session, Path(args.file), args.plan, args.crs, mapping=mapping,
                              encoding=args.encoding, repair=args.repair,
                              report_only=args.check)
    if args.check:
        print(f"checked {result.report.features} features of {args.file}: all can be imported")
        return 0
    print(f"imported {result.inserted} zones into plan {result.plan_id} (from {result.source_crs})")
    for p in result.report.problems if result.report else ():
        print(f"note: {p.message}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("zones", help="import land-use zones of a plan from GPKG/SHP/GeoJSON/DXF")
    p.add_argument("file", help="GeoPackage, Shapefile or GeoJSON with polygon zones")
    p.add_argument("--plan", type=int, required=True, help="id of the plan the zones belong to")
    p.add_argument("--crs", help="CRS of the file when it has none or a wrong one, e.g. EPSG:5897")
    p.add_argument("--encoding", help="text encoding overriding the file's (.cpg): cp1258, tcvn3")
    p.add_argument("--map", action="append", metavar="FIELD=COLUMN",
                   help="column of an indicator, e.g. --map label=KH_O --map function_code=MA_CN")
    p.add_argument("--repair", action="store_true",
                   help="repair invalid polygons (reported) instead of refusing the file")
    p.add_argument("--check", action="store_true", help="validate only, write nothing")
    p.set_defaults(func=_zones)
