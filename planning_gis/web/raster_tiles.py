"""Raster tile endpoints: one published sheet, a plan's mosaic of sheets, and their TileJSON."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, request, url_for
from sqlalchemy import text

from planning_gis.errors import NotFound
from planning_gis.web import db, params
from tiles.grid import tms_for
from tiles.reader import IMAGE_FORMATS, SheetReader, mosaic_tile, render

bp = Blueprint("raster_tiles", __name__, url_prefix="/tiles")

SHEET_SQL = text(
    "SELECT s.id, s.plan_id, s.title, s.cog_path, p.name AS plan_name"
    " FROM map_sheets s JOIN plans p ON p.id = s.plan_id"
    " WHERE s.id = :id AND s.state = 'published' AND s.cog_path IS NOT NULL"
)
PLAN_SHEETS_SQL = text(
    "SELECT s.id, s.cog_path FROM map_sheets s"
    " WHERE s.plan_id = :plan_id AND s.state = 'published' AND s.cog_path IS NOT NULL"
    " ORDER BY s.published_at DESC NULLS LAST, s.id DESC"
)


def _settings():
    return current_app.config["SETTINGS"]


def cog_file(cog_path: str) -> str:
    """A stored COG path: absolute as written, or relative to the COG folder of the settings."""
    from pathlib import Path

    p = Path(cog_path)
    return str(p if p.is_absolute() else _settings().cogs_dir / p)


def _sheet(sheet_id: str):
    row = db.get_conn().execute(SHEET_SQL, {"id": params.id_arg(sheet_id, "published sheet")}).one_or_none()
    if row is None:
        raise NotFound(
            f"no published map sheet with id {sheet_id}",
            message_vi=f"Không có tờ bản đồ đã công bố mã {sheet_id}",
        )
    return row


def _image_response(body: bytes, mime: str) -> Response:
    resp = Response(body, mimetype=mime)
    resp.headers["Cache-Control"] = _settings().tile_cache_control
    return resp


@bp.get("/sheets/<sheet_id>/<z>/<x>/<y>.<ext>")
def sheet_tile(sheet_id: str, z: str, x: str, y: str, ext: str) -> Response:
    """A tile of one published sheet, transparent outside its neatline."""
    settings = _settings()
    tms = tms_for(settings)
    tile = params.tile(tms, z, x, y)
    if ext not in IMAGE_FORMATS:
        render_fmt_error(ext)
    sheet = _sheet(sheet_id)
    with SheetReader(cog_file(sheet.cog_path), tms, settings) as reader:
        image = reader.tile(tile)  # TileOutsideBounds: the error map's 204, as for vector tiles
    body, mime = render(image, ext, settings.png_zlevel)
    return _image_response(body, mime)


def render_fmt_error(ext: str) -> None:
    from planning_gis.errors import InvalidInput

    raise InvalidInput(
        f"unknown image format {ext!r}: use .png or .webp",
        message_vi=f"Định dạng ảnh không hỗ trợ {ext!r}: dùng .png hoặc .webp",
    )


@bp.get("/sheets/<sheet_id>/tilejson.json")
def sheet_tilejson(sheet_id: str) -> Response:
    """TileJSON 3.0 for one sheet: URL template, bounds in lon/lat, zoom range from the COG."""
    settings = _settings()
    tms = tms_for(settings)
    sheet = _sheet(sheet_id)
    with SheetReader(cog_file(sheet.cog_path), tms, settings) as reader:
        info = reader.info()
    params.check_known(request.args, {"format"})
    fmt = request.args.get("format", "png")
    if fmt not in IMAGE_FORMATS:
        render_fmt_error(fmt)
    template = url_for(
        "raster_tiles.sheet_tile", sheet_id=sheet.id, z=0, x=0, y=0, ext=fmt, _external=True
    ).replace("/0/0/0.", "/{z}/{x}/{y}.")
    w, s, e, n = info.bounds_lonlat
    doc = {
        "tilejson": "3.0.0",
        "name": sheet.title,
        "description": f"{sheet.title} – {sheet.plan_name}",
        "attribution": "Sở Quy hoạch – Kiến trúc Hà Nội (demo)",
        "scheme": "xyz",
        "tiles": [template],
        "minzoom": info.minzoom,
        "maxzoom": info.maxzoom,
        "bounds": [w, s, e, n],
        "center": [(w + e) / 2, (s + n) / 2, info.minzoom],
        "tile_matrix_set": tms.id,
        "plan_id": sheet.plan_id,
    }
    resp = current_app.json.response(doc)
    resp.headers["Cache-Control"] = settings.api_cache_control
    return resp


@bp.get("/plans/<plan_id>/mosaic/<z>/<x>/<y>.<ext>")
def plan_mosaic(plan_id: str, z: str, x: str, y: str, ext: str) -> Response:
    """One tile of every published sheet of a plan, newest sheet on top."""
    settings = _settings()
    tms = tms_for(settings)
    tile = params.tile(tms, z, x, y)
    if ext not in IMAGE_FORMATS:
        render_fmt_error(ext)
    pid = params.id_arg(plan_id, "plan")
    rows = db.get_conn().execute(PLAN_SHEETS_SQL, {"plan_id": pid}).all()
    if not rows:
        raise NotFound(
            f"plan {plan_id} has no published map sheet",
            message_vi=f"Đồ án {plan_id} chưa có tờ bản đồ nào được công bố",
        )
    image = mosaic_tile([cog_file(r.cog_path) for r in rows], tms, settings, tile)
    body, mime = render(image, ext, settings.png_zlevel)
    return _image_response(body, mime)
