"""Vector-tile endpoints: MVT per layer, a TileJSON per layer, and a MapLibre style."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Flask, Response, current_app, request, url_for
from sqlalchemy import text

from layers import registry
from layers.editions import EditionCache, SharedEditionCache, layer_edition
from layers.mvt import get_layer, layer_bounds, render_tile
from layers.tile_cache import CachedTile, encode_tile, tile_from_bytes, tile_to_bytes
from planning_gis.web import db, params
from planning_gis.web.caching import cors_headers
from planning_gis.web.ops import FAST_TILE_ROUTE, ROUTE_KEY
from planning_gis.web.tile_fastpath import EDITION_KEY, CachedTileFastPath, tile_reply
from tiles import catalogue
from tiles.grid import tms_for

bp = Blueprint("vector_tiles", __name__, url_prefix=catalogue.TILES_PREFIX)

def _settings():
    return current_app.config["SETTINGS"]


@bp.get(catalogue.route(catalogue.VECTOR_TILE))
def tile(layer: str, z: str, x: str, y: str) -> Response:
    """One MVT tile; 204 when the layer has nothing there (MapLibre draws an empty tile).

    Rendered tiles are kept under the layer's edition (see layers/tile_cache.py): a repeat costs
    one indexed row read instead of the ST_AsMVT query, and no hashing or compression.
    """
    settings = _settings()
    lyr = get_layer(layer)
    tms = tms_for(settings)
    t = params.tile(tms, z, x, y)
    conn = db.get_conn()
    cache: EditionCache = current_app.extensions["mvt_cache"]
    edition = request.environ.get(EDITION_KEY) if cache.max_bytes else None
    asked = edition is not None  # the fast path looked the tile up (and counted the miss)
    if edition is None and cache.max_bytes:
        edition = layer_edition(conn, lyr.edition or lyr.id)
    key = (lyr.id, tms.id, t.z, t.x, t.y, edition)
    made: list[bool] = []  # this request rendered the tile

    def render() -> tuple[CachedTile, int | None]:
        made.append(True)
        rendered = encode_tile(render_tile(conn, lyr, tms, t, settings), settings.gzip_level,
                               settings.gzip_min_bytes)
        return rendered, rendered.size

    if edition is None:  # the cache is off, or the layer's editions are not tracked
        cached, _size = render()
    else:
        # A storm on a cold tile renders it once for the server: nginx sends a tile's URL to
        # one node and holds the storm for a few ms only (planning_gis/cluster.py); the
        # requests that reach the node meanwhile wait here for the one that renders.
        cached = cache.get_or_make(key, render, asked=asked)
        if not made:  # rendered meanwhile by another request: answered as kept
            request.environ[ROUTE_KEY] = FAST_TILE_ROUTE
    return _tile_response(cached, settings.tile_cache_control)


def _tile_response(cached: CachedTile, cache_control: str) -> Response:
    """The tile as the client accepts it, built by the fast path's own builder.

    The 304 is left to caching.py's one rule for every conditional GET (it sees the ETag the
    builder set), so the builder is given no If-None-Match here.
    """
    status, headers, body = tile_reply(cached, request.headers.get("Accept-Encoding", ""), "",
                                       cache_control, cors_headers(_settings()))
    return Response(body, status=status, headers=headers)


def init_app(app: Flask) -> None:
    """Give the app its own tile cache (apps over different databases must not share one),
    shared by the server's worker processes when it gives them a folder
    (``PLANNING_SHARED_CACHE_DIR``): a tile rendered by one worker is kept for all of them, and
    rendered once for a storm spread over them."""
    settings = app.config["SETTINGS"]
    size = settings.mvt_cache_mb * 1024 * 1024
    if size and settings.shared_cache_dir:
        app.extensions["mvt_cache"] = SharedEditionCache(
            size, str(Path(settings.shared_cache_dir) / "vector-tiles"), tile_to_bytes,
            tile_from_bytes)
    else:
        app.extensions["mvt_cache"] = EditionCache(size)
    app.wsgi_app = CachedTileFastPath(app, app.wsgi_app)


def _template(layer: str) -> str:
    return request.url_root.rstrip("/") + catalogue.vector_tiles(layer)


@bp.get("/<layer>/tilejson.json")
def tilejson(layer: str) -> Response:
    """TileJSON 3.0 with the layer's fields, zoom range and bounds from the data."""
    lyr = get_layer(layer)
    w, s, e, n = layer_bounds(db.get_conn(), lyr)
    doc = {
        "tilejson": "3.0.0",
        "name": lyr.id,
        "description": f"{lyr.tile_title_vi or lyr.title_vi} – {lyr.tile_title or lyr.title}",
        "scheme": "xyz",
        "tiles": [_template(lyr.id)],
        "minzoom": lyr.minzoom,
        "maxzoom": lyr.maxzoom,
        "bounds": [w, s, e, n],
        "center": [(w + e) / 2, (s + n) / 2, max(lyr.minzoom, 12)],
        "tile_matrix_set": tms_for(_settings()).id,
        "vector_layers": [{
            "id": lyr.id, "description": lyr.tile_title or lyr.title, "minzoom": lyr.minzoom,
            "maxzoom": lyr.maxzoom, "fields": lyr.tilejson_fields,
        }],
    }
    return current_app.json.response(doc)


@bp.get("/style.json")
def style() -> Response:
    """A MapLibre style: zones filled by the legend's colours, outlines, red lines, units."""
    legend = db.get_conn().execute(
        text("SELECT code, color FROM land_use_legend ORDER BY sort_order")
    ).all()
    match: list = ["match", ["get", "function_code"]]
    for code, color in legend:
        match += [code, color]
    match.append("#cccccc")
    sources = {name: {"type": "vector", "url": url_for("vector_tiles.tilejson", layer=name,
                                                        _external=True)}
               for name in registry.ids(registry.MVT)}
    doc = {
        "version": 8,
        "name": "Bản đồ quy hoạch Hà Nội – Hanoi planning map",
        "sources": sources,
        "layers": [
            {"id": "background", "type": "background", "paint": {"background-color": "#f8f8f4"}},
            {"id": "units", "type": "line", "source": "units", "source-layer": "units",
             "paint": {"line-color": "#7a5c99", "line-width": 1.5, "line-dasharray": [4, 2]}},
            {"id": "zones", "type": "fill", "source": "zones", "source-layer": "zones",
             "filter": ["!=", ["get", "plan_status"], "superseded"],
             "paint": {"fill-color": match, "fill-opacity": 0.75,
                       "fill-outline-color": "#555555"}},
            {"id": "plans", "type": "line", "source": "plans", "source-layer": "plans",
             "paint": {"line-color": "#222222", "line-width": 2}},
            {"id": "redlines", "type": "line", "source": "redlines", "source-layer": "redlines",
             "paint": {"line-color": "#e00000", "line-width": 2}},
            {"id": "zone-labels", "type": "symbol", "source": "zones", "source-layer": "zones",
             "minzoom": 15, "layout": {"text-field": ["get", "label"], "text-size": 11}},
        ],
    }
    resp = current_app.json.response(doc)
    resp.headers["Cache-Control"] = _settings().api_cache_control
    return resp
