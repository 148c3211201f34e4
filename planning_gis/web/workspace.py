"""The workspace blueprint under ``/quan-tri``: pages for planners, a JSON API for the editor,
and the old public sheet page ``/to-ban-do`` (the list of published sheets is the public API's
``/api/sheets``).

Every state-changing request needs the session's CSRF token; every change is written to the
audit log in the same transaction. Publishing (minutes for a large sheet) is queued as a job for
the worker process and answered with 202 and the job's URL, which the editor page polls; the
warp preview (a reduced copy of the scan, about a second) still runs in the request.
"""

from __future__ import annotations

import math
import tempfile
import unicodedata
from pathlib import Path
from typing import Any

from flask import (
    Blueprint,
    Response,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from geoalchemy2.shape import to_shape
from rio_tiler.errors import TileOutsideBounds as RioOutside
from rio_tiler.io import ImageReader
from rio_tiler.io.rasterio import LocalTileMatrixSet
from sqlalchemy import select

from planning_gis.accounts import audit
from planning_gis.accounts.users import can_edit_plan
from planning_gis.crs import STORAGE_SRID, vn2000_to_lonlat
from planning_gis.errors import InvalidInput, NotFound, TooLarge, ZonesRejected
from planning_gis.models import PLAN_KINDS, PLAN_STATUSES, MapSheet, Plan
from planning_gis.settings import Settings
from planning_gis.web import db, params
from planning_gis.web.accounts import (
    current_user,
    get_session,
    login_required,
    role_required,
    staff_blueprint,
)
from planning_gis.web.errors import status_for
from planning_gis.workspace import jobs, sheets, uploads
from planning_gis.workspace import plans as plan_forms
from tiles import catalogue

bp = staff_blueprint(Blueprint("workspace", __name__, url_prefix="/quan-tri"))
public = Blueprint("sheets_public", __name__)


def _settings() -> Settings:
    return current_app.config["SETTINGS"]


def _json_body() -> dict[str, Any]:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise InvalidInput("the request body must be a JSON object",
                           message_vi="Dữ liệu gửi lên phải là một đối tượng JSON.")
    return data


# --- pages --------------------------------------------------------------------------------

@bp.get("/")
@login_required
def home():
    """The plans this user may work on, with their sheets."""
    s = get_session()
    user = current_user()
    q = select(Plan).order_by(Plan.name)
    if user.role != "admin":
        q = q.where(Plan.organisation_id == user.organisation_id)
    plans = list(s.scalars(q))
    return render_template("workspace/home.html", plans=plans, kinds=PLAN_KINDS,
                           statuses=PLAN_STATUSES, state_labels=sheets.STATE_LABELS)


def _plan(plan_id: str) -> Plan:
    """The plan a ``/do-an/<plan_id>`` route names, for a user who may edit it (else 404, 403)."""
    return sheets.get_plan(get_session(), params.id_arg(plan_id, "plan"), current_user())


def _to_plan_page(plan: Plan) -> Response:
    """Back to the plan page after one of its forms (303: a reload does not post again)."""
    return redirect(url_for("workspace.plan_page", plan_id=plan.id), 303)


@bp.get("/do-an/<plan_id>")
@login_required
def plan_page(plan_id: str):
    return _plan_page(_plan(plan_id))


def _plan_page(plan, upload_error: str | None = None, upload_title: str = "",
               status: int = 200) -> Response:
    """The plan page; after a refused upload, with the reason beside the form and its title
    kept (the old full-page "Lỗi 400" led away to the citizen map)."""
    s = get_session()
    html = render_template("workspace/plan.html", plan=plan, kinds=PLAN_KINDS,
                           statuses=PLAN_STATUSES, state_labels=sheets.STATE_LABELS,
                           documents=plan_forms.documents_of(s, plan),
                           doc_types=plan_forms.DOCUMENT_TYPES,
                           other_documents=plan_forms.linkable_documents(s, plan,
                                                                         current_user()),
                           upload_error=upload_error, upload_title=upload_title)
    return Response(html, status=status, mimetype="text/html")


@bp.post("/do-an/<plan_id>/to-ban-do")
@login_required
def upload(plan_id: str):
    """A scan from the upload form (multipart), streamed to storage.

    A refused scan (bad file, too large, unsafe) comes back as the plan page with the reason in
    Vietnamese beside the form; API clients (``Accept: application/json``) get the JSON error.
    """
    s = get_session()
    user = current_user()
    plan = _plan(plan_id)
    wants_json = request.accept_mimetypes.best == "application/json"
    title = request.form.get("title", "")
    try:
        f = request.files.get("scan")
        if f is None or not f.filename:
            raise InvalidInput("choose a scan file to upload", message_vi="Hãy chọn tệp ảnh quét.")
        name = unicodedata.normalize("NFC", Path(f.filename).name)
        sheet = sheets.create_sheet(s, user, plan, f.stream, name, title, _settings(),
                                    declared_size=f.content_length or None)
    except (InvalidInput, TooLarge) as exc:
        if wants_json:
            raise
        s.rollback()
        return _plan_page(plan, exc.message_vi, title, status_for(exc))
    s.commit()
    if wants_json:
        return jsonify(id=sheet.id, url=url_for("workspace.editor", sheet_id=sheet.id)), 201
    return redirect(url_for("workspace.editor", sheet_id=sheet.id), 303)


@bp.get("/to-ban-do/<sheet_id>")
@login_required
def editor(sheet_id: str):
    s = get_session()
    sheet = sheets.get_sheet(s, params.id_arg(sheet_id, "sheet"), current_user())
    plan_bounds = None
    if sheet.plan.geom is not None:
        from planning_gis.crs import transformer

        minx, miny, maxx, maxy = to_shape(sheet.plan.geom).bounds
        t = transformer(STORAGE_SRID, 4326)
        w, so = t.transform(minx, miny)
        e, n = t.transform(maxx, maxy)
        plan_bounds = [w, so, e, n]
    from planning_gis.crs import local_vn2000_grid

    vn_grid = local_vn2000_grid(tuple(plan_bounds or (105.78, 21.0, 105.86, 21.06)))
    return render_template("workspace/editor.html", sheet=sheet, plan=sheet.plan,
                           state_labels=sheets.STATE_LABELS, plan_bounds=plan_bounds,
                           vn_grid=vn_grid,
                           maxzoom=LocalTileMatrixSet(sheet.width, sheet.height).maxzoom)


@bp.get("/to-ban-do/<sheet_id>/anh/<z>/<x>/<y>.png")
@login_required
def scan_tile(sheet_id: str, z: str, x: str, y: str):
    """A tile of the unwarped scan in pixel space (Leaflet CRS.Simple), from its preview COG."""
    s = get_session()
    sheet = sheets.get_sheet(s, params.id_arg(sheet_id, "sheet"), current_user())
    path = uploads.preview_path(_settings(), sheet.scan_sha256)
    zi, xi, yi = params.tile_numbers(z, x, y)
    try:
        with ImageReader(str(path)) as reader:
            if zi < 0 or zi > reader.maxzoom:
                return Response(status=204)
            img = reader.tile(xi, yi, zi)
    except RioOutside:
        return Response(status=204)
    resp = Response(img.render(img_format="PNG"), mimetype="image/png")
    return resp


@bp.get("/to-ban-do/<sheet_id>/thumb.png")
@login_required
def thumbnail(sheet_id: str):
    s = get_session()
    sheet = sheets.get_sheet(s, params.id_arg(sheet_id, "sheet"), current_user(), edit=False)
    if not can_edit_plan(current_user(), sheet.plan):
        sheets.require_plan_editor(current_user(), sheet.plan)
    return send_file(uploads.thumb_path(_settings(), sheet.scan_sha256), mimetype="image/png")


@bp.get("/to-ban-do/<sheet_id>/xem-truoc.png")
@login_required
def preview_png(sheet_id: str):
    s = get_session()
    sheet = sheets.get_sheet(s, params.id_arg(sheet_id, "sheet"), current_user())
    path = sheets.preview_file(_settings(), sheet)
    if not path.exists():
        raise NotFound("no warp preview yet", message_vi="Chưa có ảnh xem trước.")
    return send_file(path, mimetype="image/png", max_age=0)


@bp.get("/nhat-ky")
@role_required("admin")
def audit_page():
    s = get_session()
    entries = audit.recent(s, limit=500)
    return render_template("workspace/audit.html", entries=entries)


# --- JSON API of the editor ---------------------------------------------------------------

def _sheet_json(sheet: MapSheet, report: dict[str, Any] | None = None) -> dict[str, Any]:
    pts = []
    for cp in sheet.control_points:
        lon, lat = vn2000_to_lonlat(cp.easting, cp.northing)
        pts.append({"id": cp.id, "label": cp.label, "pixel_x": cp.pixel_x, "pixel_y": cp.pixel_y,
                    "easting": round(cp.easting, 3), "northing": round(cp.northing, 3),
                    "x_north": round(cp.northing, 3), "y_east": round(cp.easting, 3),
                    "lon": lon, "lat": lat, "enabled": cp.enabled,
                    "residual_m": cp.residual_m, "loo_error_m": cp.loo_error_m})
    return {"id": sheet.id, "state": sheet.state, "state_vi": sheets.STATE_LABELS[sheet.state],
            "width": sheet.width, "height": sheet.height, "points": pts,
            "neatline": sheets.neatline_coords(sheet), "method": sheet.method,
            "method_choice": sheet.method_choice or "auto",
            "rmse_m": sheet.rmse_m, "loo_rmse_m": sheet.loo_rmse_m,
            "current_version": sheet.current_version, "report": report}


def _answer(sheet: MapSheet, status: int = 200, **extra: Any) -> Response:
    """The editor's answer to every change: the sheet with its residual report (the change
    committed with it), and what a call adds (``extra``, e.g. a detection's summary)."""
    s = get_session()
    report = sheets.residual_report(s, sheet)
    s.commit()
    resp = jsonify({**_sheet_json(sheet, report), **extra})
    resp.status_code = status
    return resp


def _api_sheet(sheet_id: str) -> MapSheet:
    """The sheet of an editor call, locked for the request's transaction (edits wait in line)."""
    return sheets.get_sheet(get_session(), params.id_arg(sheet_id, "sheet"), current_user(),
                            lock_timeout_ms=_settings().edit_lock_timeout_ms)


@bp.get("/api/to-ban-do/<sheet_id>")
@login_required
def api_sheet(sheet_id: str):
    return _answer(_api_sheet(sheet_id))


@bp.post("/api/to-ban-do/<sheet_id>/diem")
@login_required
def api_add_point(sheet_id: str):
    sheet = _api_sheet(sheet_id)
    sheets.add_point(get_session(), current_user(), sheet, _json_body())
    return _answer(sheet, 201)


@bp.put("/api/to-ban-do/<sheet_id>/diem")
@login_required
def api_replace_points(sheet_id: str):
    """The whole table put back ({"points": [...]}): the editor's undo of an import or a
    "Tìm điểm khống chế", one step."""
    sheet = _api_sheet(sheet_id)
    sheets.replace_points(get_session(), current_user(), sheet, _json_body().get("points"))
    return _answer(sheet)


@bp.route("/api/to-ban-do/<sheet_id>/diem/<point_id>", methods=["PATCH", "DELETE"])
@login_required
def api_point(sheet_id: str, point_id: str):
    sheet = _api_sheet(sheet_id)
    if request.method == "DELETE":
        sheets.delete_point(get_session(), current_user(), sheet, params.id_arg(point_id, "point"))
    else:
        sheets.update_point(get_session(), current_user(), sheet, params.id_arg(point_id, "point"),
                            _json_body())
    return _answer(sheet)


@bp.post("/api/to-ban-do/<sheet_id>/nhap-diem")
@login_required
def api_import_points(sheet_id: str):
    sheet = _api_sheet(sheet_id)
    f = request.files.get("file")
    if f is None or not f.filename:
        raise InvalidInput("choose a .points or CSV file", message_vi="Hãy chọn tệp .points hoặc CSV.")
    suffix = Path(f.filename).suffix.lower()
    if suffix not in (".points", ".csv", ".txt"):
        raise InvalidInput("control points come as .points or .csv files",
                           message_vi="Điểm khống chế phải là tệp .points hoặc .csv.")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"points{suffix}"
        f.save(path)
        sheets.import_points(get_session(), current_user(), sheet, path,
                             replace_all=request.form.get("replace") == "1",
                             crs=request.form.get("crs") or None)
    return _answer(sheet)


@bp.post("/api/to-ban-do/<sheet_id>/tim-diem")
@login_required
def api_detect_points(sheet_id: str):
    """"Tìm điểm khống chế": control points from the printed grid, added for review."""
    sheet = _api_sheet(sheet_id)
    found = sheets.detect_points(get_session(), current_user(), sheet, _settings())
    return _answer(sheet, detection=found)


@bp.get("/api/to-ban-do/<sheet_id>/diem.<fmt>")
@login_required
def api_export_points(sheet_id: str, fmt: str):
    sheet = _api_sheet(sheet_id)
    if fmt not in ("points", "csv"):
        raise NotFound(f"control points are exported as .points or .csv, not .{fmt}",
                       message_vi="Điểm khống chế chỉ xuất ra tệp .points hoặc .csv.")
    with tempfile.TemporaryDirectory() as tmp:
        path = sheets.export_points(sheet, fmt, Path(tmp))
        body = path.read_bytes()
    resp = Response(body, mimetype="text/csv" if fmt == "csv" else "text/plain")
    resp.headers["Content-Disposition"] = f'attachment; filename="sheet-{sheet.id}.{fmt}"'
    return resp


@bp.post("/api/to-ban-do/<sheet_id>/xoay")
@login_required
def api_rotate(sheet_id: str):
    sheet = _api_sheet(sheet_id)
    data = _json_body()
    turns = params.int_arg(data, "quarter_turns", 0, -1000, 1000) or 0
    sheets.rotate_sheet(get_session(), current_user(), sheet, turns, bool(data.get("flip")),
                        _settings())
    return _answer(sheet)


@bp.put("/api/to-ban-do/<sheet_id>/khung")
@login_required
def api_neatline(sheet_id: str):
    sheet = _api_sheet(sheet_id)
    sheets.set_neatline(get_session(), current_user(), sheet, _json_body().get("coordinates"))
    return _answer(sheet)


@bp.post("/api/to-ban-do/<sheet_id>/xem-truoc")
@login_required
def api_preview(sheet_id: str):
    s = get_session()
    sheet = _api_sheet(sheet_id)
    info = sheets.preview_warp(s, current_user(), sheet, _settings())
    s.commit()
    info["url"] = url_for("workspace.preview_png", sheet_id=sheet.id)
    return jsonify(info)


@bp.post("/api/to-ban-do/<sheet_id>/xoa")
@login_required
def api_delete_sheet(sheet_id: str):
    """Delete a draft sheet (never published); 409 for one with published versions."""
    s = get_session()
    sheet = _api_sheet(sheet_id)
    plan_id = sheets.delete_draft(s, current_user(), sheet, _settings())
    s.commit()
    return jsonify(deleted=int(sheet_id), url=url_for("workspace.plan_page", plan_id=plan_id))


@bp.post("/api/to-ban-do/<sheet_id>/phep-nan")
@login_required
def api_method(sheet_id: str):
    """Save the planner's choice of transformation ({"method": "poly2"}, or "auto")."""
    sheet = _api_sheet(sheet_id)
    method = _json_body().get("method")
    if method is not None and not isinstance(method, str):
        raise InvalidInput("method must be a text", message_vi="Phép nắn phải là một chuỗi.")
    sheets.set_method(get_session(), current_user(), sheet, method)
    return _answer(sheet)


@bp.post("/api/to-ban-do/<sheet_id>/cong-bo")
@login_required
def api_publish(sheet_id: str):
    """Queue the publish (a large sheet takes minutes): 202 and the job's URL to poll."""
    s = get_session()
    sheet = _api_sheet(sheet_id)
    job = jobs.enqueue_publish(s, current_user(), sheet)
    s.commit()
    url = url_for("workspace.api_job", job_id=job.id)
    resp = jsonify(job=jobs.job_json(job), url=url)
    resp.status_code = 202
    resp.headers["Location"] = url
    return resp


@bp.get("/api/cong-viec/<job_id>")
@login_required
def api_job(job_id: str):
    """A background job: state (queued, running, done, failed), progress, result or error."""
    job = jobs.get_job(get_session(), params.id_arg(job_id, "job"), current_user())
    return jsonify(jobs.job_json(job))


@bp.post("/api/to-ban-do/<sheet_id>/an")
@login_required
def api_unpublish(sheet_id: str):
    s = get_session()
    sheet = _api_sheet(sheet_id)
    sheets.unpublish(s, current_user(), sheet)
    s.commit()
    return jsonify(state=sheet.state)


@bp.post("/api/to-ban-do/<sheet_id>/khoi-phuc/<version>")
@login_required
def api_restore(sheet_id: str, version: str):
    s = get_session()
    sheet = _api_sheet(sheet_id)
    v = sheets.restore(s, current_user(), sheet, params.id_arg(version, "version"), _settings())
    s.commit()
    return jsonify(version=v.version, state=sheet.state)


@bp.get("/api/to-ban-do/<sheet_id>/phien-ban")
@login_required
def api_versions(sheet_id: str):
    s = get_session()
    sheet = _api_sheet(sheet_id)
    return jsonify([{"version": v.version, "method": v.method, "rmse_m": v.rmse_m,
                     "loo_rmse_m": v.loo_rmse_m, "created_at": v.created_at.isoformat(),
                     "current": v.version == sheet.current_version and sheet.state == "published"}
                    for v in sheets.versions(s, sheet)])


# --- public: published sheets and their accuracy ------------------------------------------

@public.get("/to-ban-do")
def published_page():
    """The old public sheet page: the citizen's map with a published sheet laid over it.

    ``?to=<id>`` chooses the sheet (else the newest); the map opens on the sheet's extent.
    """
    params.check_known(request.args, {"to"})
    listed = catalogue.published_sheets(db.get_conn())
    raw = request.args.get("to")
    if raw is None:
        chosen = listed[0] if listed else None
    else:
        wanted = params.id_arg(raw, "to")
        chosen = next((s for s in listed if s["id"] == wanted), None)
        if chosen is None:
            raise NotFound(f"no published sheet {wanted}",
                           message_vi=f"Không có tờ bản đồ đã công bố số {wanted}")
    if chosen is None or chosen["bounds"] is None:
        return redirect("/", code=302)
    w, s_, e, n = chosen["bounds"]
    zoom = max(12, min(18, int(math.log2(360 / max(e - w, 1e-6))) + 1))
    return redirect(f"/#z={zoom}&c={(s_ + n) / 2:.5f},{(w + e) / 2:.5f}&s={chosen['id']}&o=80",
                    code=302)


def footprint_lonlat(sheet: MapSheet) -> list[list[float]] | None:
    if sheet.footprint is None:
        return None
    from planning_gis.crs import transformer

    t = transformer(STORAGE_SRID, 4326)
    return [[t.transform(x, y)[1], t.transform(x, y)[0]]
            for x, y in to_shape(sheet.footprint).exterior.coords]


def init_app(app) -> None:  # noqa: ANN001
    app.register_blueprint(bp)
    app.register_blueprint(public)


# --- plans and documents ------------------------------------------------------------------

@bp.route("/do-an/moi", methods=["GET", "POST"])
@login_required
def plan_new():
    if request.method == "POST":
        s = get_session()
        plan = plan_forms.save_plan(s, current_user(), request.form.to_dict())
        s.commit()
        return _to_plan_page(plan)
    return render_template("workspace/plan_form.html", plan=None, kinds=PLAN_KINDS,
                           statuses=PLAN_STATUSES)


@bp.post("/do-an/<plan_id>/sua")
@login_required
def plan_edit(plan_id: str):
    s = get_session()
    plan = _plan(plan_id)
    plan_forms.save_plan(s, current_user(), request.form.to_dict(), plan)
    s.commit()
    return _to_plan_page(plan)


@bp.post("/do-an/<plan_id>/van-ban")
@login_required
def plan_attach(plan_id: str):
    s = get_session()
    plan = _plan(plan_id)
    f = request.files.get("pdf")
    if f is None or not f.filename:
        raise InvalidInput("choose a PDF file", message_vi="Hãy chọn tệp PDF.")
    form = request.form.to_dict()
    form.setdefault("file_name", Path(f.filename).name)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "upload.pdf"
        f.save(path)
        plan_forms.attach_pdf(s, current_user(), plan, path, form, _settings())
        s.commit()
    return _to_plan_page(plan)


@bp.post("/do-an/<plan_id>/lien-ket")
@login_required
def plan_link(plan_id: str):
    s = get_session()
    plan = _plan(plan_id)
    plan_forms.link_document(s, current_user(), plan,
                             params.id_arg(request.form.get("document_id", ""), "document"))
    s.commit()
    return _to_plan_page(plan)


ZONE_FIELDS = [("label", "Ký hiệu ô đất"), ("function_code", "Mã chức năng"),
               ("coverage_pct", "Mật độ xây dựng (%)"), ("floors_min", "Tầng cao tối thiểu"),
               ("floors_max", "Tầng cao tối đa"), ("far", "Hệ số sử dụng đất"),
               ("population", "Dân số")]


@bp.route("/do-an/<plan_id>/o-quy-hoach", methods=["GET", "POST"])
@login_required
def zones_form(plan_id: str):
    """Zones from a GIS file: check (report, and when the file is a new version of the plan's
    zones, what it changes against the version before), download that report as a map file,
    or import (all or nothing; the history keeps what a new version replaces)."""
    from planning_gis.dates import parse_date
    from planning_gis.errors import PlanningError
    from planning_gis.history import map_file, versions
    from planning_gis.history.context import change_context
    from planning_gis.history.export import change_dict, to_wgs84
    from planning_gis.safe_files import ZoneFileLimits
    from planning_gis.workspace.uploads import save_limited
    from planning_gis.zones_import import check_zones, import_zones

    s = get_session()
    user = current_user()
    plan = _plan(plan_id)
    report = error = imported = comparison = None
    status = 200
    if request.method == "POST":
        f = request.files.get("file")
        if f is None or not f.filename:
            raise InvalidInput("choose a GIS file", message_vi="Hãy chọn tệp GIS.")
        display = unicodedata.normalize("NFC", Path(f.filename).name)
        suffix = Path(display).suffix.lower()
        if suffix not in (".gpkg", ".geojson", ".json", ".dxf", ".zip", ".shp"):
            raise InvalidInput(f"{display}: not a GeoPackage, GeoJSON, DXF or zipped Shapefile",
                               message_vi="Tệp phải là GeoPackage, GeoJSON, DXF hoặc Shapefile nén .zip.")
        mapping = {k: request.form[f"map_{k}"].strip() for k, _ in ZONE_FIELDS
                   if request.form.get(f"map_{k}", "").strip()}
        replace = request.form.get("replace") == "1"
        decision = (request.form.get("decision") or "").strip() or None
        effective = parse_date(request.form.get("effective_on"), "effective_on")
        opts = dict(mapping=mapping, encoding=request.form.get("encoding") or None,
                    repair=request.form.get("repair") == "1", display_name=display)
        crs = request.form.get("crs") or None
        action = request.form.get("action")
        with tempfile.TemporaryDirectory(prefix="zones-upload-") as tmp:
            path = Path(tmp) / f"upload{suffix}"
            try:
                save_limited(f.stream, path, ZoneFileLimits().max_bytes, display)
                rows, report = check_zones(s, path, plan.id, crs, replace=replace, **opts)
                cmp = versions.preview(s, plan.id, rows, replace=replace, decision=decision,
                                       effective_on=effective)
                if cmp is not None:
                    comparison = {"before": cmp.a.name, "counts": cmp.counts(),
                                  "changes": [change_dict(c, cmp.legend) for c in cmp.changes]}
                s.rollback()
                if action == "report":
                    rejected = [(to_wgs84(report.shapes[p.fid]), p.message_vi)
                                for p in report.rejected if p.fid in report.shapes]
                    resp = Response(map_file.import_report_html(
                        plan.name, display, report.as_dict(), cmp, rejected), mimetype="text/html")
                    resp.headers["Content-Disposition"] = (
                        f'attachment; filename="bao-cao-nhap-o-{plan.id}.html"')
                    return resp
                if action == "import" and report.ok:
                    change_context(s, decision=decision, effective_on=effective,
                                   user_id=user.id, user_email=user.email,
                                   note=f"nhập ô quy hoạch từ {display}")
                    result = import_zones(s, path, plan.id, crs, replace=replace, **opts)
                    report = result.report
                    imported = result.inserted
                    audit.record(s, user, "zones.import", "plan", plan.id,
                                 {"file": display, "inserted": imported, "replace": replace,
                                  "decision": decision, "problems": len(report.problems)})
                    s.commit()
            except PlanningError as exc:
                s.rollback()
                error, status = exc.message_vi, status_for(exc)
        if report is not None and not report.ok and error is None:
            status = status_for(ZonesRejected)
    return render_template("workspace/zones.html", plan=plan, fields=ZONE_FIELDS, report=report,
                           error=error, imported=imported, form=request.form,
                           comparison=comparison), status
