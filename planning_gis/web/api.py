"""Small public JSON endpoints: health, the legend, the published sheets, the first page's zones."""

from __future__ import annotations

import os

from flask import Blueprint, current_app, jsonify, request
from sqlalchemy import text

from layers.editions import EditionCache
from planning_gis import db
from planning_gis.web import params
from planning_gis.web.db import get_conn
from tiles import catalogue

bp = Blueprint("api", __name__, url_prefix="/api")


def _estimate(table: str) -> str:
    """The planner's row count of a big table (kept by ANALYZE), or an exact count when the
    table was never analysed: counting 528,091 zones on every health check took 40 ms."""
    return (f"(SELECT CASE WHEN c.reltuples >= 0 THEN c.reltuples::bigint "
            f"ELSE (SELECT count(*) FROM {table}) END FROM pg_class c "
            f"WHERE c.oid = '{table}'::regclass)")


HEALTH_COUNTS_SQL = text(
    "SELECT (SELECT count(*) FROM plans) AS plans, "
    f"{_estimate('land_use_zones')} AS zones, {_estimate('documents')} AS documents, "
    "(SELECT count(*) FROM map_sheets) AS sheets")


OUTBOX_SQL = text(
    "SELECT count(*) AS queued, coalesce(extract(epoch FROM now() - min(next_attempt_at)), 0)"
    "::int AS oldest_due_s FROM outbox WHERE sent_at IS NULL")


@bp.get("/health")
def health():
    conn = get_conn()
    info = db.versions(conn)
    counts = conn.execute(HEALTH_COUNTS_SQL).one()
    caches = {name.removesuffix("_cache"): cache.stats()
              for name, cache in current_app.extensions.items()
              if isinstance(cache, EditionCache)}
    return jsonify(
        status="ok",
        database=info,
        counts=dict(counts._mapping),
        # this server process's answer caches (each gunicorn worker has its own)
        caches={"process": os.getpid(), **caches},
        # e-mails of the exchange waiting for the SMTP server (the partial index answers it)
        outbox=dict(conn.execute(OUTBOX_SQL).one()._mapping),
        version=current_app.config["VERSION"],
    )


@bp.get("/sheets")
def sheets():
    """Every published sheet with its accuracy, for the public map."""
    params.check_known(request.args, ())
    resp = jsonify(catalogue.published_sheets(get_conn()))
    resp.headers["Cache-Control"] = "public, max-age=10"
    return resp


@bp.get("/legend")
def legend():
    rows = get_conn().execute(
        text("SELECT code, name_vi, name_en, color, category FROM land_use_legend ORDER BY sort_order")
    )
    resp = jsonify([dict(r._mapping) for r in rows])
    resp.headers["Cache-Control"] = current_app.config["SETTINGS"].api_cache_control
    return resp


#: The first page's zones: read through the zones_with_legend view (migration 0008), which
#: holds the one zones-legend-plan join.
ZONES_GEOJSON_SQL = text(
    """
    SELECT json_build_object(
        'type', 'FeatureCollection',
        'features', COALESCE(json_agg(json_build_object(
            'type', 'Feature', 'id', z.id,
            'geometry', ST_AsGeoJSON(ST_Transform(z.geom, 4326), 7)::json,
            'properties', json_build_object(
                'label', z.label, 'function_code', z.function_code, 'name_vi', z.name_vi,
                'name_en', z.name_en, 'color', z.color, 'plan_id', z.plan_id, 'plan', z.plan_name,
                'area_m2', round(z.area_m2::numeric, 1), 'coverage_pct', z.coverage_pct,
                'floors_min', z.floors_min, 'floors_max', z.floors_max, 'far', z.far,
                'population', z.population)
        )), '[]'::json))
    FROM zones_with_legend z
    WHERE z.geom && ST_Transform(ST_MakeEnvelope(:minx, :miny, :maxx, :maxy, 4326), 5897)
    """
)
#: All of Hanoi, lon/lat: the default box of /api/zones.geojson.
HANOI_BBOX = "105.28,20.56,106.02,21.39"


@bp.get("/zones.geojson")
def zones_geojson():
    """All zones in a lon/lat box, for the first page (vector tiles serve the full map)."""
    params.check_known(request.args, {"bbox"})
    minx, miny, maxx, maxy = params.bbox(request.args.get("bbox", HANOI_BBOX))
    doc = get_conn().execute(
        ZONES_GEOJSON_SQL, {"minx": minx, "miny": miny, "maxx": maxx, "maxy": maxy}
    ).scalar_one()
    resp = jsonify(doc)
    resp.mimetype = "application/geo+json"  # what it is, and what /api/openapi.json says
    resp.headers["Cache-Control"] = current_app.config["SETTINGS"].api_cache_control
    return resp
