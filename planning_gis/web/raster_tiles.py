"""Raster tile endpoints: one published sheet, a plan's mosaic of sheets, and their TileJSON.

The sheets, their COGs and the URL templates come from ``tiles/catalogue.py``; "no data in this
tile" is the error map's 204 (as for an empty vector tile), a missing COG its 500 with a reference.
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app, request

from planning_gis.web import db, params
from tiles import catalogue
from tiles.grid import tms_for
from tiles.reader import SheetReader, mosaic_tile, render

bp = Blueprint("raster_tiles", __name__, url_prefix=catalogue.TILES_PREFIX)


def _settings():
    return current_app.config["SETTINGS"]


def _image_response(body: bytes, mime: str) -> Response:
    resp = Response(body, mimetype=mime)
    resp.headers["Cache-Control"] = _settings().tile_cache_control
    return resp


@bp.get(catalogue.route(catalogue.SHEET_TILE))
def sheet_tile(sheet_id: str, z: str, x: str, y: str, ext: str) -> Response:
    """A tile of one published sheet, transparent outside its neatline."""
    settings = _settings()
    tms = tms_for(settings)
    tile = params.tile(tms, z, x, y)
    ext = params.image_format(ext)
    sheet = catalogue.published_sheet(db.get_conn(), params.id_arg(sheet_id, "published sheet"))
    with SheetReader(catalogue.cog_file(sheet.cog_path, settings), tms, settings) as reader:
        image = reader.tile(tile)  # TileOutsideBounds: the error map's 204, as for vector tiles
    body, mime = render(image, ext, settings.png_zlevel)
    return _image_response(body, mime)


@bp.get("/sheets/<sheet_id>/tilejson.json")
def sheet_tilejson(sheet_id: str) -> Response:
    """TileJSON 3.0 for one sheet: URL template, bounds in lon/lat, zoom range from the COG."""
    settings = _settings()
    tms = tms_for(settings)
    params.check_known(request.args, {"format"})
    fmt = params.image_format(request.args.get("format", "png"))
    sheet = catalogue.published_sheet(db.get_conn(), params.id_arg(sheet_id, "published sheet"))
    with SheetReader(catalogue.cog_file(sheet.cog_path, settings), tms, settings) as reader:
        info = reader.info()
    w, s, e, n = info.bounds_lonlat
    doc = {
        "tilejson": "3.0.0",
        "name": sheet.title,
        "description": f"{sheet.title} – {sheet.plan_name}",
        "attribution": "Sở Quy hoạch – Kiến trúc Hà Nội (demo)",
        "scheme": "xyz",
        "tiles": [request.url_root.rstrip("/") + catalogue.sheet_tiles(sheet.id, fmt)],
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


@bp.get(catalogue.route(catalogue.PLAN_MOSAIC_TILE))
def plan_mosaic(plan_id: str, z: str, x: str, y: str, ext: str) -> Response:
    """One tile of every published sheet of a plan, newest sheet on top."""
    settings = _settings()
    tms = tms_for(settings)
    tile = params.tile(tms, z, x, y)
    ext = params.image_format(ext)
    cogs = catalogue.plan_cogs(db.get_conn(), params.id_arg(plan_id, "plan"), settings)
    image = mosaic_tile(cogs, tms, settings, tile)
    body, mime = render(image, ext, settings.png_zlevel)
    return _image_response(body, mime)
