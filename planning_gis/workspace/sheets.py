"""A sheet's life: uploaded -> control points -> georeferenced (previewed) -> published.

Control points are stored in EPSG:5897 (easting/northing) and corner-based scan pixels, the
georeferencing engine's convention. Publishing warps the scan to a COG through
:func:`planning_gis.georef.warp_scan`, records a new :class:`SheetVersion` and points the sheet
at it, all in the caller's transaction; the COG is removed again if that transaction fails.
Unpublishing hides the sheet; restoring re-publishes an earlier version's COG and points.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import tempfile
import uuid
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
import shapely
import shapely.affinity
from geoalchemy2.shape import from_shape, to_shape
from PIL import Image
from shapely.geometry import Polygon, box
from sqlalchemy import delete, event, func, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from planning_gis.accounts import audit
from planning_gis.accounts.users import require_plan_editor
from planning_gis.crs import (
    STORAGE_SRID,
    WEB_MERCATOR,
    WGS84,
    parse_crs,
    parse_printed_number,
    resolve_lonlat,
    resolve_projected,
)
from planning_gis.crs import transformer as crs_transformer
from planning_gis.errors import (
    Conflict,
    EditConflict,
    GeoreferenceError,
    InvalidGeometry,
    InvalidInput,
    NotFound,
)
from planning_gis.georef import ControlPoint as GcP
from planning_gis.georef import ControlPointSet, read_control_points, warp_scan, write_csv, write_points
from planning_gis.georef.control_points import check_in_hanoi
from planning_gis.georef.report import analyse
from planning_gis.georef.scan_io import load_scan
from planning_gis.georef.transforms import METHODS, Fit
from planning_gis.messages import localise_report
from planning_gis.models import ControlPoint, MapSheet, Plan, SheetVersion, User
from planning_gis.settings import Settings
from planning_gis.workspace import uploads
from tiles.web_cog import make_web_cog, web_cog_path

STATE_LABELS = {
    "uploaded": "Đã tải lên",
    "control_points": "Đang đặt điểm khống chế",
    "georeferenced": "Đã nắn (chưa công bố)",
    "published": "Đã công bố",
}


# --- look-ups and access ------------------------------------------------------------------

def get_sheet(session: Session, sheet_id: int, user: User | None, *, edit: bool = True,
              lock_timeout_ms: int | None = None) -> MapSheet:
    """The sheet, or NotFound; Forbidden when ``user`` may not edit its plan.

    With ``lock_timeout_ms`` the sheet's row is locked for the rest of the transaction before
    anything else of it is read. Every edit rewrites the residuals of all the sheet's points, so
    two edits of different points would otherwise lock the points in opposite orders and
    deadlock; taking the sheet first makes edits of one sheet wait in line (each then sees the
    other's points). A lock not had within the timeout is an :class:`EditConflict` (409).
    """
    if lock_timeout_ms is not None:
        _lock_sheet(session, sheet_id, lock_timeout_ms)
    sheet = session.get(MapSheet, sheet_id)
    if sheet is None:
        raise NotFound(f"no map sheet {sheet_id}", message_vi=f"Không có tờ bản đồ số {sheet_id}.")
    if edit:
        require_plan_editor(user, sheet.plan)
    return sheet


def _lock_sheet(session: Session, sheet_id: int, timeout_ms: int) -> None:
    session.execute(text("SELECT set_config('lock_timeout', :t, true)"),
                    {"t": f"{max(1, int(timeout_ms))}ms"})
    try:
        session.execute(select(MapSheet.id).where(MapSheet.id == sheet_id).with_for_update())
    except OperationalError as exc:
        if getattr(exc.orig, "sqlstate", None) != "55P03":  # lock_not_available
            raise
        session.rollback()
        raise EditConflict(
            f"map sheet {sheet_id} is being changed by another request; nothing was saved, "
            "try again in a moment",
            message_vi="Tờ bản đồ đang được người khác chỉnh sửa; thay đổi chưa được lưu, "
                       "vui lòng thử lại sau giây lát.") from exc
    # Back to the server's default for the rest of the transaction.
    session.execute(text("SELECT set_config('lock_timeout', '0', true)"))


def get_plan(session: Session, plan_id: int, user: User | None, *, edit: bool = True) -> Plan:
    plan = session.get(Plan, plan_id)
    if plan is None:
        raise NotFound(f"no plan {plan_id}", message_vi=f"Không có đồ án quy hoạch số {plan_id}.")
    if edit:
        require_plan_editor(user, plan)
    return plan


# --- upload, rotate -----------------------------------------------------------------------

_PENDING = "workspace_new_files"


def _remove_on_rollback(session: Session, paths: list[Path]) -> None:
    """Delete files this transaction created if it rolls back (nothing half-written).

    The files are listed in ``session.info``; one pair of listeners per session (never removed
    inside an event, which SQLAlchemy forbids) empties the list on commit or deletes on rollback.
    """
    if not paths:
        return
    if _PENDING not in session.info:
        session.info[_PENDING] = []
        event.listen(session, "after_commit", _files_kept)
        event.listen(session, "after_rollback", _files_gone)
    session.info[_PENDING].extend(paths)


def _files_kept(session: Session) -> None:
    session.info.get(_PENDING, []).clear()


def _files_gone(session: Session) -> None:
    pending = session.info.get(_PENDING, [])
    for p in pending:
        p.unlink(missing_ok=True)
    pending.clear()


def create_sheet(session: Session, user: User, plan: Plan, stream, filename: str, title: str,
                 settings: Settings, declared_size: int | None = None) -> MapSheet:
    """Store an uploaded scan and add a sheet for it to ``plan``."""
    require_plan_editor(user, plan)
    title = " ".join((title or "").split()) or Path(filename or "scan").stem
    stored = uploads.store_scan(stream, filename or "scan", settings, declared_size)
    try:
        _hold_scan(session, settings, stored)
        sheet = MapSheet(plan_id=plan.id, title=title, scan_sha256=stored.sha256,
                         scan_size=stored.size, scan_name=filename, scan_format=stored.fmt,
                         width=stored.width, height=stored.height, crs_epsg=STORAGE_SRID,
                         state="uploaded", uploaded_by=user.id)
        session.add(sheet)
        session.flush()
        audit.record(session, user, "sheet.upload", "map_sheet", sheet.id,
                     {"plan_id": plan.id, "sha256": stored.sha256, "bytes": stored.size,
                      "width": stored.width, "height": stored.height, "file": filename})
    except BaseException:
        stored.discard_created()
        raise
    _remove_on_rollback(session, stored.created)
    return sheet


def scan_file(sheet: MapSheet, settings: Settings) -> Path:
    return uploads.scan_path(settings, sheet.scan_sha256, sheet.scan_format or "tif")


def rotate_sheet(session: Session, user: User, sheet: MapSheet, quarter_turns: int, flip: bool,
                 settings: Settings) -> MapSheet:
    """Turn the scan by 90° steps (clockwise) and/or mirror it, before any point is placed.

    The turned scan is a new file (stored by its own sha256); the original stays untouched.
    """
    require_plan_editor(user, sheet.plan)
    if sheet.control_points:
        raise Conflict("remove the control points before rotating the scan",
                       message_vi="Hãy xóa các điểm khống chế trước khi xoay ảnh quét.")
    if quarter_turns % 4 == 0 and not flip:
        raise InvalidInput("nothing to do: give a rotation or a flip",
                           message_vi="Chưa chọn xoay hoặc lật ảnh.")
    info = uploads.probe_scan(scan_file(sheet, settings), settings)
    arr = load_scan(info).array
    if flip:
        arr = arr[:, ::-1]
    arr = np.rot90(arr, k=-(quarter_turns % 4))
    settings.scans_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=settings.scans_dir, prefix=".rotate-", suffix=".tif")
    os.close(fd)
    try:
        data = np.ascontiguousarray(np.moveaxis(arr, -1, 0))
        del arr
        with rasterio.open(tmp, "w", driver="GTiff", width=data.shape[2], height=data.shape[1],
                           count=data.shape[0], dtype="uint8", tiled=True,
                           compress="deflate", BIGTIFF="IF_SAFER") as dst:
            dst.write(data)
        del data
        with open(tmp, "rb") as fh:
            stored = uploads.store_scan(fh, f"{sheet.title}.tif", settings)
    finally:
        Path(tmp).unlink(missing_ok=True)
    try:
        _hold_scan(session, settings, stored)
    except BaseException:
        stored.discard_created()
        raise
    old = sheet.scan_sha256
    sheet.scan_sha256, sheet.scan_size, sheet.scan_format = stored.sha256, stored.size, stored.fmt
    sheet.width, sheet.height = stored.width, stored.height
    sheet.neatline = None
    audit.record(session, user, "sheet.rotate", "map_sheet", sheet.id,
                 {"quarter_turns": quarter_turns % 4, "flip": flip, "from": old,
                  "to": stored.sha256})
    _remove_on_rollback(session, stored.created)
    return sheet


# --- control points -----------------------------------------------------------------------

def _ground(data: dict[str, Any]) -> tuple[float, float]:
    """(easting, northing) in EPSG:5897 from x_north/y_east (+ crs) or lon/lat."""
    def num(key: str) -> float:
        try:
            # typed as printed: "2.325.260", "2 325 260", "586400,25"
            value = parse_printed_number(data[key])
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidInput(
                f"{key} must be a number (as printed: 2 325 260, 2.325.260 or 586400,25)",
                message_vi=f"{key} phải là một số (như in trên bản đồ: 2 325 260, 2.325.260 "
                "hoặc 586400,25).") from exc
        if not math.isfinite(value):
            raise InvalidInput(f"{key} must be a finite number")
        return value

    if data.get("x_north") not in (None, "") and data.get("y_east") not in (None, ""):
        p = resolve_projected(num("x_north"), num("y_east"), data.get("crs") or STORAGE_SRID)
        return p.easting, p.northing
    if data.get("lon") not in (None, "") and data.get("lat") not in (None, ""):
        p = resolve_lonlat(num("lon"), num("lat"))
        return p.easting, p.northing
    raise InvalidInput(
        "give the ground position as x_north and y_east (VN-2000) or as lon and lat",
        message_vi="Hãy nhập tọa độ X (Bắc), Y (Đông) theo VN-2000 hoặc kinh độ/vĩ độ.",
    )


def _pixel(data: dict[str, Any], sheet: MapSheet) -> tuple[float, float]:
    try:
        px, py = float(data["pixel_x"]), float(data["pixel_y"])
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidInput("pixel_x and pixel_y must be numbers",
                           message_vi="Tọa độ điểm ảnh phải là số.") from exc
    if not (0 <= px <= sheet.width and 0 <= py <= sheet.height):
        raise InvalidInput(
            f"pixel ({px:.1f}, {py:.1f}) is outside the {sheet.width} x {sheet.height} scan",
            message_vi="Điểm nằm ngoài ảnh quét.",
        )
    return px, py


def _touch(sheet: MapSheet) -> None:
    if sheet.state == "uploaded":
        sheet.state = "control_points"
    elif sheet.state == "georeferenced":
        sheet.state = "control_points"  # the preview no longer matches the points


def _next_label(sheet: MapSheet) -> str:
    used = {cp.label for cp in sheet.control_points}
    n = len(sheet.control_points) + 1
    while f"P{n}" in used:
        n += 1
    return f"P{n}"


def add_point(session: Session, user: User, sheet: MapSheet, data: dict[str, Any]) -> ControlPoint:
    require_plan_editor(user, sheet.plan)
    px, py = _pixel(data, sheet)
    e, n = _ground(data)
    label = " ".join(str(data.get("label") or "").split()) or _next_label(sheet)
    cp = ControlPoint(sheet_id=sheet.id, label=label, pixel_x=px, pixel_y=py, easting=e,
                      northing=n, enabled=bool(data.get("enabled", True)))
    sheet.control_points.append(cp)
    _touch(sheet)
    session.flush()
    audit.record(session, user, "point.add", "map_sheet", sheet.id,
                 {"point": cp.id, "label": label, "pixel": [px, py], "en": [e, n]})
    return cp


def update_point(session: Session, user: User, sheet: MapSheet, point_id: int,
                 data: dict[str, Any]) -> ControlPoint:
    require_plan_editor(user, sheet.plan)
    cp = next((c for c in sheet.control_points if c.id == point_id), None)
    if cp is None:
        raise NotFound(f"no control point {point_id} on sheet {sheet.id}",
                       message_vi="Không có điểm khống chế này.")
    if "pixel_x" in data or "pixel_y" in data:
        cp.pixel_x, cp.pixel_y = _pixel({"pixel_x": data.get("pixel_x", cp.pixel_x),
                                         "pixel_y": data.get("pixel_y", cp.pixel_y)}, sheet)
    if any(k in data for k in ("x_north", "y_east", "lon", "lat")):
        cp.easting, cp.northing = _ground(data)
    if "enabled" in data:
        cp.enabled = bool(data["enabled"])
    if "label" in data and str(data["label"]).strip():
        cp.label = " ".join(str(data["label"]).split())
    _touch(sheet)
    session.flush()
    audit.record(session, user, "point.update", "map_sheet", sheet.id,
                 {"point": cp.id, "changes": sorted(data)})
    return cp


def delete_point(session: Session, user: User, sheet: MapSheet, point_id: int) -> None:
    require_plan_editor(user, sheet.plan)
    cp = next((c for c in sheet.control_points if c.id == point_id), None)
    if cp is None:
        raise NotFound(f"no control point {point_id} on sheet {sheet.id}",
                       message_vi="Không có điểm khống chế này.")
    sheet.control_points.remove(cp)
    _touch(sheet)
    session.flush()
    audit.record(session, user, "point.delete", "map_sheet", sheet.id, {"point": point_id})


#: Most points one request may put back (a sheet's grid rarely has more than a few hundred).
MAX_POINTS = 5000


def replace_points(session: Session, user: User, sheet: MapSheet, points: Any) -> int:
    """Put the whole table back as it was (the editor's undo of an import or a detection): the
    sheet's points become exactly ``points`` ({pixel_x, pixel_y, x_north, y_east, label,
    enabled}, an empty list clears the table), all checked before anything changes, in one
    transaction."""
    require_plan_editor(user, sheet.plan)
    if not isinstance(points, list) or len(points) > MAX_POINTS:
        raise InvalidInput(f"points must be a list of at most {MAX_POINTS} points",
                           message_vi=f"Danh sách điểm phải là một mảng, tối đa {MAX_POINTS} "
                           "điểm.")
    rows = []
    for k, data in enumerate(points):
        if not isinstance(data, dict):
            raise InvalidInput(f"point {k + 1} must be an object",
                               message_vi=f"Điểm thứ {k + 1} không hợp lệ.")
        px, py = _pixel(data, sheet)
        e, n = _ground(data)
        label = " ".join(str(data.get("label") or "").split()) or f"P{k + 1}"
        rows.append(ControlPoint(sheet_id=sheet.id, label=label, pixel_x=px, pixel_y=py,
                                 easting=e, northing=n, enabled=bool(data.get("enabled", True))))
    sheet.control_points.clear()
    session.flush()
    sheet.control_points.extend(rows)
    _touch(sheet)
    session.flush()
    audit.record(session, user, "point.replace", "map_sheet", sheet.id, {"count": len(rows)})
    return len(rows)


def import_points(session: Session, user: User, sheet: MapSheet, path: Path, replace_all: bool,
                  crs: str | None = None) -> int:
    """Read a ``.points``/CSV file (any CRS the file names) and store its points in 5897."""
    require_plan_editor(user, sheet.plan)
    cps = read_control_points(path, crs)
    if not cps.points:
        raise InvalidInput("the file holds no control points",
                           message_vi="Tệp không có điểm khống chế nào.")
    epsg = cps.epsg() or STORAGE_SRID
    to_store = None if epsg == STORAGE_SRID else crs_transformer(epsg, STORAGE_SRID)
    if replace_all:
        sheet.control_points.clear()
        session.flush()
    for i, p in enumerate(cps.points):
        if not (-1 <= p.pixel_x <= sheet.width + 1 and -1 <= p.pixel_y <= sheet.height + 1):
            raise InvalidInput(
                f"point {p.label or i + 1} at pixel ({p.pixel_x:.1f}, {p.pixel_y:.1f}) is outside "
                f"the {sheet.width} x {sheet.height} scan: is this the file of another sheet?",
                message_vi="Điểm khống chế nằm ngoài ảnh quét: có thể tệp thuộc tờ bản đồ khác.",
            )
        e, n = (p.easting, p.northing) if to_store is None else to_store.transform(p.easting,
                                                                                  p.northing)
        sheet.control_points.append(ControlPoint(
            sheet_id=sheet.id, label=p.label or f"P{i + 1}",
            pixel_x=min(max(p.pixel_x, 0.0), float(sheet.width)),
            pixel_y=min(max(p.pixel_y, 0.0), float(sheet.height)),
            easting=float(e), northing=float(n), enabled=p.enabled))
    _touch(sheet)
    session.flush()
    audit.record(session, user, "point.import", "map_sheet", sheet.id,
                 {"count": len(cps.points), "replace": replace_all, "file": path.name,
                  "crs": f"EPSG:{epsg}"})
    return len(cps.points)


def detect_points(session: Session, user: User, sheet: MapSheet,
                  settings: Settings) -> dict[str, Any]:
    """Find control points from the sheet's printed VN-2000 grid and add them for review.

    Points already placed stay; a detected point within 3 px of one is not added again. The
    detection's report (crossings, ticks, labels found, used and refused, and why) is returned
    for the editor to show.
    """
    from planning_gis.georef.detect import detect_grid

    require_plan_editor(user, sheet.plan)
    found = detect_grid(scan_file(sheet, settings), crs_epsg=STORAGE_SRID, settings=settings)
    if found.points:
        check_in_hanoi(ControlPointSet(found.control_points(), parse_crs(STORAGE_SRID)))
    taken = [(cp.pixel_x, cp.pixel_y) for cp in sheet.control_points]
    labels = {cp.label for cp in sheet.control_points}
    added = 0
    for d in found.points:
        if any(abs(d.pixel_x - x) < 3 and abs(d.pixel_y - y) < 3 for x, y in taken):
            continue
        if not (0 <= d.pixel_x <= sheet.width and 0 <= d.pixel_y <= sheet.height):
            continue
        label = d.label if d.label not in labels else f"{d.label}'"
        sheet.control_points.append(ControlPoint(
            sheet_id=sheet.id, label=label, pixel_x=d.pixel_x, pixel_y=d.pixel_y,
            easting=d.easting, northing=d.northing, enabled=True))
        taken.append((d.pixel_x, d.pixel_y))
        added += 1
    if added:
        _touch(sheet)
    session.flush()
    audit.record(session, user, "point.detect", "map_sheet", sheet.id,
                 {"found": len(found.points), "added": added})
    return localise_report({"found": len(found.points), "added": added,
                            "confidence": {d.label: d.confidence for d in found.points},
                            **found.report})


def engine_points(sheet: MapSheet) -> list[GcP]:
    return [GcP(cp.pixel_x, cp.pixel_y, cp.easting, cp.northing, cp.enabled, cp.label or "")
            for cp in sheet.control_points]


def export_points(sheet: MapSheet, fmt: str, folder: Path) -> Path:
    """A ``.points`` (QGIS) or CSV file of the sheet's points, in ``folder``."""
    out = folder / f"sheet-{sheet.id}.{ 'points' if fmt == 'points' else 'csv'}"
    if fmt == "points":
        write_points(engine_points(sheet), out, parse_crs(STORAGE_SRID))
    elif fmt == "csv":
        write_csv(engine_points(sheet), out)
    else:
        raise InvalidInput("export format must be points or csv")
    return out


def delete_draft(session: Session, user: User, sheet: MapSheet, settings: Settings) -> int:
    """Delete a sheet that was never published (a wrong upload, a duplicate); returns its plan.

    A sheet with published versions keeps its history: it can be withdrawn from the public map
    ("Ngừng công bố"), not deleted. The scan (and its preview and thumbnail) leaves the
    content-addressed store when no other sheet uses the same file (see :func:`_release_scan`):
    a wrong upload is often a confidential one.
    """
    require_plan_editor(user, sheet.plan)
    versions = session.scalar(select(func.count()).select_from(SheetVersion)
                              .where(SheetVersion.sheet_id == sheet.id))
    if sheet.state == "published" or versions:
        raise Conflict(
            "a sheet that has been published keeps its history: withdraw it instead",
            message_vi="Tờ bản đồ đã từng được công bố nên được giữ lại cùng lịch sử: hãy dùng "
            "“Ngừng công bố” thay vì xóa.")
    plan_id, sheet_id, title = sheet.plan_id, sheet.id, sheet.title
    sha, fmt = sheet.scan_sha256, sheet.scan_format or "tif"
    session.delete(sheet)
    session.flush()
    removed = _release_scan(session, settings, sha, fmt)
    audit.record(session, user, "sheet.delete", "map_sheet", sheet_id,
                 {"title": title, "plan": plan_id, "sha256": sha, "scan_removed": removed})
    return plan_id


_TRASH = "workspace_files_to_remove"
SCAN_LOCK = "SELECT pg_advisory_xact_lock(hashtextextended('scan:' || :sha, 0))"
#: Does a sheet still use this scan? (ix_map_sheets_scan_sha256)
SCAN_USED = "SELECT EXISTS (SELECT 1 FROM map_sheets WHERE scan_sha256 = :sha)"


def _scan_files(settings: Settings, sha: str, fmt: str) -> list[Path]:
    return [uploads.scan_path(settings, sha, fmt), uploads.preview_path(settings, sha),
            uploads.thumb_path(settings, sha)]


def _release_scan(session: Session, settings: Settings, sha: str, fmt: str) -> bool:
    """Take a scan nobody uses any more out of the store, once this transaction commits.

    Under the scan's advisory lock (which an upload of the same file also takes before it
    commits its row: :func:`_hold_scan`), the files are counted as unused only when no other
    sheet's row names them; they are then renamed aside, removed after the commit and put back
    on a rollback, so a sheet never loses its file and a failed delete loses nothing.
    """
    session.execute(text(SCAN_LOCK), {"sha": sha})
    if session.scalar(text(SCAN_USED), {"sha": sha}):
        return False  # another sheet (of any plan) uses the same file
    moved: list[tuple[Path, Path]] = []
    for final in _scan_files(settings, sha, fmt):
        if final.exists():
            aside = final.with_name(f".deleted-{uuid.uuid4().hex}-{final.name}")
            os.replace(final, aside)
            moved.append((aside, final))
    if _TRASH not in session.info:
        session.info[_TRASH] = []
        event.listen(session, "after_commit", _trash_emptied)
        event.listen(session, "after_rollback", _trash_restored)
    session.info[_TRASH].extend(moved)
    return True


def _trash_emptied(session: Session) -> None:
    for aside, _final in session.info.get(_TRASH, []):
        aside.unlink(missing_ok=True)
    session.info.get(_TRASH, []).clear()


def _trash_restored(session: Session) -> None:
    for aside, final in session.info.get(_TRASH, []):
        if aside.exists():
            os.replace(aside, final)
    session.info.get(_TRASH, []).clear()


def _hold_scan(session: Session, settings: Settings, stored: uploads.StoredScan) -> None:
    """Before a row names a stored scan: take the scan's lock (held to the commit) and make sure
    a concurrent delete of the last sheet using the same file has not taken it away."""
    session.execute(text(SCAN_LOCK), {"sha": stored.sha256})
    if not all(p.exists() for p in _scan_files(settings, stored.sha256, stored.fmt)):
        raise EditConflict(
            "the same scan was being removed by another request; upload it again",
            message_vi="Cùng tệp ảnh quét này vừa bị xóa bởi một thao tác khác; hãy tải lên lại.")


def chosen_method(sheet: MapSheet, method: str | None = None) -> str:
    """The method to use: the one asked for, else the planner's saved choice, else ``auto``."""
    if method and method != "auto":
        return method
    return sheet.method_choice or "auto"


def set_method(session: Session, user: User, sheet: MapSheet, method: str | None) -> None:
    """Save the planner's choice of transformation (``auto`` or None clears it)."""
    require_plan_editor(user, sheet.plan)
    value = None if method in (None, "", "auto") else str(method)
    if value is not None and value not in METHODS:
        raise InvalidInput(
            f"unknown method {method!r}: choose auto or {', '.join(METHODS)}",
            message_vi=f"Không có phép biến đổi {method!r}: hãy chọn tự động hoặc "
            + ", ".join(METHODS) + ".")
    old = sheet.method_choice
    sheet.method_choice = value
    _touch(sheet)
    session.flush()
    audit.record(session, user, "sheet.method", "map_sheet", sheet.id,
                 {"from": old or "auto", "to": value or "auto"})


def residual_report(session: Session, sheet: MapSheet, method: str | None = None
                    ) -> dict[str, Any]:
    """Every method's RMSE and leave-one-out error, the automatic choice, flagged blunders.

    The chosen method's residuals are written back on the points so lists can show them. With
    too few points the report says why instead of failing.
    """
    points = engine_points(sheet)
    base: dict[str, Any] = {"points": len(points), "enabled": sum(p.enabled for p in points)}
    region = None
    if sheet.neatline is not None:
        region = to_shape(sheet.neatline).area or None
    try:
        rep = analyse(points, chosen_method(sheet, method), image_size=(sheet.width, sheet.height),
                      crs_epsg=STORAGE_SRID, include_all_residuals=True, region_area_px=region)
    except GeoreferenceError as exc:
        for cp in sheet.control_points:
            cp.residual_m = cp.loo_error_m = None
        return localise_report({**base, "ok": False, "error": str(exc),
                                "error_vi": exc.message_vi})
    by_label = {row["label"]: row for row in rep.data["residuals"]}  # type: ignore[index]
    ids = {}
    enabled = [cp for cp in sheet.control_points if cp.enabled]
    for i, cp in enumerate(enabled):
        label = cp.label or str(i + 1)
        row = by_label.get(label)
        if row is None:  # analyse renamed a duplicate label
            row = by_label.get(f"{label}#{i + 1}")
        cp.residual_m = row["total_m"] if row else None
        cp.loo_error_m = row["loo_m"] if row else None
        if row:
            ids[row["label"]] = cp.id
    # A disabled point is a check point: it keeps its error against the fit it never saw.
    checks = {int(row["index"]): row for row in rep.data["check_points"]}  # type: ignore[union-attr]
    for i, cp in enumerate(sheet.control_points):
        if not cp.enabled:
            row = checks.get(i)
            cp.residual_m = row["total_m"] if row else None
            cp.loo_error_m = None
            if row:
                row["id"] = cp.id
    for row in rep.data["residuals"]:  # type: ignore[union-attr]
        row["id"] = ids.get(row["label"])
    sheet.method = rep.fit.method
    sheet.rmse_m = rep.data["rmse_m"]  # type: ignore[assignment]
    sheet.loo_rmse_m = rep.data["loo_rmse_m"]  # type: ignore[assignment]
    if sheet.state != "published":  # the public figure changes only when a version is published
        sheet.check_error_m = rep.data["check_rmse_m"]  # type: ignore[assignment]
    session.flush()
    return localise_report({**base, "ok": True, **rep.data})


# --- neatline mask ------------------------------------------------------------------------

def set_neatline(session: Session, user: User, sheet: MapSheet,
                 coords: list[list[float]] | None) -> None:
    """Store the neatline (scan pixels) or clear it with ``None``."""
    require_plan_editor(user, sheet.plan)
    if coords is None:
        sheet.neatline = None
    else:
        try:
            ring = [(float(x), float(y)) for x, y in coords]
        except (TypeError, ValueError) as exc:
            raise InvalidGeometry("the neatline must be a list of [x, y] pixel pairs",
                                  message_vi="Khung bản đồ phải là danh sách cặp tọa độ điểm ảnh.") from exc
        if len(ring) < 3:
            raise InvalidGeometry("the neatline needs at least 3 corners",
                                  message_vi="Khung bản đồ cần ít nhất 3 đỉnh.")
        poly = Polygon(ring)
        if not poly.is_valid:
            poly = shapely.make_valid(poly)
            if poly.geom_type != "Polygon":
                raise InvalidGeometry("the neatline crosses itself: draw it again corner by corner",
                                      message_vi="Khung bản đồ tự cắt: hãy vẽ lại theo thứ tự các góc.")
        poly = poly.intersection(box(0, 0, sheet.width, sheet.height))
        if poly.is_empty or poly.geom_type != "Polygon" or poly.area < 0.01 * sheet.width * sheet.height:
            raise InvalidGeometry("the neatline must enclose a part of the scan",
                                  message_vi="Khung bản đồ phải bao một phần ảnh quét.")
        sheet.neatline = from_shape(shapely.set_precision(poly, 0.01))
    if sheet.state == "georeferenced":
        sheet.state = "control_points"
    session.flush()
    audit.record(session, user, "sheet.mask", "map_sheet", sheet.id,
                 {"cleared": coords is None, "corners": None if coords is None else len(coords)})


def neatline_coords(sheet: MapSheet) -> list[list[float]] | None:
    if sheet.neatline is None:
        return None
    return [[round(x, 2), round(y, 2)] for x, y in to_shape(sheet.neatline).exterior.coords]


# --- preview, publish, versions -----------------------------------------------------------

def _mask(sheet: MapSheet):
    return to_shape(sheet.neatline) if sheet.neatline is not None else None


def preview_file(settings: Settings, sheet: MapSheet) -> Path:
    return settings.previews_dir / "warps" / f"sheet-{sheet.id}.png"


def preview_warp(session: Session, user: User, sheet: MapSheet, settings: Settings) -> dict[str, Any]:
    """Warp a reduced copy of the scan to Web Mercator and return the overlay PNG's bounds.

    Reading the reduced copy from the preview COG's overviews keeps this quick whatever the
    scan's size; the points and the mask are scaled to match.
    """
    require_plan_editor(user, sheet.plan)
    src = uploads.preview_path(settings, sheet.scan_sha256)
    side = settings.preview_warp_max_px
    scale = min(1.0, side / max(sheet.width, sheet.height))
    img = uploads.read_overview(src, max(1, round(max(sheet.width, sheet.height) * scale)))
    fx, fy = img.width / sheet.width, img.height / sheet.height
    points = [replace(p, pixel_x=p.pixel_x * fx, pixel_y=p.pixel_y * fy)
              for p in engine_points(sheet)]
    mask = _mask(sheet)
    if mask is not None:
        mask = shapely.affinity.scale(mask, fx, fy, origin=(0, 0))
    work = settings.previews_dir / "warps"
    work.mkdir(parents=True, exist_ok=True)
    tag = uuid.uuid4().hex[:8]
    small = work / f".small-{sheet.id}-{tag}.png"
    cog = work / f".warp-{sheet.id}-{tag}.tif"
    out = preview_file(settings, sheet)
    tmp_png = work / f".preview-{sheet.id}-{tag}.png"
    try:
        img.save(small)
        result = warp_scan(small, ControlPointSet(points, parse_crs(STORAGE_SRID)),
                           crs=WEB_MERCATOR, method=chosen_method(sheet), out=cog, mask=mask,
                           settings=settings)
        with rasterio.open(cog) as ds:
            arr = ds.read()
        bands = arr.shape[0]
        rgba = (np.concatenate([arr[:1].repeat(3, 0), arr[1:2]]) if bands == 2 else arr[:4])
        Image.fromarray(np.moveaxis(rgba, 0, -1), "RGBA").save(tmp_png, optimize=False)
        os.replace(tmp_png, out)
    finally:
        for p in (small, cog, tmp_png):
            p.unlink(missing_ok=True)
    minx, miny, maxx, maxy = result.bounds
    to_ll = crs_transformer(WEB_MERCATOR, WGS84)
    w, s = to_ll.transform(minx, miny)
    e, n = to_ll.transform(maxx, maxy)
    if sheet.state in ("uploaded", "control_points"):
        sheet.state = "georeferenced"
    session.flush()
    audit.record(session, user, "sheet.preview", "map_sheet", sheet.id, {"method": result.method})
    return {"bounds": [[s, w], [n, e]], "method": result.method,
            "rmse_m": result.report.get("rmse_m"), "loo_rmse_m": result.report.get("loo_rmse_m")}


def _footprint(sheet: MapSheet, method: str, fit: Fit | None = None) -> Polygon:
    """The sheet's outline on the map, through ``fit`` (the warp's own, neatline correction
    included) or, without one, a points-only fit of ``method``."""
    if fit is None:
        fit = analyse(engine_points(sheet), method, image_size=(sheet.width, sheet.height)).fit
    outline = _mask(sheet) or box(0, 0, sheet.width, sheet.height)
    dense = shapely.segmentize(outline, max(sheet.width, sheet.height) / 100)

    def fwd(c: np.ndarray) -> np.ndarray:
        e, n = fit.forward(c[:, 0], c[:, 1])
        return np.column_stack([e, n])

    geom = shapely.make_valid(shapely.transform(dense, fwd))
    if geom.geom_type != "Polygon":
        geom = geom.convex_hull
    return geom


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def check_publishable(user: User, sheet: MapSheet) -> None:
    """What can be checked at once, before a publish job is queued."""
    require_plan_editor(user, sheet.plan)
    if not sheet.control_points:
        raise GeoreferenceError("place control points before publishing",
                                message_vi="Cần đặt điểm khống chế trước khi công bố.")


def publish(session: Session, user: User, sheet: MapSheet, settings: Settings,
            method: str = "auto",
            progress: Callable[[float], None] | None = None) -> SheetVersion:
    """Warp the full scan to a COG, record version N+1 and make the sheet a public layer.

    This takes minutes for a large sheet: the web app queues it as a job
    (:mod:`planning_gis.workspace.jobs`) and the worker process calls this.
    """
    check_publishable(user, sheet)
    version = (session.scalar(select(func.max(SheetVersion.version))
                              .where(SheetVersion.sheet_id == sheet.id)) or 0) + 1
    name = f"sheet-{sheet.id}-v{version}-{uuid.uuid4().hex[:8]}.tif"
    settings.cogs_dir.mkdir(parents=True, exist_ok=True)
    out = settings.cogs_dir / name
    web = web_cog_path(out)
    try:
        result = warp_scan(scan_file(sheet, settings), engine_points(sheet), crs=STORAGE_SRID,
                           method=chosen_method(sheet, method), out=out, mask=_mask(sheet),
                           settings=settings, progress=progress)
        make_web_cog(out)  # the tile server's grid-aligned copy (tiles.web_cog)
        footprint = _footprint(sheet, result.method, result.fit)
        report = {k: v for k, v in result.report.items() if k != "methods"}
        report["methods"] = {m: {k: v for k, v in s.items() if k != "residuals"}
                             for m, s in result.report.get("methods", {}).items()}
        row = SheetVersion(
            sheet_id=sheet.id, version=version, cog_path=name, method=result.method,
            rmse_m=result.report.get("rmse_m"), loo_rmse_m=result.report.get("loo_rmse_m"),
            points=[{"label": p.label, "pixel_x": p.pixel_x, "pixel_y": p.pixel_y,
                     "easting": p.easting, "northing": p.northing, "enabled": p.enabled}
                    for p in engine_points(sheet)],
            neatline_wkt=_mask(sheet).wkt if sheet.neatline is not None else None,
            report=report, footprint=from_shape(footprint, STORAGE_SRID), created_by=user.id)
        session.add(row)
        _point_sheet_at(sheet, row, footprint)
        session.flush()
        audit.record(session, user, "sheet.publish", "map_sheet", sheet.id,
                     {"version": version, "method": result.method, "rmse_m": row.rmse_m,
                      "loo_rmse_m": row.loo_rmse_m,
                      "check_rmse_m": result.report.get("check_rmse_m"), "cog": name})
    except BaseException:
        out.unlink(missing_ok=True)
        web.unlink(missing_ok=True)
        raise
    _remove_on_rollback(session, [out, web])
    return row


def _point_sheet_at(sheet: MapSheet, v: SheetVersion, footprint: Polygon) -> None:
    sheet.state = "published"
    sheet.cog_path = v.cog_path
    sheet.method = v.method
    sheet.rmse_m = v.rmse_m
    sheet.loo_rmse_m = v.loo_rmse_m
    sheet.check_error_m = (v.report or {}).get("check_rmse_m")
    sheet.footprint = from_shape(footprint, STORAGE_SRID)
    sheet.published_at = _now()
    sheet.current_version = v.version


def unpublish(session: Session, user: User, sheet: MapSheet) -> None:
    """Take the sheet off the public map; its versions stay for restoring."""
    require_plan_editor(user, sheet.plan)
    if sheet.state != "published":
        raise Conflict("the sheet is not published", message_vi="Tờ bản đồ chưa được công bố.")
    sheet.state = "georeferenced"
    sheet.published_at = None
    session.flush()
    audit.record(session, user, "sheet.unpublish", "map_sheet", sheet.id,
                 {"version": sheet.current_version})


def versions(session: Session, sheet: MapSheet) -> list[SheetVersion]:
    return list(session.scalars(select(SheetVersion).where(SheetVersion.sheet_id == sheet.id)
                                .order_by(SheetVersion.version.desc())))


def restore(session: Session, user: User, sheet: MapSheet, version: int,
            settings: Settings) -> SheetVersion:
    """Publish an earlier version again: its COG, fit figures and control points."""
    require_plan_editor(user, sheet.plan)
    v = session.scalars(select(SheetVersion).where(SheetVersion.sheet_id == sheet.id,
                                                   SheetVersion.version == version)).one_or_none()
    if v is None:
        raise NotFound(f"sheet {sheet.id} has no version {version}",
                       message_vi=f"Tờ bản đồ không có phiên bản {version}.")
    if not (settings.cogs_dir / v.cog_path).exists():
        raise NotFound(f"the COG of version {version} is missing",
                       message_vi="Không tìm thấy tệp ảnh của phiên bản này.")
    session.execute(delete(ControlPoint).where(ControlPoint.sheet_id == sheet.id))
    session.expire(sheet, ["control_points"])
    for p in v.points:
        session.add(ControlPoint(sheet_id=sheet.id, label=p["label"], pixel_x=p["pixel_x"],
                                 pixel_y=p["pixel_y"], easting=p["easting"],
                                 northing=p["northing"], enabled=p["enabled"]))
    sheet.neatline = from_shape(shapely.from_wkt(v.neatline_wkt)) if v.neatline_wkt else None
    _point_sheet_at(sheet, v, to_shape(v.footprint))
    session.flush()
    audit.record(session, user, "sheet.restore", "map_sheet", sheet.id, {"version": version})
    return v
