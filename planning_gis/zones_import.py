"""Load land-use zones of one plan from a GIS file (GeoPackage, Shapefile, GeoJSON) via pyogrio.

All or nothing: every feature is checked (geometry valid, function code known, indicators in
range) before anything is written, and the insert runs in one transaction, so a bad row leaves
the database exactly as it was. The planner's workspace builds its richer import on this.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from pathlib import Path

import pyogrio
import shapely
from geoalchemy2.shape import from_shape
from pyogrio.errors import DataSourceError
from pyproj import CRS
from shapely.geometry import MultiPolygon, Polygon
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from planning_gis.crs import STORAGE_SRID, parse_crs, transformer
from planning_gis.errors import (
    ConstraintViolation,
    InvalidGeometry,
    InvalidInput,
    MissingFile,
    NotFound,
)
from planning_gis.models import LandUseLegend, LandUseZone, Plan

#: Indicator columns we read, with the names planners' files commonly use for them.
COLUMN_ALIASES = {
    "label": ("label", "ky_hieu", "kyhieu", "ma_o"),
    "function_code": ("function_code", "chuc_nang", "chucnang", "ma_cn", "code"),
    "coverage_pct": ("coverage_pct", "mat_do", "matdo", "mdxd"),
    "floors_min": ("floors_min", "tang_min", "tangcao_min"),
    "floors_max": ("floors_max", "tang_max", "tangcao_max", "tang_cao"),
    "far": ("far", "hssdd", "he_so"),
    "population": ("population", "dan_so", "danso"),
}


@dataclass
class ZoneImportResult:
    plan_id: int
    inserted: int
    source_crs: str


def _column(columns: list[str], field: str) -> str | None:
    lower = {c.lower(): c for c in columns}
    for alias in COLUMN_ALIASES[field]:
        if alias in lower:
            return lower[alias]
    return None


def _number(value, name: str, fid: object, integer: bool = False):
    if value is None or (isinstance(value, float) and value != value) or value == "":
        return None
    try:
        return int(value) if integer else float(value)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"feature {fid}: {name} is not a number: {value!r}") from exc


def import_zones(session: Session, path: Path, plan_id: int, crs: str | None = None) -> ZoneImportResult:
    """Read, check and insert every zone of ``path`` into plan ``plan_id``."""
    path = Path(path)
    if not path.exists():
        raise MissingFile(f"file not found: {path}", message_vi=f"Không tìm thấy tệp: {path}")
    if session.get(Plan, plan_id) is None:
        raise NotFound(f"plan {plan_id} does not exist")
    try:
        info = pyogrio.read_info(path)
        meta, _fids, geoms, fields = pyogrio.raw.read(path, return_fids=True)
    except DataSourceError as exc:
        raise InvalidInput(f"cannot read {path.name} as a GIS file: {exc}") from exc
    columns = list(meta["fields"])
    file_crs = meta.get("crs") or info.get("crs")
    if crs:
        src = parse_crs(crs)
    elif file_crs:
        src = CRS.from_user_input(file_crs)
    else:
        raise InvalidInput(f"{path.name} has no CRS: give one with --crs (e.g. EPSG:5897)")
    label_col = _column(columns, "label")
    code_col = _column(columns, "function_code")
    if label_col is None or code_col is None:
        raise InvalidInput(
            f"{path.name} needs a zone label column and a function code column "
            f"(e.g. 'label' and 'function_code'); it has {', '.join(columns) or 'none'}"
        )
    known = set(session.scalars(select(LandUseLegend.code)))
    to_storage = transformer(src.to_string(), STORAGE_SRID)
    rows: list[LandUseZone] = []
    index = {c: i for i, c in enumerate(columns)}
    for n, wkb in enumerate(geoms):
        fid = _fids[n]

        def get(col: str | None, n: int = n) -> object:
            return None if col is None else fields[index[col]][n]

        if wkb is None:
            raise InvalidGeometry(f"feature {fid}: no geometry")
        geom = shapely.from_wkb(wkb)
        if not isinstance(geom, Polygon | MultiPolygon):
            raise InvalidGeometry(f"feature {fid}: a {geom.geom_type}, zones must be polygons")
        if not geom.is_valid:
            reason = shapely.is_valid_reason(geom)
            raise InvalidGeometry(f"feature {fid}: invalid geometry ({reason})",
                                  message_vi=f"Đối tượng {fid}: hình học không hợp lệ ({reason})")
        geom = shapely.transform(geom, lambda xy: _xy(to_storage, xy))
        if isinstance(geom, Polygon):
            geom = MultiPolygon([geom])
        code = str(get(code_col) or "").strip().upper()
        if code not in known:
            raise ConstraintViolation(
                f"feature {fid}: unknown land-use function code {code!r} "
                f"(known: {', '.join(sorted(known))})")
        label = unicodedata.normalize("NFC", str(get(label_col) or "").strip())
        if not label:
            raise ConstraintViolation(f"feature {fid}: empty zone label")
        values = {f: _number(get(_column(columns, f)), f, fid, integer=f in (
            "floors_min", "floors_max", "population")) for f in
            ("coverage_pct", "floors_min", "floors_max", "far", "population")}
        rows.append(LandUseZone(plan_id=plan_id, label=label, function_code=code,
                                area_m2=round(geom.area, 1), geom=from_shape(geom, STORAGE_SRID),
                                **values))
    if not rows:
        raise InvalidInput(f"{path.name} has no features")
    try:
        with session.begin_nested():
            session.add_all(rows)
            session.flush()
    except IntegrityError as exc:
        constraint = getattr(getattr(exc.orig, "diag", None), "constraint_name", None)
        raise ConstraintViolation(
            f"a zone breaks the database rule {constraint or exc.orig}: nothing was imported"
        ) from exc
    return ZoneImportResult(plan_id, len(rows), src.to_string())


def _xy(t, xy):
    import numpy as np

    x, y = t.transform(xy[:, 0], xy[:, 1])
    return np.column_stack([x, y])
