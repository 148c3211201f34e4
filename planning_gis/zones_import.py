"""Load land-use zones of one plan from a GIS file (GeoPackage, Shapefile, GeoJSON, DXF) via pyogrio.

All or nothing: every feature is checked (geometry valid, function code known, indicators in
range) before anything is written, and the insert runs in one transaction, so a bad row leaves
the database exactly as it was. The planner's workspace builds its richer import on this.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import pyogrio
import shapely
from geoalchemy2.shape import from_shape
from pyproj import CRS
from shapely.geometry import MultiPolygon, Polygon
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from planning_gis.crs import STORAGE_SRID, parse_crs, transformer
from planning_gis.errors import (
    ConstraintViolation,
    InvalidGeometry,
    InvalidInput,
    MissingFile,
    NotFound,
    TooLarge,
    UnsafeFile,
)
from planning_gis.models import LandUseLegend, LandUseZone, Plan
from planning_gis.safe_files import ZoneFileLimits, scrub, vector_source
from planning_gis.text_encodings import (
    check_encoding,
    gdal_encoding,
    shapefile_encoding,
    to_unicode,
)

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
    report: ZoneReport | None = None


@dataclass
class Problem:
    """One finding of the validation report, by feature id."""

    fid: object
    kind: str  # invalid_geometry, repaired, not_polygon, unknown_code, empty_label, bad_value, overlap
    message: str
    message_vi: str
    rejected: bool

    def as_dict(self) -> dict[str, object]:
        return {"fid": self.fid, "kind": self.kind, "message": self.message,
                "message_vi": self.message_vi, "rejected": self.rejected}


@dataclass
class ZoneReport:
    """What the file holds and what is wrong with it; ``ok`` when nothing is rejected."""

    file: str
    features: int = 0
    accepted: int = 0
    columns: list[str] = field(default_factory=list)
    mapping: dict[str, str | None] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    source_crs: str = ""
    #: Each feature's polygon in the storage CRS, once read (for the report's map), by fid.
    shapes: dict[object, object] = field(default_factory=dict, repr=False)

    @property
    def ok(self) -> bool:
        return self.features > 0 and not any(p.rejected for p in self.problems)

    @property
    def rejected(self) -> list[Problem]:
        return [p for p in self.problems if p.rejected]

    def as_dict(self) -> dict[str, object]:
        return {"file": self.file, "features": self.features, "accepted": self.accepted,
                "columns": self.columns, "mapping": self.mapping, "ok": self.ok,
                "source_crs": self.source_crs, "problems": [p.as_dict() for p in self.problems]}


def _column(columns: list[str], field: str, mapping: dict[str, str] | None = None) -> str | None:
    if mapping and mapping.get(field):
        wanted = mapping[field]
        if wanted not in columns:
            raise InvalidInput(f"column {wanted!r} (mapped to {field}) is not in the file; it has "
                               f"{', '.join(columns) or 'none'}",
                               message_vi=f"Tệp không có cột {wanted!r} (gán cho {field}).")
        return wanted
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


#: What pyogrio raises for a file it cannot read (its errors are RuntimeErrors; a bad encoding
#: is a LookupError or UnicodeDecodeError).
_READ_ERRORS = (RuntimeError, ValueError, LookupError, UnicodeDecodeError)


def _read(source: str, local: Path, display: str, driver: str, encoding: str | None,
          layer: str | None, limits: ZoneFileLimits):
    """Read every feature of ``source`` with pyogrio, bounded by ``limits``.

    Messages name the file as the user knows it (``display``), never a server path: GDAL's
    own text is scrubbed of paths before it is passed on.
    """
    kwargs: dict[str, object] = {"return_fids": True, "max_features": limits.max_features + 1}
    gdal_enc = gdal_encoding(encoding)
    if gdal_enc:
        kwargs["encoding"] = gdal_enc
    if layer:
        kwargs["layer"] = layer
    try:
        info = pyogrio.read_info(source, layer=layer) if layer else pyogrio.read_info(source)
        if info.get("driver") != driver:  # the prefix or the content check failed to hold
            raise UnsafeFile(f"cannot read {display}: it is not a {driver} file",
                             message_vi=f"{display}: không phải tệp {driver}.")
        if (info.get("features") or 0) > limits.max_features:
            raise _too_many_features(display, info["features"], limits)
        meta, fids, geoms, fields = pyogrio.raw.read(source, **kwargs)
    except _READ_ERRORS as exc:
        detail = scrub(str(exc), local, source, local.parent)
        raise InvalidInput(f"cannot read {display} as a {driver} file: {detail}",
                           message_vi=f"Không đọc được {display} như một tệp {driver} "
                                      "(tệp hỏng, không đầy đủ hoặc sai bảng mã).") from exc
    if len(geoms) > limits.max_features:
        raise _too_many_features(display, f"more than {limits.max_features}", limits)
    return info, meta, fids, geoms, fields


def _too_many_features(display: str, count: object, limits: ZoneFileLimits) -> TooLarge:
    return TooLarge(f"{display} has {count} features; at most {limits.max_features:,} are "
                    "imported at once",
                    message_vi=f"{display} có quá nhiều đối tượng (tối đa "
                               f"{limits.max_features:,}).")


def _polygonal(geom):
    """The polygonal part of a geometry (make_valid can return collections), or None."""
    if isinstance(geom, Polygon | MultiPolygon):
        return geom
    if geom.geom_type == "GeometryCollection":
        polys = [g for g in geom.geoms if isinstance(g, Polygon | MultiPolygon)]
        if polys:
            return shapely.union_all(polys)
    if geom.geom_type in ("LineString", "LinearRing", "MultiLineString"):
        # DXF often carries zone outlines as closed polylines: polygonize them.
        polys = list(shapely.polygonize([geom]).geoms)
        if polys:
            return shapely.union_all(polys)
    return None


def check_zones(session: Session, path: Path, plan_id: int, crs: str | None = None, *,
                mapping: dict[str, str] | None = None, encoding: str | None = None,
                repair: bool = True, layer: str | None = None,
                stop_at_first: bool = False, display_name: str | None = None,
                limits: ZoneFileLimits | None = None,
                replace: bool = False) -> tuple[list[LandUseZone], ZoneReport]:
    """Read and check every feature; returns the rows that would be inserted and the report.

    ``mapping`` maps our indicator names (label, function_code, coverage_pct, floors_min,
    floors_max, far, population) to the file's columns; the common Vietnamese column names are
    recognised without one. Shapefiles honour their ``.cpg``; ``encoding`` overrides it (cp1258,
    tcvn3). With ``repair``, an invalid polygon is repaired (and reported); without, rejected.
    The file is opened only by the driver its type allows (:mod:`planning_gis.safe_files`)
    and within ``limits``; ``display_name`` is how messages name it (an upload's own name,
    never the server's temporary path). With ``replace`` the file is a new version of the
    plan's zones: it is not checked for overlaps with the zones it replaces.
    """
    path = Path(path)
    display = display_name or path.name
    limits = limits or ZoneFileLimits()
    if not path.exists():
        raise MissingFile(f"file not found: {path}", message_vi=f"Không tìm thấy tệp: {path}")
    if session.get(Plan, plan_id) is None:
        raise NotFound(f"plan {plan_id} does not exist",
                       message_vi=f"Không có đồ án quy hoạch số {plan_id}.")
    encoding = check_encoding(encoding)
    with vector_source(path, display, limits) as (source, local, driver):
        encoding = encoding or shapefile_encoding(local)
        info, meta, _fids, geoms, fields = _read(source, local, display, driver, encoding,
                                                 layer, limits)
    columns = list(meta["fields"])
    file_crs = meta.get("crs") or info.get("crs")
    if crs:
        src = parse_crs(crs)
    elif file_crs:
        src = CRS.from_user_input(file_crs)
    else:
        raise InvalidInput(f"{display} has no CRS: give one with --crs (e.g. EPSG:5897)",
                           message_vi=f"{display} không có hệ tọa độ: hãy chọn (ví dụ EPSG:5897).")
    cols = {f: _column(columns, f, mapping) for f in COLUMN_ALIASES}
    report = ZoneReport(display, len(geoms), 0, columns, cols, [], src.to_string())
    if cols["label"] is None or cols["function_code"] is None:
        raise InvalidInput(
            f"{display} needs a zone label column and a function code column "
            f"(e.g. 'label' and 'function_code'); it has {', '.join(columns) or 'none'}",
            message_vi="Tệp cần một cột ký hiệu ô đất và một cột mã chức năng sử dụng đất "
                       "(hãy gán cột).",
        )
    known = set(session.scalars(select(LandUseLegend.code)))
    to_storage = transformer(src.to_string(), STORAGE_SRID)
    rows: list[LandUseZone] = []
    placed: list[tuple[object, object]] = []
    index = {c: i for i, c in enumerate(columns)}

    def problem(fid, kind, msg, msg_vi, rejected=True):
        report.problems.append(Problem(fid, kind, msg, msg_vi, rejected))
        if rejected and stop_at_first:
            cls = ConstraintViolation if kind in ("unknown_code", "empty_label") else (
                InvalidInput if kind == "bad_value" else InvalidGeometry)
            raise cls(msg, message_vi=msg_vi)

    for n, wkb in enumerate(geoms):
        fid = _fids[n]

        def get(col: str | None, n: int = n) -> object:
            value = None if col is None else fields[index[col]][n]
            return to_unicode(value, encoding) if isinstance(value, str) else value

        if wkb is None:
            problem(fid, "invalid_geometry", f"feature {fid}: no geometry",
                    f"Đối tượng {fid}: không có hình học")
            continue
        geom = shapely.from_wkb(wkb)
        vertices = int(shapely.get_num_coordinates(geom))
        if vertices > limits.max_vertices:
            problem(fid, "too_many_vertices",
                    f"feature {fid}: {vertices:,} vertices, more than the "
                    f"{limits.max_vertices:,} a zone may have",
                    f"Đối tượng {fid}: {vertices:,} đỉnh, vượt quá {limits.max_vertices:,} "
                    "đỉnh cho phép của một ô")
            continue
        poly = _polygonal(geom)
        if poly is None:
            problem(fid, "not_polygon", f"feature {fid}: a {geom.geom_type}, zones must be polygons",
                    f"Đối tượng {fid}: là {geom.geom_type}, ô quy hoạch phải là vùng")
            continue
        geom = poly
        if not geom.is_valid:
            reason = shapely.is_valid_reason(geom)
            fixed = _polygonal(shapely.make_valid(geom)) if repair else None
            if fixed is None or fixed.is_empty:
                problem(fid, "invalid_geometry", f"feature {fid}: invalid geometry ({reason})",
                        f"Đối tượng {fid}: hình học không hợp lệ ({reason})")
                continue
            problem(fid, "repaired", f"feature {fid}: invalid geometry ({reason}) repaired",
                    f"Đối tượng {fid}: hình học không hợp lệ ({reason}) đã được sửa", False)
            geom = fixed
        geom = shapely.transform(geom, lambda xy: _xy(to_storage, xy))
        if isinstance(geom, Polygon):
            geom = MultiPolygon([geom])
        report.shapes[fid] = geom
        code = str(get(cols["function_code"]) or "").strip().upper()
        if code not in known:
            problem(fid, "unknown_code",
                    f"feature {fid}: unknown land-use function code {code!r} "
                    f"(known: {', '.join(sorted(known))})",
                    f"Đối tượng {fid}: mã chức năng sử dụng đất không có trong chú giải {code!r}")
            continue
        label = unicodedata.normalize("NFC", str(get(cols["label"]) or "").strip())
        if not label:
            problem(fid, "empty_label", f"feature {fid}: empty zone label",
                    f"Đối tượng {fid}: thiếu ký hiệu ô đất")
            continue
        try:
            values = {f: _number(get(cols[f]), f, fid, integer=f in (
                "floors_min", "floors_max", "population")) for f in
                ("coverage_pct", "floors_min", "floors_max", "far", "population")}
        except InvalidInput as exc:
            problem(fid, "bad_value", str(exc), f"Đối tượng {fid}: chỉ tiêu không phải là số")
            continue
        placed.append((fid, geom))
        rows.append(LandUseZone(plan_id=plan_id, label=label, function_code=code,
                                area_m2=round(geom.area, 1), geom=from_shape(geom, STORAGE_SRID),
                                **values))
    _overlaps(session, plan_id, placed, problem, against_plan=not replace)
    report.accepted = len(rows)
    return rows, report


#: Overlap area (m²) below which two zones are taken to touch (digitising noise), not overlap.
OVERLAP_TOLERANCE_M2 = 1.0


def _overlaps(session: Session, plan_id: int, placed, problem, *,
              against_plan: bool = True) -> None:
    """Report zones that overlap each other or (``against_plan``) a zone already in the plan."""
    if not placed:
        return
    geoms = [g for _f, g in placed]
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="intersects")
    for i, j in zip(left, right, strict=True):
        if i >= j:
            continue
        area = geoms[i].intersection(geoms[j]).area
        if area > OVERLAP_TOLERANCE_M2:
            problem(placed[j][0], "overlap",
                    f"feature {placed[j][0]} overlaps feature {placed[i][0]} by {area:.1f} m²",
                    f"Đối tượng {placed[j][0]} chồng lấn đối tượng {placed[i][0]} "
                    f"({area:.1f} m²)")
    if not against_plan:
        return
    from geoalchemy2.shape import to_shape as _to_shape

    existing = session.execute(select(LandUseZone.label, LandUseZone.geom).where(
        LandUseZone.plan_id == plan_id,
        LandUseZone.geom.ST_Intersects(from_shape(shapely.union_all(geoms).envelope,
                                                  STORAGE_SRID)))).all()
    for label, g in existing:
        other = _to_shape(g)
        for fid, geom in placed:
            if geom.intersects(other):
                area = geom.intersection(other).area
                if area > OVERLAP_TOLERANCE_M2:
                    problem(fid, "overlap",
                            f"feature {fid} overlaps zone {label} of the plan by {area:.1f} m²",
                            f"Đối tượng {fid} chồng lấn ô {label} đã có của đồ án ({area:.1f} m²)")


def import_zones(session: Session, path: Path, plan_id: int, crs: str | None = None, *,
                 mapping: dict[str, str] | None = None, encoding: str | None = None,
                 repair: bool = False, layer: str | None = None,
                 report_only: bool = False, display_name: str | None = None,
                 limits: ZoneFileLimits | None = None,
                 replace: bool = False) -> ZoneImportResult:
    """Read, check and insert every zone of ``path`` into plan ``plan_id``, all or nothing.

    Without ``repair`` the first bad feature stops the import with its message (the command
    line's behaviour); with it, invalid polygons are repaired. A report with any rejected
    feature inserts nothing: the first rejection is raised, the whole report is on the result
    of :func:`check_zones`. ``report_only`` checks without writing. ``replace`` makes the file
    a new version of the plan's zones: the zones there are deleted and the file's inserted in
    this one transaction, and the history (migration 0016) keeps the old ones, with the
    decision the caller named (:func:`planning_gis.history.context.change_context`).

    Before anything is read, the plan's row is locked for the rest of the transaction
    (:func:`lock_plan_zones`), so the overlap check and the insert of two imports into one plan
    never interleave: the second waits, then sees the first's zones.
    """
    if not report_only:
        lock_plan_zones(session, plan_id)
    rows, report = check_zones(session, path, plan_id, crs, mapping=mapping, encoding=encoding,
                               repair=repair, layer=layer, stop_at_first=not repair,
                               display_name=display_name, limits=limits, replace=replace)
    if report.rejected:
        first = report.rejected[0]
        more = len(report.rejected) - 1
        tail = f" (and {more} more problem(s))" if more else ""
        cls = ConstraintViolation if first.kind in ("unknown_code", "empty_label") else (
            InvalidInput if first.kind == "bad_value" else InvalidGeometry)
        raise cls(first.message + tail + ": nothing was imported",
                  message_vi=first.message_vi + ": không nhập đối tượng nào.")
    if not rows:
        name = display_name or Path(path).name
        raise InvalidInput(f"{name} has no features",
                           message_vi=f"{name} không có đối tượng nào.")
    if report_only:
        return ZoneImportResult(plan_id, 0, report.source_crs, report)
    try:
        with session.begin_nested():
            if replace:
                session.execute(text("DELETE FROM land_use_zones WHERE plan_id = :p"),
                                {"p": plan_id})
            session.add_all(rows)
            session.flush()
    except IntegrityError as exc:
        constraint = getattr(getattr(exc.orig, "diag", None), "constraint_name", None)
        raise ConstraintViolation(
            f"a zone breaks the database rule {constraint or exc.orig}: nothing was imported",
            message_vi="Một ô quy hoạch vi phạm ràng buộc của cơ sở dữ liệu: không nhập gì.",
        ) from exc
    return ZoneImportResult(plan_id, len(rows), report.source_crs, report)


def lock_plan_zones(session: Session, plan_id: int) -> None:
    """Lock plan ``plan_id``'s row until the transaction ends; every writer of a plan's zones
    calls this before it checks for overlaps, so "no overlap within a plan" holds under
    concurrent writers (the check reads only committed zones, and a second writer waits here
    until the first has committed or rolled back).

    ``FOR NO KEY UPDATE`` serialises zone writers of one plan without blocking readers or
    inserts elsewhere that reference the plan (they take ``FOR KEY SHARE``).
    """
    found = session.execute(text("SELECT id FROM plans WHERE id = :id FOR NO KEY UPDATE"),
                            {"id": plan_id}).first()
    if found is None:
        raise NotFound(f"plan {plan_id} does not exist",
                       message_vi=f"Không có đồ án quy hoạch số {plan_id}.")


def _xy(t, xy):
    import numpy as np

    x, y = t.transform(xy[:, 0], xy[:, 1])
    return np.column_stack([x, y])
