"""The citizen's map's own endpoints: point information, the search box, sheets, the PDF sheet.

Tiles, the OGC API and the general look-up belong to the serving blueprints and the document
search to the library; this blueprint adds what only the citizen's page needs, and every bad
input is answered with the project's JSON error (code, detail, detail_vi).
"""

from __future__ import annotations

import datetime as dt
import math
from urllib.parse import urlencode

from flask import Blueprint, Response, current_app, jsonify, request
from sqlalchemy import text

from planning_gis import db
from planning_gis.citizen.find import find
from planning_gis.citizen.info_sheet import build_info_sheet
from planning_gis.citizen.point import point_info
from planning_gis.citizen.snapshot import render_snapshot
from planning_gis.crs import ResolvedPoint, resolve_lonlat, resolve_projected
from planning_gis.errors import InvalidInput

bp = Blueprint("citizen", __name__)


def _settings():
    return current_app.config["SETTINGS"]


def _number(name: str) -> float:
    raw = request.args.get(name, "").strip().replace(",", ".")
    try:
        value = float(raw)
    except ValueError:
        raise InvalidInput(f"{name} must be a number, got {raw!r}",
                           message_vi=f"{name} phải là một số, nhận được {raw!r}") from None
    if not math.isfinite(value):
        raise InvalidInput(f"{name} must be a finite number",
                           message_vi=f"{name} phải là một số hữu hạn")
    return value


def requested_point() -> ResolvedPoint:
    """``lon``/``lat`` (WGS 84) or ``x_north``/``y_east`` (VN-2000, Vietnamese order)."""
    args = request.args
    if "lon" in args or "lat" in args:
        return resolve_lonlat(_number("lon"), _number("lat"))
    if "x_north" in args or "y_east" in args:
        return resolve_projected(_number("x_north"), _number("y_east"))
    raise InvalidInput(
        "give the point as lon=&lat= (WGS 84) or x_north=&y_east= (VN-2000)",
        message_vi="Hãy cho vị trí bằng lon=&lat= (WGS 84) hoặc x_north=&y_east= (VN-2000)",
    )


def share_url(point: ResolvedPoint) -> str:
    """The page's permalink for a point (opens the map there with the panel)."""
    query = urlencode({"z": 17, "c": f"{point.lat:.6f},{point.lon:.6f}",
                       "p": f"{point.lat:.6f},{point.lon:.6f}"})
    return request.host_url.rstrip("/") + "/#" + query


@bp.get("/api/citizen/point")
def point():
    """Everything about one point for the side panel (same data as the PDF)."""
    pt = requested_point()
    info = point_info(db.get_conn(), pt, _settings())
    info["share_url"] = share_url(pt)
    resp = jsonify(info)
    resp.headers["Cache-Control"] = _settings().api_cache_control
    return resp


@bp.get("/api/citizen/find")
def search_box():
    """The one search box: coordinates recognised, anything else searched in the library."""
    limit_raw = request.args.get("limit", "10")
    try:
        limit = int(limit_raw)
    except ValueError:
        raise InvalidInput("limit must be a whole number",
                           message_vi="limit phải là số nguyên") from None
    resp = jsonify(find(db.get_conn(), request.args.get("q"), limit=limit))
    resp.headers["Cache-Control"] = _settings().api_cache_control
    return resp


SHEETS_SQL = text(
    """
    SELECT s.id, s.title, s.plan_id, p.name AS plan_name, s.method,
           coalesce(s.check_error_m, s.loo_rmse_m, s.rmse_m) AS accuracy_m,
           ST_AsGeoJSON(ST_Transform(ST_Envelope(s.footprint), 4326), 6)::json AS bbox
      FROM map_sheets s JOIN plans p ON p.id = s.plan_id
     WHERE s.state = 'published' AND s.cog_path IS NOT NULL
     ORDER BY p.name, s.title
    """
)


@bp.get("/api/citizen/sheets")
def sheets():
    """The published scanned sheets the page can lay over the map (raster tiles per sheet)."""
    rows = db.get_conn().execute(SHEETS_SQL)
    out = [{**dict(r._mapping), "tiles": f"/tiles/sheets/{r.id}/{{z}}/{{x}}/{{y}}.png",
            "tilejson": f"/tiles/sheets/{r.id}/tilejson.json"} for r in rows]
    resp = jsonify(out)
    resp.headers["Cache-Control"] = _settings().api_cache_control
    return resp


@bp.get("/api/info-sheet.pdf")
def info_sheet():
    """The printable planning information sheet for a point (a PDF, drawn server-side)."""
    settings = _settings()
    pt = requested_point()
    conn = db.get_conn()
    info = point_info(conn, pt, settings)
    plan_ids = [p["id"] for p in info["plans"]]
    png = render_snapshot(conn, pt.easting, pt.northing, plan_ids, settings)
    body = build_info_sheet(info, png, settings, share_url=share_url(pt))
    resp = Response(body, mimetype="application/pdf")
    stamp = dt.date.today().strftime("%Y%m%d")
    resp.headers["Content-Disposition"] = (
        f'inline; filename="phieu-thong-tin-quy-hoach-{stamp}.pdf"')
    resp.headers["Cache-Control"] = "no-store"
    return resp
