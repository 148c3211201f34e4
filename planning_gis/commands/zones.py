"""``import_maps.py zones``: load a plan's land-use zones from a GIS file.

When the file is a new version (``--replace``: of the plan's own zones; or the plan supersedes
another), its zones are matched to the version before and the comparison is printed before
anything is written (``--check`` stops there; ``--report-html`` writes it as a map file).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from planning_gis.dates import parse_date
from planning_gis.db import session_scope
from planning_gis.errors import InvalidInput
from planning_gis.zones_import import check_zones, import_zones


def _print_comparison(cmp) -> None:
    from planning_gis.history.words import sentence

    counts = cmp.counts()
    print(f"version before: plan {cmp.a.plan_id} ({len(cmp.a.zones)} zones); "
          f"the file: {len(cmp.b.zones)} zones")
    print("changes: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    for c in cmp.changes:
        print(f"  - {sentence(c, cmp.legend)[0]}")


def _zones(args: argparse.Namespace) -> int:
    from planning_gis.history import map_file, versions
    from planning_gis.history.context import change_context

    mapping = {}
    for item in args.map or ():
        field, sep, column = item.partition("=")
        if not sep or not column:
            raise InvalidInput(f"--map wants FIELD=COLUMN, not {item!r}")
        mapping[field.strip()] = column.strip()
    effective = parse_date(args.effective_on, "--effective-on") if args.effective_on else None
    opts = dict(mapping=mapping, encoding=args.encoding, repair=args.repair)
    with session_scope() as session:
        rows, report = check_zones(session, Path(args.file), args.plan, args.crs,
                                   replace=args.replace, **opts)
        cmp = versions.preview(session, args.plan, rows, replace=args.replace,
                               decision=args.decision, effective_on=effective)
        if cmp is not None:
            _print_comparison(cmp)
        if args.report_html:
            from planning_gis.history.export import to_wgs84
            from planning_gis.models import Plan

            rejected = [(to_wgs84(report.shapes[p.fid]), p.message_vi) for p in report.rejected
                        if p.fid in report.shapes]
            Path(args.report_html).write_text(map_file.import_report_html(
                session.get(Plan, args.plan).name, Path(args.file).name, report.as_dict(), cmp,
                rejected), encoding="utf-8")
            print(f"report written to {args.report_html}")
        session.rollback()
        change_context(session, decision=args.decision, effective_on=effective,
                       note=f"zones import {Path(args.file).name}")
        result = import_zones(session, Path(args.file), args.plan, args.crs,
                              report_only=args.check, replace=args.replace, **opts)
    if args.check:
        print(f"checked {result.report.features} features of {args.file}: all can be imported")
        return 0
    done = "imported (replacing the plan's zones)" if args.replace else "imported"
    print(f"{done} {result.inserted} zones into plan {result.plan_id} "
          f"(from {result.source_crs})")
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
    p.add_argument("--replace", action="store_true",
                   help="the file is a new version of the plan's zones: replace them (the "
                        "history keeps the old ones)")
    p.add_argument("--decision", help="decision number of this version, e.g. 1789/QĐ-UBND "
                                      "(recorded in the zones' history)")
    p.add_argument("--effective-on", help="date the version takes effect, YYYY-MM-DD")
    p.add_argument("--report-html", metavar="FILE",
                   help="write the report (rejected zones, changes) as a standalone HTML map")
    p.set_defaults(func=_zones)
