"""What changed: plans compared (``/api/compare``), a zone's history, the zoning of a place on
a past date, the changes at a point for the citizen's panel, and the comparison page
(``/so-sanh``). The work is done by :mod:`planning_gis.history`; this module reads the request
and shapes the answer (JSON, CSV, a standalone HTML map file).
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Response, current_app, jsonify, render_template, request
from sqlalchemy import text

from layers.lookup import governing_key
from planning_gis.crs import STORAGE_SRID, WGS84
from planning_gis.errors import InvalidInput, NotFound
from planning_gis.history import compare as comparing
from planning_gis.history import export, here, map_file, states
from planning_gis.web import db, params

bp = Blueprint("compare", __name__)

COMPARE_PARAMS = frozenset({"a", "b", "date_a", "date_b", "format", "geometry", "sides"})
ZONING_PARAMS = params.POINT_PARAMS | {"date"}


def _cache(resp: Response) -> Response:
    resp.headers["Cache-Control"] = current_app.config["SETTINGS"].api_cache_control
    return resp


def _plans(conn, q: params.CompareQuery) -> tuple[int, int | None]:
    """Plan ``a`` alone, without dates, means: the plan it supersedes against it."""
    if q.plan_b is None and q.date_a is None and q.date_b is None:
        pred = conn.execute(text("SELECT supersedes_id FROM plans WHERE id = :id"),
                            {"id": q.plan_a}).first()
        if pred is None:
            raise NotFound(f"plan {q.plan_a} does not exist",
                           message_vi=f"Không có đồ án quy hoạch số {q.plan_a}.")
        if pred.supersedes_id is None:
            raise InvalidInput(
                f"plan {q.plan_a} supersedes no plan: give b=PLAN_ID, or date_a=YYYY-MM-DD to "
                "compare it with itself on another date",
                message_vi="Đồ án này không thay thế đồ án nào: hãy chọn đồ án thứ hai (b) "
                           "hoặc một ngày (date_a) để so sánh.")
        return pred.supersedes_id, q.plan_a
    return q.plan_a, q.plan_b


def _answer(cmp: comparing.Comparison, q: params.CompareQuery, area: dict | None) -> Response:
    stamp = f"{cmp.a.plan_id}-{cmp.b.plan_id}"
    if q.format == "csv":
        resp = Response(export.comparison_csv(cmp), mimetype="text/csv")
        resp.headers["Content-Disposition"] = f'attachment; filename="so-sanh-{stamp}.csv"'
        return resp
    if q.format == "html":
        resp = Response(map_file.comparison_html(cmp), mimetype="text/html")
        # a file to keep: opened from disk, not inside our pages (whose CSP forbids its script)
        resp.headers["Content-Disposition"] = f'attachment; filename="so-sanh-{stamp}.html"'
        return resp
    doc: dict[str, Any] = export.comparison_dict(cmp, geometry=q.geometry)
    if area is not None:
        doc["query"] = area
    if q.sides:
        doc["sides"] = export.sides_geojson(cmp)
    query = {k: v for k, v in request.args.items() if k not in ("format", "geometry", "sides")}
    doc["links"] = {f: "/api/compare?" + urlencode({**query, "format": f}) for f in ("csv", "html")}
    doc["links"]["page"] = "/so-sanh?" + urlencode(query)
    return jsonify(doc)


def _run(q: params.CompareQuery, area_wkt: str | None, scope: str) -> comparing.Comparison:
    conn = db.get_conn()
    a, b = _plans(conn, q)
    return comparing.compare(conn, a, b, date_a=q.date_a, date_b=q.date_b, area_wkt=area_wkt,
                             scope=scope)


@bp.get("/api/compare")
def compare_get():
    """Two plans, or two dates of one plan, compared over a point or the whole plans."""
    params.check_known(request.args, COMPARE_PARAMS | params.POINT_PARAMS)
    q = params.compare_query(request.args)
    point_args = {k: v for k, v in request.args.items() if k in params.POINT_PARAMS}
    if point_args:
        pt = params.point(point_args)
        cmp = _run(q, f"POINT({pt.easting!r} {pt.northing!r})", "point")
        return _cache(_answer(cmp, q, pt.as_dict()))
    return _cache(_answer(_run(q, None, "plan"), q, None))


@bp.post("/api/compare")
def compare_post():
    """The same over a plot or a drawn area: a GeoJSON polygon in the body (``crs=`` 4326/5897)."""
    params.check_known(request.args, COMPARE_PARAMS | {"crs"})
    q = params.compare_query(request.args)
    plot = params.stored_plot(current_app.config["SETTINGS"],
                              params.plot_crs(request.args, (WGS84, STORAGE_SRID)))
    cmp = _run(q, plot.geom.wkt, "area")
    resp = _answer(cmp, q, {"area_m2": round(plot.area_m2, 1)})
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.get("/api/zones/<zone_id>/history")
def zone_history(zone_id: str):
    """Every recorded change of one zone (also of a zone since deleted), oldest first."""
    params.check_known(request.args, ())
    zid = params.id_arg(zone_id, "zone")
    events = states.zone_history(db.get_conn(), zid)
    if not events:
        exists = db.get_conn().execute(text("SELECT 1 FROM land_use_zones WHERE id = :id"),
                                       {"id": zid}).first()
        if exists is None:
            raise NotFound(f"no zone {zid}", message_vi=f"Không có ô quy hoạch {zid}.")
    return _cache(jsonify({"zone_id": zid, "events": events}))


@bp.get("/api/history/zoning")
def zoning_at():
    """The zoning at a point on a past date: the plans in force then and their zones then."""
    params.check_known(request.args, ZONING_PARAMS)
    on = params.date_arg(request.args, "date")
    pt = params.point({k: v for k, v in request.args.items() if k != "date"})
    conn = db.get_conn()
    wkt = f"POINT({pt.easting!r} {pt.northing!r})"
    sides = [states.load_side(conn, pid, on, wkt) for pid in states.plans_in_force(conn, wkt, on)]
    sides = [s for s in sides if s.zones]
    sides.sort(key=lambda s: governing_key(_Rank(s)), reverse=True)
    legend = comparing.Legend.read(conn)
    plans = [{**s.as_dict(), "governing": i == 0,
              "zones": [export.zone_dict(z, legend) for z in s.zones]}
             for i, s in enumerate(sides)]
    return _cache(jsonify({"query": pt.as_dict(), "date": on.isoformat(), "plans": plans}))


class _Rank:
    """What :func:`layers.lookup.governing_key` reads of a plan."""

    def __init__(self, side: states.PlanSide) -> None:
        self.kind, self.decision_date, self.id = side.kind, side.decision_date, side.plan_id
        self.scale_denominator = None


@bp.get("/api/citizen/changes")
def changes_here():
    """What changed at a point, in words, newest first, each with its comparison's links."""
    params.check_known(request.args, params.POINT_PARAMS)
    pt = params.point(request.args)
    items = here.changes_here(db.get_conn(), pt.easting, pt.northing)
    point_q = {"lon": repr(pt.lon), "lat": repr(pt.lat)}
    for it in items:
        query = {k: str(v) for k, v in it.pop("compare").items()} | point_q
        it["links"] = {"page": "/so-sanh?" + urlencode(query),
                       "api": "/api/compare?" + urlencode(query)}
    return _cache(jsonify({"query": pt.as_dict(), "changes": items}))


@bp.get("/so-sanh")
def compare_page():
    """The comparison view: the two plans side by side or swiped, the changed zones outlined,
    the list of changes. Its script reads the query and asks ``/api/compare``."""
    return render_template("compare.html", today=dt.date.today().isoformat())
