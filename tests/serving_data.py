"""A small synthetic city for the serving tests, built by code and committed once per session.

It does not depend on the demo generator: a master plan, a zoning plan, a detailed plan and the
detailed plan it superseded, a draft, zones of each, a red line, two administrative units, a
decision document, and one published sheet whose COG (RGB + alpha, transparent outside the
neatline) is written with rasterio and rio-cogeo.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import rasterio
from rasterio.io import MemoryFile
from rasterio.transform import from_origin
from rio_cogeo.cogeo import cog_translate
from rio_cogeo.profiles import cog_profiles
from shapely.geometry import LineString, MultiLineString, MultiPolygon, box
from sqlalchemy import select

from planning_gis.crs import lonlat_to_vn2000
from planning_gis.db import session_scope
from planning_gis.demo.documents import DemoDocument, render_pdf
from planning_gis.documents.store import DocumentMetadata, DocumentStore
from planning_gis.models import (
    AdminUnit,
    LandUseZone,
    MapSheet,
    Plan,
    RedLine,
)
from planning_gis.settings import Settings

MARK = "Khu mẫu kiểm thử"  # every plan name starts with this: the loader runs once

#: Centre of the test city, lon/lat (Cầu Giấy-ish), and its VN-2000 easting/northing.
CENTRE_LONLAT = (105.80, 21.03)
E0, N0 = lonlat_to_vn2000(*CENTRE_LONLAT)


def _mp(minx: float, miny: float, maxx: float, maxy: float) -> str:
    return "SRID=5897;" + MultiPolygon([box(minx, miny, maxx, maxy)]).wkt


@dataclass
class City:
    ids: dict[str, int] = field(default_factory=dict)
    cog: Path | None = None
    # (easting, northing) of a point inside the detailed plan's zone "CT-1"
    point_detailed: tuple[float, float] = (E0 - 100, N0 - 100)
    plot_detailed: tuple[float, float, float, float] = (E0 - 150, N0 - 100, E0 - 50, N0 + 100)
    detailed_box: tuple[float, float, float, float] = (E0 - 200, N0 - 200, E0 + 200, N0 + 200)


def write_cog(path: Path, bounds: tuple[float, float, float, float], res: float = 1.0) -> Path:
    """An RGB COG with an alpha band that is 0 in a 20-pixel margin outside the 'neatline'."""
    minx, miny, maxx, maxy = bounds
    w, h = int((maxx - minx) / res), int((maxy - miny) / res)
    yy, xx = np.mgrid[0:h, 0:w]
    rgb = np.stack([(xx % 256), (yy % 256), np.full((h, w), 180)]).astype("uint8")
    alpha = np.zeros((h, w), dtype="uint8")
    alpha[20:-20, 20:-20] = 255
    profile = dict(driver="GTiff", width=w, height=h, count=4, dtype="uint8", crs="EPSG:5897",
                   transform=from_origin(minx, maxy, res, res))
    path.parent.mkdir(parents=True, exist_ok=True)
    with MemoryFile() as mem:
        with mem.open(**profile) as ds:
            ds.write(np.concatenate([rgb, alpha[None]]))
            ds.colorinterp = [rasterio.enums.ColorInterp.red, rasterio.enums.ColorInterp.green,
                              rasterio.enums.ColorInterp.blue, rasterio.enums.ColorInterp.alpha]
        with mem.open() as src:
            cog_translate(src, str(path), cog_profiles.get("deflate"), quiet=True,
                          overview_level=2)
    return path


def load_sample_city(settings: Settings) -> City:
    """Insert the test city (once per database) and return its ids."""
    city = City()
    with session_scope(settings) as s:
        existing = s.scalars(select(Plan).where(Plan.name.like(MARK + "%"))).all()
        if existing:
            for p in existing:
                city.ids[p.description or p.name] = p.id
            for z in s.scalars(select(LandUseZone).where(
                    LandUseZone.plan_id.in_([p.id for p in existing]))):
                city.ids[f"zone:{z.label}"] = z.id
            sheet = s.scalars(select(MapSheet).where(MapSheet.title == MARK + " – tờ 1")).one()
            city.ids["sheet"] = sheet.id
            city.cog = Path(sheet.cog_path)
            return city
        today = dt.date.today()
        big = (E0 - 3000, N0 - 3000, E0 + 3000, N0 + 3000)
        mid = (E0 - 1000, N0 - 1000, E0 + 1000, N0 + 1000)
        det = city.detailed_box
        plans = {
            "master": Plan(name=MARK + " – quy hoạch chung", kind="chung", scale_denominator=25000,
                           status="approved", decision_number="1259/QĐ-TTg",
                           decision_date=dt.date(2011, 7, 26), valid_from=dt.date(2011, 7, 26),
                           geom=_mp(*big)),
            "zoning": Plan(name=MARK + " – phân khu", kind="phan_khu", scale_denominator=5000,
                           status="approved", decision_number="6116/QĐ-UBND",
                           decision_date=dt.date(2015, 1, 5), valid_from=dt.date(2015, 1, 5),
                           geom=_mp(*mid)),
            "old_detailed": Plan(name=MARK + " – chi tiết cũ", kind="chi_tiet",
                                 scale_denominator=500, status="superseded",
                                 decision_number="100/QĐ-UBND", decision_date=dt.date(2010, 1, 1),
                                 valid_from=dt.date(2010, 1, 1), valid_to=dt.date(2019, 12, 31),
                                 geom=_mp(*det)),
            "draft": Plan(name=MARK + " – dự thảo", kind="chi_tiet", scale_denominator=500,
                          status="draft", geom=_mp(*det)),
        }
        for key, p in plans.items():
            p.description = key
            p.is_fictional = True
            s.add(p)
        s.flush()
        detailed = Plan(name=MARK + " – chi tiết", kind="chi_tiet", scale_denominator=500,
                        status="approved", decision_number="4321/QĐ-UBND",
                        decision_date=dt.date(2020, 3, 1), valid_from=dt.date(2020, 3, 1),
                        approving_body="UBND Thành phố Hà Nội",
                        supersedes_id=plans["old_detailed"].id, description="detailed",
                        is_fictional=True, geom=_mp(*det))
        s.add(detailed)
        s.flush()
        plans["detailed"] = detailed
        # A real PDF through the document store, like every document: a row never lacks its file.
        title = "Quyết định phê duyệt " + detailed.name
        pdf = render_pdf(DemoDocument("quyet_dinh", "4321/QĐ-UBND", dt.date(2020, 3, 1),
                                      "UBND Thành phố Hà Nội", title, [title], []), settings)
        DocumentStore.from_settings(settings).add_document_data(
            s, pdf, DocumentMetadata(doc_type="quyet_dinh", title=title, number="4321/QĐ-UBND",
                                     issued_on=dt.date(2020, 3, 1), issuer="UBND Thành phố Hà Nội",
                                     file_name="qd-4321.pdf", is_fictional=True),
            [detailed.id])
        cog = write_cog(settings.cogs_dir / "serving-test-sheet.tif",
                        (det[0] - 50, det[1] - 50, det[2] + 50, det[3] + 50))
        sheet = MapSheet(plan_id=detailed.id, title=MARK + " – tờ 1",
                         scan_sha256=hashlib.sha256(b"scan").hexdigest(), scan_size=1,
                         width=500, height=500, state="published", method="tps",
                         rmse_m=0.4, loo_rmse_m=1.1, check_error_m=0.8, cog_path=str(cog),
                         footprint="SRID=5897;" + box(*det).wkt,
                         published_at=dt.datetime.now(dt.UTC))
        s.add(sheet)
        s.flush()
        city.ids.update({k: p.id for k, p in plans.items()})
        city.ids["sheet"] = sheet.id
        city.cog = cog
        # Zones: the detailed plan and the old one cut the block in four; the zoning plan in two;
        # the master plan is one zone.
        cx, cy = E0, N0
        quads = {
            "CT-1": ("NO", (det[0], det[1], cx, cy)),
            "CT-2": ("CX", (cx, det[1], det[2], cy)),
            "CT-3": ("TH", (det[0], cy, cx, det[3])),
            "CT-4": ("HH", (cx, cy, det[2], det[3])),
        }
        zones = []
        for label, (code, b) in quads.items():
            zones.append(LandUseZone(plan_id=detailed.id, sheet_id=sheet.id, label=label,
                                     function_code=code, area_m2=40000.0, coverage_pct=40.0,
                                     floors_min=3, floors_max=9, far=2.5, population=800,
                                     geom=_mp(*b)))
            zones.append(LandUseZone(plan_id=plans["old_detailed"].id, label="OLD-" + label,
                                     function_code="CC", area_m2=40000.0, geom=_mp(*b)))
            zones.append(LandUseZone(plan_id=plans["draft"].id, label="DT-" + label,
                                     function_code="CX", area_m2=40000.0, geom=_mp(*b)))
        zones.append(LandUseZone(plan_id=plans["zoning"].id, label="PK-A", function_code="NO",
                                 area_m2=2e6, coverage_pct=35.0, floors_max=15, far=3.0,
                                 geom=_mp(mid[0], mid[1], cx, mid[3])))
        zones.append(LandUseZone(plan_id=plans["zoning"].id, label="PK-B", function_code="CX",
                                 area_m2=2e6, geom=_mp(cx, mid[1], mid[2], mid[3])))
        zones.append(LandUseZone(plan_id=plans["master"].id, label="QHC-1", function_code="HH",
                                 area_m2=3.6e7, geom=_mp(*big)))
        s.add_all(zones)
        s.add(RedLine(plan_id=plans["zoning"].id, road_name="Đường Mẫu", width_m=30.0,
                      geom="SRID=5897;" + MultiLineString([LineString(
                          [(mid[0], cy), (mid[2], cy)])]).wkt))
        s.add(AdminUnit(name="Phường Mẫu Mới", level="phuong", code="T-001",
                        valid_from=today.replace(year=today.year - 1), is_fictional=True,
                        geom=_mp(*big)))
        s.add(AdminUnit(name="Quận Mẫu Cũ", level="quan", code="T-OLD",
                        valid_from=dt.date(2000, 1, 1), valid_to=dt.date(2025, 6, 30),
                        is_fictional=True, geom=_mp(*big)))
        s.flush()
        for z in zones:
            city.ids[f"zone:{z.label}"] = z.id
    return city


@contextlib.contextmanager
def value_changed(settings, table: str, column: str, row_id: int, value):
    """One column of one row set to ``value`` for the ``with`` block, then put back (an edit
    the caches must see, undone for the tests after it)."""
    from sqlalchemy import text

    from planning_gis.db import get_engine

    engine = get_engine(settings)
    with engine.connect() as conn:
        old = conn.execute(text(f"SELECT {column} FROM {table} WHERE id = :i"),
                           {"i": row_id}).scalar_one()
    try:
        with engine.begin() as conn:
            conn.execute(text(f"UPDATE {table} SET {column} = :v WHERE id = :i"),
                         {"v": value, "i": row_id})
        yield
    finally:
        with engine.begin() as conn:
            conn.execute(text(f"UPDATE {table} SET {column} = :v WHERE id = :i"),
                         {"v": old, "i": row_id})


def app_client(settings, planner: bool = False, **changes):
    """A test client of an app made with ``settings`` changed by ``changes``; ``planner``: it
    carries the session cookie (a planner's browser), so it reads from the primary and never
    reuses an edition read for someone else."""
    import dataclasses

    from server import create_app

    client = create_app(dataclasses.replace(settings, **changes)).test_client()
    if planner:
        client.set_cookie("qh_session", "x")
    return client
