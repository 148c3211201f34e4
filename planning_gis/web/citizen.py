"""The citizen's map's own endpoints: the search box, the place's context, the PDF sheet.

"What is planned here" is ``/api/lookup`` (the serving layer), the published sheets are the
public API's ``/api/sheets``, tiles, the OGC API and the document search have their own
blueprints; this blueprint adds only what the citizen's page needs besides, and every bad input
is answered with the project's JSON error (code, detail, detail_vi).
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Response, current_app, jsonify, request

from planning_gis.citizen.find import find
from planning_gis.citizen.info_sheet import build_info_sheet
from planning_gis.citizen.place import place_context, plot_sheet, point_sheet
from planning_gis.citizen.red_line import plot_answer, point_answer
from planning_gis.citizen.snapshot import render_snapshot
from planning_gis.crs import (
    STORAGE_SRID,
    WGS84,
    ResolvedPoint,
    resolve_lonlat,
    vn2000_to_lonlat,
)
from planning_gis.history.here import changes_here, changes_in
from planning_gis.web import db, params

bp = Blueprint("citizen", __name__)


def _settings():
    return current_app.config["SETTINGS"]


#: The parameters of each endpoint (anything else is a 400 naming it).
FIND_PARAMS = frozenset({"q", "limit"})
PLOT_PARAMS = frozenset({"crs"})


def requested_point() -> ResolvedPoint:
    """The point of a GET: ``lon``/``lat`` or ``x_north``/``y_east``, nothing else."""
    params.check_known(request.args, params.POINT_PARAMS)
    return params.point(request.args)


def share_url(point: ResolvedPoint) -> str:
    """The page's permalink for a point (opens the map there with the panel)."""
    # The point exactly as asked (repr keeps every digit): a rounded one moves the VN-2000 shown.
    query = urlencode({"z": 17, "c": f"{point.lat:.6f},{point.lon:.6f}",
                       "p": f"{point.lat!r},{point.lon!r}"})
    return request.host_url.rstrip("/") + "/#" + query


@bp.get("/api/citizen/place")
def place():
    """What the panel shows besides the look-up: administrative units and the data's date."""
    pt = requested_point()
    doc = {"point": pt.as_dict(), **place_context(db.get_conn(), pt.easting, pt.northing),
           "share_url": share_url(pt)}
    resp = jsonify(doc)
    resp.headers["Cache-Control"] = _settings().api_cache_control
    return resp


@bp.get("/api/citizen/red-line")
def red_line_point():
    """Is this point inside a planned road's reserve? The nearest road, its width and plan."""
    pt = requested_point()
    doc = {"query": pt.as_dict(), **point_answer(db.get_conn(), pt.easting, pt.northing)}
    resp = jsonify(doc)
    resp.headers["Cache-Control"] = _settings().api_cache_control
    return resp


@bp.post("/api/citizen/red-line")
def red_line_plot():
    """How much of a plot (GeoJSON, as ``POST /api/lookup`` reads it) the road reserves take."""
    settings = _settings()
    params.check_known(request.args, PLOT_PARAMS)
    plot = params.stored_plot(settings, params.plot_crs(request.args, (WGS84, STORAGE_SRID)))
    c = plot.geom.centroid
    centre = resolve_lonlat(*vn2000_to_lonlat(c.x, c.y))
    doc = {"query": centre.as_dict(),
           **plot_answer(db.get_conn(), plot.geom.wkt, plot.area_m2)}
    resp = jsonify(doc)
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.get("/api/citizen/find")
def search_box():
    """The one search box: coordinates recognised, anything else searched in the library."""
    params.check_known(request.args, FIND_PARAMS)
    limit = params.int_arg(request.args, "limit", 10, 1, 100)
    resp = jsonify(find(db.get_conn(), request.args.get("q"), limit=limit))
    resp.headers["Cache-Control"] = _settings().api_cache_control
    return resp


def _lookup_context() -> dict[str, Any]:
    settings = _settings()
    return {"url_template": settings.document_url_template,
            "base_url": request.host_url.rstrip("/"),
            "documents_per_plan": settings.lookup_documents_per_plan}


def _pdf(body: bytes) -> Response:
    resp = Response(body, mimetype="application/pdf")
    stamp = dt.date.today().strftime("%Y%m%d")
    resp.headers["Content-Disposition"] = (
        f'inline; filename="phieu-thong-tin-quy-hoach-{stamp}.pdf"')
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.get("/api/info-sheet.pdf")
def info_sheet():
    """The printable planning information sheet for a point (a PDF, drawn server-side)."""
    settings = _settings()
    pt = requested_point()
    conn = db.get_conn()
    info = point_sheet(conn, pt, **_lookup_context())
    info["red_line"] = point_answer(conn, pt.easting, pt.northing)
    info["changes"] = changes_here(conn, pt.easting, pt.northing)
    plan_ids = [p["id"] for p in info["plans"]]
    png = render_snapshot(conn, pt.easting, pt.northing, plan_ids, settings)
    return _pdf(build_info_sheet(info, png, settings, share_url=share_url(pt)))


@bp.post("/api/info-sheet.pdf")
def plot_info_sheet():
    """The information sheet for a plot: a GeoJSON polygon (WGS 84, or ``crs=5897``) in the body.

    The polygon is read and checked exactly as ``POST /api/lookup`` reads it; the PDF lists each
    zone's share of the plot in m² and %.
    """
    settings = _settings()
    params.check_known(request.args, PLOT_PARAMS)
    # read and checked exactly as the look-up reads a plot
    plot = params.stored_plot(settings, params.plot_crs(request.args, (WGS84, STORAGE_SRID)))
    return _pdf(plot_sheet_pdf(plot.geom, plot.area_m2))


def plot_sheet_pdf(geom, area: float, sign_off: list[list[str]] | None = None) -> bytes:  # noqa: ANN001
    """The information sheet of a plot in EPSG:5897 (also the answer to a planning-information
    request, then with its sign-off)."""
    settings = _settings()
    c = geom.centroid
    centre = resolve_lonlat(*vn2000_to_lonlat(c.x, c.y))
    conn = db.get_conn()
    info = plot_sheet(conn, geom.wkt, area, centre, **_lookup_context())
    info["red_line"] = plot_answer(conn, geom.wkt, area)
    info["changes"] = changes_in(conn, geom.wkt)
    plan_ids = [p["id"] for p in info["plans"]]
    png = render_snapshot(conn, c.x, c.y, plan_ids, settings, plot=geom)
    return build_info_sheet(info, png, settings, share_url=share_url(centre), sign_off=sign_off)
