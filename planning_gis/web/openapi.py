"""The OpenAPI 3.0 document of the whole service and a plain HTML page generated from it.

Paths of the OGC collections are generated from the collection registry, with their filterable
properties as query parameters: GDAL's OAPIF driver reads them to filter on the server. The docs
page is HTML built here, with no CDN script, so it works offline.
"""

from __future__ import annotations

import html

from flask import Blueprint, Response, current_app, request, url_for

from layers.features import COLLECTIONS
from layers.mvt import LAYERS

bp = Blueprint("openapi", __name__, url_prefix="/api")

_ERR = {"description": "Bad input: JSON {code, detail, detail_vi}",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
_404 = {"description": "Unknown id", "content": _ERR["content"]}


def _p(name: str, where: str = "query", typ: str = "string", desc: str = "",
       required: bool = False, **schema) -> dict:
    return {"name": name, "in": where, "required": required or where == "path",
            "description": desc, "schema": {"type": typ, **schema}}


ZXY = [_p("z", "path", "integer", "zoom"), _p("x", "path", "integer", "column"),
       _p("y", "path", "integer", "row")]
ITEMS_PARAMS = [
    _p("limit", typ="integer", desc="page size", minimum=1, default=10),
    _p("offset", typ="integer", desc="features to skip", minimum=0, default=0),
    {"name": "bbox", "in": "query", "required": False, "style": "form", "explode": False,
     "description": "minx,miny,maxx,maxy in bbox-crs axis order",
     "schema": {"type": "array", "minItems": 4, "maxItems": 6, "items": {"type": "number"}}},
    _p("bbox-crs", desc="CRS of bbox (CRS84 default; EPSG:4326, 3857, 5897)"),
    _p("crs", desc="CRS of the output geometry (CRS84 default; EPSG:4326, 3857, 5897)"),
]


def _op(summary: str, params: list | None = None, content: str = "application/json",
        extra: dict | None = None, tags: list[str] | None = None) -> dict:
    responses = {"200": {"description": "OK", "content": {content: {}}}, "400": _ERR,
                 "404": _404}
    if extra:
        responses.update(extra)
    return {"summary": summary, "parameters": params or [], "responses": responses,
            "tags": tags or []}


def build_spec(server_url: str) -> dict:
    """The spec for a server root URL (links in it are absolute, as clients want)."""
    paths: dict[str, dict] = {
        "/ogc": {"get": _op("OGC API landing page", tags=["OGC API – Features"])},
        "/ogc/conformance": {"get": _op("Conformance classes", tags=["OGC API – Features"])},
        "/ogc/collections": {"get": _op("Collections", tags=["OGC API – Features"])},
        "/ogc/collections/{collectionId}": {"get": _op(
            "One collection: extent, CRS list", [_p("collectionId", "path")],
            tags=["OGC API – Features"])},
        "/ogc/collections/{collectionId}/items": {"get": _op(
            "Features of a collection", [_p("collectionId", "path"), *ITEMS_PARAMS],
            "application/geo+json", tags=["OGC API – Features"])},
        "/ogc/collections/{collectionId}/items/{featureId}": {"get": _op(
            "One feature", [_p("collectionId", "path"), _p("featureId", "path"),
                            ITEMS_PARAMS[4]], "application/geo+json",
            tags=["OGC API – Features"])},
        "/tiles/sheets/{sheetId}/{z}/{x}/{y}.{format}": {"get": _op(
            "Raster tile of a published map sheet (transparent outside the neatline)",
            [_p("sheetId", "path", "integer"), *ZXY,
             _p("format", "path", enum=["png", "webp"])], "image/png",
            {"204": {"description": "tile outside the sheet"},
             "304": {"description": "not modified (If-None-Match)"}}, ["Raster tiles"])},
        "/tiles/sheets/{sheetId}/tilejson.json": {"get": _op(
            "TileJSON of a sheet", [_p("sheetId", "path", "integer")], tags=["Raster tiles"])},
        "/tiles/plans/{planId}/mosaic/{z}/{x}/{y}.{format}": {"get": _op(
            "Mosaic of all published sheets of a plan",
            [_p("planId", "path", "integer"), *ZXY,
             _p("format", "path", enum=["png", "webp"])], "image/png",
            {"204": {"description": "no sheet covers the tile"}}, ["Raster tiles"])},
        "/tiles/{layer}/{z}/{x}/{y}.mvt": {"get": _op(
            "Vector tile (MVT) of a layer", [_p("layer", "path", enum=list(LAYERS)), *ZXY],
            "application/vnd.mapbox-vector-tile", {"204": {"description": "empty tile"}},
            ["Vector tiles"])},
        "/tiles/{layer}/tilejson.json": {"get": _op(
            "TileJSON of a vector layer", [_p("layer", "path", enum=list(LAYERS))],
            tags=["Vector tiles"])},
        "/tiles/style.json": {"get": _op("MapLibre style coloured by the legend",
                                         tags=["Vector tiles"])},
        "/api/lookup": {
            "get": _op(
                "Every zone of every plan at a point, governing plan first",
                [_p("lon", typ="number", desc="WGS 84 longitude (about 105.8)"),
                 _p("lat", typ="number", desc="WGS 84 latitude (about 21.0)"),
                 _p("x_north", typ="number", desc="VN-2000 X = northing (about 2 3xx xxx)"),
                 _p("y_east", typ="number", desc="VN-2000 Y = easting (about 5xx xxx)"),
                 _p("crs", desc="CRS of x_north/y_east, EPSG:5897 by default"),
                 _p("date", desc="YYYY-MM-DD: which plans were in force then", format="date")],
                tags=["Look-up"]),
            "post": {
                **_op("Each zone's share of a plot (m², %)",
                      [_p("crs", desc="CRS of the GeoJSON, EPSG:4326 by default")],
                      extra={"413": {"description": "plot too large"}}, tags=["Look-up"]),
                "requestBody": {"required": True, "content": {"application/json": {
                    "schema": {"description": "GeoJSON Polygon, MultiPolygon or Feature"}}}},
            },
        },
        "/api/legend": {"get": _op("Land-use legend (codes, names, colours)", tags=["Other"])},
        "/api/health": {"get": _op("Health and versions", tags=["Other"])},
        "/api/openapi.json": {"get": _op("This document", tags=["Other"])},
    }
    # One concrete items path per collection, with its queryables (read by GDAL's OAPIF).
    for cid, c in COLLECTIONS.items():
        qp = [_p(name, typ=p.type, desc=f"equals ({c.title})") for name, p in
              c.queryables.items()]
        paths[f"/ogc/collections/{cid}/items"] = {"get": _op(
            f"{c.title_vi} – {c.title}", [*ITEMS_PARAMS, *qp], "application/geo+json",
            tags=["OGC API – Features"])}
    return {
        "openapi": "3.0.3",
        "info": {"title": "Bản đồ quy hoạch Hà Nội – Hanoi planning-map service",
                 "version": current_app.config["VERSION"],
                 "description": "Raster and vector tiles, OGC API – Features and the point "
                                "look-up. Every error is JSON {code, detail, detail_vi}. Tiles "
                                "carry ETag/Cache-Control (304 on If-None-Match); GET has CORS;"
                                " JSON and MVT are gzip-compressed on request."},
        "servers": [{"url": server_url}],
        "paths": paths,
        "components": {"schemas": {"Error": {"type": "object", "required": ["code", "detail"],
                                             "properties": {"code": {"type": "string"},
                                                            "detail": {"type": "string"},
                                                            "detail_vi": {"type": "string"}}}}},
    }


@bp.get("/openapi.json")
def openapi_json() -> Response:
    doc = build_spec(request.url_root.rstrip("/"))
    resp = current_app.json.response(doc)
    resp.mimetype = "application/vnd.oai.openapi+json"
    return resp


@bp.get("/docs")
def docs() -> Response:
    """Readable list of every path, method, parameter and response, generated from the spec."""
    spec = build_spec(request.url_root.rstrip("/"))
    e = html.escape
    parts = [
        "<!doctype html><html lang='vi'><head><meta charset='utf-8'>",
        f"<title>{e(spec['info']['title'])}</title>",
        # A file, not an inline <style>: the Content-Security-Policy allows our own files only.
        f"<link rel='stylesheet' href='{e(url_for('static', filename='css/api_docs.css'))}'>"
        "</head><body>",
        f"<h1>{e(spec['info']['title'])}</h1><p>{e(spec['info']['description'])}</p>",
        "<p><a href='openapi.json'>openapi.json</a></p>",
    ]
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            parts.append(f"<h2><code>{method.upper()} {e(path)}</code></h2>"
                         f"<p>{e(op['summary'])}</p>")
            if op["parameters"]:
                parts.append("<table><tr><th>parameter</th><th>in</th><th>type</th>"
                             "<th>description</th></tr>")
                for p in op["parameters"]:
                    parts.append(f"<tr><td><code>{e(p['name'])}</code></td><td>{p['in']}</td>"
                                 f"<td>{e(p['schema'].get('type', ''))}</td>"
                                 f"<td>{e(p.get('description', ''))}</td></tr>")
                parts.append("</table>")
            codes = ", ".join(op["responses"])
            parts.append(f"<p>responses: {codes}</p>")
    parts.append("</body></html>")
    return Response("".join(parts), mimetype="text/html")
