"""Scanned sheets for the demo, made the way a planner makes them.

Each sheet is drawn by the scan simulator from the plan's own zones in their legend colours
(printed grid labelled X=…/Y=… in the margin, title block and legend with the function names
outside the neatline, rotation, uneven paper shrink, scanner drift, noise) and then goes through
the planner's own path: upload, import the ``.points`` read off the grid, mask the neatline,
publish. The hidden check markers the simulator keeps aside give each sheet an honest,
out-of-sample accuracy, which citizens see next to the zones traced from it.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pyproj import CRS
from shapely.geometry import box
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from planning_gis.crs import STORAGE_SRID
from planning_gis.demo.accounts import DEMO_ADMIN
from planning_gis.demo.city import DemoCity, DemoPlan
from planning_gis.georef.control_points import write_points
from planning_gis.georef.transforms import fit
from planning_gis.legend import read_legend_csv
from planning_gis.models import MapSheet, Plan, User
from planning_gis.scan_simulator import simulate_scan
from planning_gis.settings import Settings
from planning_gis.workspace import sheets as workspace


@dataclass(frozen=True)
class SheetSpec:
    plan_key: str
    title: str
    scale_denominator: int
    dpi: int
    # the part of the plan's outline on this sheet, as fractions of its width and height
    window: tuple[float, float, float, float]
    rotation_deg: float
    shrink_px: float
    drift_px: float
    seed: int


SPECS = {
    "full": (
        SheetSpec("zoning", "Bản đồ quy hoạch sử dụng đất – tờ số 1 (minh họa)", 2000, 100,
                  (0.0, 0.0, 0.45, 0.5), 1.3, 8.0, 2.5, 11),
        SheetSpec("detailed", "Bản đồ quy hoạch tổng mặt bằng sử dụng đất (minh họa)", 500, 50,
                  (0.0, 0.0, 1.0, 1.0), -0.8, 6.0, 2.0, 12),
    ),
    "tiny": (
        SheetSpec("zoning", "Bản đồ quy hoạch sử dụng đất – tờ số 1 (minh họa)", 2000, 40,
                  (0.0, 0.0, 0.6, 0.6), 1.0, 3.0, 1.0, 11),
        SheetSpec("detailed", "Bản đồ quy hoạch tổng mặt bằng sử dụng đất (minh họa)", 500, 25,
                  (0.0, 0.0, 1.0, 1.0), -0.8, 3.0, 1.0, 12),
    ),
}


def _window(plan: DemoPlan, frac: tuple[float, float, float, float]) -> tuple[float, ...]:
    minx, miny, maxx, maxy = plan.outline.bounds
    w, h = maxx - minx, maxy - miny
    return (round(minx + frac[0] * w), round(miny + frac[1] * h),
            round(minx + frac[2] * w), round(miny + frac[3] * h))


def load_sheets(session: Session, city: DemoCity, plans: dict[str, Plan], settings: Settings) -> int:
    """Make, georeference and publish the demo's sheets; returns how many were published."""
    admin = session.scalars(select(User).where(User.email == DEMO_ADMIN[0])).one()
    legend = read_legend_csv()
    colours = {row["code"]: row["color"] for row in legend}
    names = {row["code"]: row["name_vi"] for row in legend}
    size = "tiny" if settings.demo_size == "tiny" or len(plans["zoning"].zones) < 100 else "full"
    by_key = {p.key: p for p in city.plans}
    count = 0
    for spec in SPECS[size]:
        demo_plan = by_key[spec.plan_key]
        bounds = _window(demo_plan, spec.window)
        frame = box(*bounds)
        drawn = [(z.geom.intersection(frame), colours[z.function_code], z.label)
                 for z in demo_plan.zones if z.geom.intersects(frame)]
        with tempfile.TemporaryDirectory(prefix="demo-sheet-") as tmp:
            sim = simulate_scan(
                drawn, bounds, Path(tmp) / f"{spec.plan_key}.png", title=spec.title.upper(),
                scale_denominator=spec.scale_denominator, dpi=spec.dpi,
                rotation_deg=spec.rotation_deg, shrink_px=spec.shrink_px,
                drift_px=spec.drift_px, seed=spec.seed,
                # labels in the margin, as the city prints them: the plan's zones stay
                # readable under the grid, and "Tìm điểm khống chế" can read the sheet
                label_style="margin-xy", legend_names=names,
            )
            with sim.path.open("rb") as fh:
                sheet = workspace.create_sheet(session, admin, plans[spec.plan_key], fh,
                                               sim.path.name, spec.title, settings)
            points_file = Path(tmp) / "grid.points"
            write_points(sim.control_points, points_file, CRS.from_epsg(STORAGE_SRID))
            workspace.import_points(session, admin, sheet, points_file, replace_all=True)
            workspace.set_neatline(session, admin, sheet, [list(p) for p in sim.neatline_pixels])
            version = workspace.publish(session, admin, sheet, settings)
            sheet.check_error_m = _check_error(sim, version.method)
        _trace_zones_to(session, sheet)
        count += 1
    return count


def _check_error(sim, method: str) -> float:
    """RMS error in metres at the hidden markers, with the method the publish chose."""
    f = fit(sim.control_points, method)
    px = np.array([c.pixel_x for c in sim.check_points])
    py = np.array([c.pixel_y for c in sim.check_points])
    e, n = f.transform.forward(px, py)
    de = e - np.array([c.easting for c in sim.check_points])
    dn = n - np.array([c.northing for c in sim.check_points])
    return round(float(np.sqrt(np.mean(de**2 + dn**2))), 3)


def _trace_zones_to(session: Session, sheet: MapSheet) -> None:
    """Zones of the sheet's plan inside its footprint were traced from it: say so."""
    session.execute(
        text("UPDATE land_use_zones z SET sheet_id = :sheet FROM map_sheets s "
             "WHERE s.id = :sheet AND z.plan_id = s.plan_id AND z.function_code <> 'GT' "
             "AND ST_Within(ST_PointOnSurface(z.geom), s.footprint)"),
        {"sheet": sheet.id},
    )
