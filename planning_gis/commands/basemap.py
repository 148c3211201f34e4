"""``import_maps.py basemap FILE``: the offline base map's streets, house numbers and places."""

from __future__ import annotations

import argparse
import time

from planning_gis.basemap.osm import read_osm
from planning_gis.basemap.store import write_rows
from planning_gis.db import session_scope


def _basemap(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    rows = read_osm(args.file)
    with session_scope() as session:
        streets, addresses, places = write_rows(session.connection(), rows, source="osm")
    print(f"imported {streets} streets, {addresses} house numbers, {places} places from "
          f"{args.file} in {time.perf_counter() - started:.1f} s (replacing the previous import)")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("basemap", help="import streets, house numbers and places from an "
                       "OpenStreetMap extract (.osm or .osm.pbf), clipped to Hanoi")
    p.add_argument("file", help="OpenStreetMap extract (.osm XML or .osm.pbf)")
    p.set_defaults(func=_basemap)
