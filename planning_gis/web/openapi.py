"""The OpenAPI 3.0 document of the whole service and a plain HTML page generated from it.

Paths of the OGC collections are generated from the collection registry, with their filterable
properties as query parameters: GDAL's OAPIF driver reads them to filter on the server. The docs
page is HTML built here, with no CDN script, so it works offline.
"""

from __future__ import annotations

import html

from flask import Blueprint, Response, current_app, request, url_for

from layers import registry
from layers.features import MAX_OFFSET
from planning_gis import __version__
from planning_gis.models import DOCUMENT_TYPES

bp = Blueprint("openapi", __name__, url_prefix="/api")

#: Routes that are not public API: the planners' workspace and its sign-in, and static files.
#: Every other route of the app must be in the document (tests/web/test_openapi.py checks it).
PRIVATE_PREFIXES = ("/quan-tri", "/dang-nhap", "/dang-xuat", "/static")

JSON = "application/json"
GEOJSON = "application/geo+json"
HTML = "text/html"
_REF_ERROR = {"$ref": "#/components/schemas/Error"}


def _error(description: str) -> dict:
    """An error answer: JSON {code, detail, detail_vi} (pages answer HTML to browsers)."""
    return {"description": description,
            "content": {JSON: {"schema": _REF_ERROR}, HTML: {"schema": {"type": "string"}}}}


NO_DATA_TEXT = ("No data in this tile (outside the sheet or layer): every tile kind answers 204 "
                "for this, never 404; a 404 is an unknown layer, sheet or plan")

#: The errors every endpoint may answer.
COMMON_ERRORS = {
    "400": _error("Bad input (a parameter out of range, a NUL byte, an unknown parameter)"),
    "413": _error("Request body over PLANNING_MAX_JSON_BYTES (or a plot over its limits)"),
    "414": _error("URL longer than the server accepts (PLANNING_MAX_URL_BYTES)"),
    "500": _error("A fault on our side (a file of ours missing or unreadable): `ref` is the "
                  "reference of the logged fault, to quote when reporting it"),
    "503": _error("The database is unavailable; Retry-After says when to try again"),
}
#: "No data here" for every tile kind (raster and vector alike).
NO_DATA = {"204": {"description": NO_DATA_TEXT}}
E404 = {"404": _error("Unknown id, collection or layer")}



def _p(name: str, where: str = "query", typ: str = "string", desc: str = "",
       required: bool = False, **schema) -> dict:
    return {"name": name, "in": where, "required": required or where == "path",
            "description": desc, "schema": {"type": typ, **schema}}


def _ok(content: str = JSON, schema: dict | None = None, description: str = "OK") -> dict:
    return {"200": {"description": description,
                    "content": {content: {"schema": schema} if schema else {}}}}


def _op(summary: str, params: list | None = None, content: str = JSON,
        extra: dict | None = None, tags: list[str] | None = None, schema: dict | None = None,
        errors: dict | None = None) -> dict:
    responses = {**_ok(content, schema), **COMMON_ERRORS, **(errors if errors is not None else E404)}
    if extra:
        responses.update(extra)
    return {"summary": summary, "parameters": params or [], "responses": responses,
            "tags": tags or []}


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


#: z/x/y of the WebMercatorQuad grid (morecantile's zoom 0..24; x, y within the matrix).
ZXY = [_p("z", "path", "integer", "zoom (0..24)", minimum=0, maximum=24),
       _p("x", "path", "integer", "column", minimum=0),
       _p("y", "path", "integer", "row", minimum=0)]
ITEMS_PARAMS = [
    _p("limit", typ="integer", desc="page size (over 10000 is cut to 10000)", minimum=1,
       default=10),
    _p("offset", typ="integer", desc="features to skip", minimum=0, maximum=MAX_OFFSET,
       default=0),
    {"name": "bbox", "in": "query", "required": False, "style": "form", "explode": False,
     "description": "minx,miny,maxx,maxy in bbox-crs axis order",
     "schema": {"type": "array", "minItems": 4, "maxItems": 6, "items": {"type": "number"}}},
    _p("bbox-crs", desc="CRS of bbox (CRS84 default; EPSG:4326, 3857, 5897)"),
    _p("crs", desc="CRS of the output geometry (CRS84 default; EPSG:4326, 3857, 5897)"),
    _p("after", typ="integer", desc="keyset paging: features whose id is above this one (the "
       "next links use it)", minimum=0, maximum=2**63 - 1),
]
POINT_PARAMS = [
    _p("lon", typ="number", desc="WGS 84 longitude (about 105.8)"),
    _p("lat", typ="number", desc="WGS 84 latitude (about 21.0)"),
    _p("x_north", typ="number", desc="VN-2000 X = northing (about 2 3xx xxx)"),
    _p("y_east", typ="number", desc="VN-2000 Y = easting (about 5xx xxx)"),
]
_POSITION = {"type": "array", "minItems": 2, "maxItems": 3, "items": {"type": "number"}}
_RING = {"type": "array", "minItems": 4, "items": _POSITION}
_POLYGON = {"type": "object", "required": ["type", "coordinates"],
            "properties": {"type": {"enum": ["Polygon"]},
                           "coordinates": {"type": "array", "minItems": 1, "items": _RING}}}
_MULTIPOLYGON = {"type": "object", "required": ["type", "coordinates"],
                 "properties": {"type": {"enum": ["MultiPolygon"]},
                                "coordinates": {"type": "array", "minItems": 1,
                                                "items": {"type": "array", "minItems": 1,
                                                          "items": _RING}}}}
PLOT_BODY = {"required": True, "content": {JSON: {"schema": {
    "description": "GeoJSON Polygon, MultiPolygon or Feature of one (at most "
                   "PLANNING_MAX_JSON_BYTES, PLANNING_LOOKUP_MAX_PLOT_VERTICES vertices and "
                   "PLANNING_LOOKUP_MAX_PLOT_RINGS rings)",
    "oneOf": [_POLYGON, _MULTIPOLYGON,
              {"type": "object", "required": ["type", "geometry"],
               "properties": {"type": {"enum": ["Feature"]},
                              "geometry": {"oneOf": [_POLYGON, _MULTIPOLYGON]},
                              "properties": {"type": "object", "nullable": True}}}],
}, "example": {"type": "Polygon", "coordinates": [[[105.8, 21.0], [105.801, 21.0],
                                                    [105.801, 21.001], [105.8, 21.0]]]}}}}
SCHEMAS = {
    "Error": {"type": "object", "required": ["code", "detail", "detail_vi"],
              "properties": {"code": {"type": "string"}, "detail": {"type": "string"},
                             "detail_vi": {"type": "string"},
                             "ref": {"type": "string",
                                     "description": "reference of a logged server fault (5xx)"}}},
    "Link": {"type": "object", "required": ["href"],
             "properties": {"href": {"type": "string"}, "rel": {"type": "string"},
                            "type": {"type": "string"}, "title": {"type": "string"}}},
    "Feature": {"type": "object", "required": ["type", "geometry", "properties"],
                "properties": {"type": {"enum": ["Feature"]}, "id": {"type": "integer"},
                               "geometry": {"type": "object", "nullable": True},
                               "properties": {"type": "object"}}},
    "FeatureCollection": {
        "type": "object", "required": ["type", "features", "numberReturned"],
        "properties": {"type": {"enum": ["FeatureCollection"]},
                       "numberMatched": {"type": "integer", "minimum": 0},
                       "numberReturned": {"type": "integer", "minimum": 0},
                       "links": {"type": "array", "items": _ref("Link")},
                       "features": {"type": "array", "items": _ref("Feature")}}},
    "Collection": {"type": "object", "required": ["id", "links"],
                   "properties": {"id": {"type": "string"}, "title": {"type": "string"},
                                  "crs": {"type": "array", "items": {"type": "string"}},
                                  "links": {"type": "array", "items": _ref("Link")}}},
    "LookupAnswer": {
        "type": "object", "required": ["query", "date", "governing_plan_id", "plans", "source"],
        "properties": {"query": {"type": "object"}, "date": {"type": "string", "format": "date"},
                       "governing_plan_id": {"type": "integer", "nullable": True},
                       "plans": {"type": "array", "items": {"type": "object"}},
                       "source": {"type": "object"}, "message": {"type": "string"},
                       "message_vi": {"type": "string"}}},
    "SearchResult": {"type": "object", "required": ["query", "results"],
                     "properties": {"query": {"type": "string"},
                                    "terms": {"type": "array", "items": {"type": "string"}},
                                    "results": {"type": "array", "items": {"type": "object"}}}},
    "TileJSON": {"type": "object", "required": ["tilejson", "tiles"],
                 "properties": {"tilejson": {"type": "string"},
                                "tiles": {"type": "array", "items": {"type": "string"}},
                                "minzoom": {"type": "integer"}, "maxzoom": {"type": "integer"},
                                "bounds": {"type": "array", "items": {"type": "number"}}}},
}

OGC = ["OGC API – Features"]
DOCS = ["Documents and search"]
CITIZEN = ["Citizen's map"]
PAGES = ["Pages (HTML, Vietnamese)"]
NOT_MODIFIED = {"304": {"description": "not modified (If-None-Match)"}}


def _page(summary: str, params: list | None = None, errors: dict | None = None) -> dict:
    return _op(summary, params, HTML, tags=PAGES, schema={"type": "string"},
               errors=errors if errors is not None else {})


def build_spec(server_url: str, version: str = __version__) -> dict:
    """The spec for a server root URL (links in it are absolute, as clients want)."""
    collection_id = _p("collectionId", "path", enum=registry.ids(registry.OGC))
    paths: dict[str, dict] = {
        "/": {"get": _page("The citizen's map")},
        "/ogc": {"get": _op("OGC API landing page", [_p("f", enum=["json"])], tags=OGC,
                            errors={})},
        "/ogc/conformance": {"get": _op("Conformance classes", [_p("f", enum=["json"])],
                                        tags=OGC, errors={})},
        "/ogc/collections": {"get": _op("Collections", [_p("f", enum=["json"])], tags=OGC,
                                        errors={})},
        "/ogc/collections/{collectionId}": {"get": _op(
            "One collection: extent, CRS list", [collection_id, _p("f", enum=["json"])],
            tags=OGC, schema=_ref("Collection"))},
        "/ogc/collections/{collectionId}/queryables": {"get": _op(
            "Filterable properties (JSON Schema)", [collection_id], "application/schema+json",
            tags=OGC)},
        "/ogc/collections/{collectionId}/items": {"get": _op(
            "Features of a collection", [collection_id, *ITEMS_PARAMS], GEOJSON,
            tags=OGC, schema=_ref("FeatureCollection"))},
        "/ogc/collections/{collectionId}/items/{featureId}": {"get": _op(
            "One feature", [collection_id, _p("featureId", "path", "integer"), ITEMS_PARAMS[4]],
            GEOJSON, tags=OGC, schema=_ref("Feature"))},
        "/tiles/sheets/{sheetId}/{z}/{x}/{y}.{format}": {"get": _op(
            "Raster tile of a published map sheet (transparent outside the neatline)",
            [_p("sheetId", "path", "integer"), *ZXY,
             _p("format", "path", enum=["png", "webp"])], "image/png",
            {**NO_DATA, **NOT_MODIFIED,
             "200": {"description": "OK", "content": {"image/png": {}, "image/webp": {}}}},
            ["Raster tiles"])},
        "/tiles/sheets/{sheetId}/tilejson.json": {"get": _op(
            "TileJSON of a sheet", [_p("sheetId", "path", "integer"),
                                    _p("format", enum=["png", "webp"], default="png")],
            tags=["Raster tiles"], schema=_ref("TileJSON"))},
        "/tiles/plans/{planId}/mosaic/{z}/{x}/{y}.{format}": {"get": _op(
            "Mosaic of all published sheets of a plan",
            [_p("planId", "path", "integer"), *ZXY,
             _p("format", "path", enum=["png", "webp"])], "image/png",
            {**NO_DATA, **NOT_MODIFIED,
             "200": {"description": "OK", "content": {"image/png": {}, "image/webp": {}}}},
            ["Raster tiles"])},
        "/tiles/{layer}/{z}/{x}/{y}.mvt": {"get": _op(
            "Vector tile (MVT) of a layer", [_p("layer", "path", enum=registry.ids(registry.MVT)), *ZXY],
            "application/vnd.mapbox-vector-tile",
            {**NO_DATA, **NOT_MODIFIED}, ["Vector tiles"])},
        "/tiles/{layer}/tilejson.json": {"get": _op(
            "TileJSON of a vector layer", [_p("layer", "path", enum=registry.ids(registry.MVT))],
            tags=["Vector tiles"], schema=_ref("TileJSON"))},
        "/tiles/style.json": {"get": _op("MapLibre style coloured by the legend",
                                         tags=["Vector tiles"], errors={})},
        "/api/lookup": {
            "get": _op(
                "Every zone of every plan at a point, governing plan first",
                [*POINT_PARAMS,
                 _p("crs", desc="CRS of x_north/y_east, EPSG:5897 by default"),
                 _p("date", desc="YYYY-MM-DD: which plans were in force then", format="date")],
                tags=["Look-up"], schema=_ref("LookupAnswer"), errors={}),
            "post": {
                **_op("Each zone's share of a plot (m², %)",
                      [_p("crs", desc="CRS of the GeoJSON, EPSG:4326 by default"),
                       _p("date", desc="YYYY-MM-DD", format="date")],
                      errors={}, tags=["Look-up"], schema=_ref("LookupAnswer")),
                "requestBody": PLOT_BODY,
            },
        },
        "/api/search": {"get": _op(
            "Plans, zones, documents, places and decision numbers, with or without diacritics",
            [_p("q", desc="words (at most 200 characters, 12 words)", required=True),
             _p("kinds", desc="comma-separated: plan, zone, document, place, decision"),
             _p("limit", typ="integer", minimum=1, maximum=100, default=20)],
            tags=DOCS, schema=_ref("SearchResult"), errors={})},
        "/api/documents": {"get": _op(
            "The document library, newest first, filtered; deep pages by the next link",
            [_p("type", enum=list(DOCUMENT_TYPES)), _p("issuer"),
             _p("year", typ="integer", minimum=1945), _p("plan", typ="integer", minimum=1),
             _p("q"), _p("page", typ="integer", minimum=1, maximum=100_000, default=1,
                         desc="numbered pages reach the first 10,000 documents; past them "
                              "follow the links (after=)"),
             _p("per_page", typ="integer", minimum=1, maximum=100, default=20),
             _p("after", desc="where the page starts: the cursor of a next link "
                              "(issued date and id of the last document of the page before)")],
            tags=DOCS, schema={"type": "object"}, errors={})},
        "/api/documents/{docId}": {"get": _op(
            "One document with its plans and its pages' text", [_p("docId", "path", "integer")],
            tags=DOCS, schema={"type": "object", "required": ["id"]})},
        "/documents/{docId}/file": {"get": _op(
            "The document's PDF", [_p("docId", "path", "integer")], "application/pdf",
            NOT_MODIFIED, DOCS)},
        "/documents/{docId}/pages/{pageNo}.png": {"get": _op(
            "One page of a document rendered to PNG",
            [_p("docId", "path", "integer"), _p("pageNo", "path", "integer"),
             _p("dpi", typ="integer", minimum=50, maximum=200, default=110)], "image/png",
            NOT_MODIFIED, DOCS)},
        "/api/sheets": {"get": _op("Published map sheets with their accuracy", tags=CITIZEN,
                                   schema={"type": "array", "items": {"type": "object"}},
                                   errors={})},
        "/api/citizen/place": {"get": _op(
            "Administrative units at a point and the data's date", POINT_PARAMS, tags=CITIZEN,
            schema={"type": "object", "required": ["point"]}, errors={})},
        "/api/citizen/red-line": {
            "get": _op("The red-line answer at a point: nearest planned road, its width and "
                       "plan, the distance to the red line, inside the road reserve or not",
                       POINT_PARAMS, tags=CITIZEN,
                       schema={"type": "object", "required": ["query", "roads", "summary_vi"]}),
            "post": {
                **_op("The red-line answer for a plot: m² and % inside the road reserve, what "
                      "remains, the setback strip before the building line",
                      [_p("crs", desc="4326 (default) or 5897")], tags=CITIZEN,
                      schema={"type": "object", "required": ["cut_m2", "summary_vi"]}),
                "requestBody": PLOT_BODY,
            },
        },
        "/api/citizen/find": {"get": _op(
            "The search box: coordinates recognised, anything else searched",
            [_p("q", required=True), _p("limit", typ="integer", minimum=1, maximum=100,
                                        default=10)],
            tags=CITIZEN, schema={"type": "object", "required": ["query"]}, errors={})},
        "/api/info-sheet.pdf": {
            "get": _op("The planning information sheet (PDF) for a point", POINT_PARAMS,
                       "application/pdf", tags=CITIZEN, errors={}),
            "post": {
                **_op("The planning information sheet (PDF) for a plot",
                      [_p("crs", desc="4326 (default) or 5897")], "application/pdf",
                      errors={}, tags=CITIZEN),
                "requestBody": PLOT_BODY,
            },
        },
        "/api/legend": {"get": _op("Land-use legend (codes, names, colours)", tags=["Other"],
                                   schema={"type": "array", "items": {"type": "object"}},
                                   errors={})},
        "/api/zones.geojson": {"get": _op(
            "Zones in a lon/lat box (the first page's light layer)",
            [_p("bbox", desc="min_lon,min_lat,max_lon,max_lat")], GEOJSON, tags=["Other"],
            schema={"type": "object", "required": ["type", "features"]}, errors={})},
        "/api/health": {"get": _op("Health and versions", tags=["Other"], errors={},
                                   schema={"type": "object", "required": ["status"]})},
        "/api/live": {"get": _op("Liveness: the process answers (no database asked)",
                                 tags=["Other"], errors={},
                                 schema={"type": "object", "required": ["status"]})},
        "/api/ready": {"get": _op("Readiness for a load balancer: 503 when the primary does not"
                                  " answer or no replica is current", tags=["Other"], errors={},
                                  schema={"type": "object", "required": ["status"]})},
        "/metrics": {"get": _op("Prometheus metrics (latency per route, caches, jobs, replica"
                                " lag)", content="text/plain", tags=["Other"], errors={})},
        "/api/openapi.json": {"get": _op("This document", content="application/vnd.oai.openapi+json",
                                         tags=["Other"], errors={})},
        "/api/docs": {"get": _page("This document as a readable page")},
        "/tai-lieu": {"get": _page("The document library", [
            _p("type", enum=list(DOCUMENT_TYPES)), _p("issuer"),
            _p("year", typ="integer", minimum=1945), _p("plan", typ="integer", minimum=1),
            _p("q"), _p("page", typ="integer", minimum=1, maximum=100_000),
            _p("per_page", typ="integer", minimum=1, maximum=100), _p("after")])},
        "/tai-lieu/{docId}": {"get": _page("A document", [_p("docId", "path", "integer"),
                                                          _p("q")], E404)},
        "/quy-hoach/{planId}": {"get": _page("A plan and its documents",
                                             [_p("planId", "path", "integer")], E404)},
        "/tim-kiem": {"get": _page("Search results without JavaScript", [_p("q")])},
        "/to-ban-do": {"get": _page("The citizen's map with a published sheet laid over it",
                                    [_p("to", typ="integer")], E404)},
    }
    # One concrete items path per collection, with its queryables (read by GDAL's OAPIF).
    for c in registry.datasets(registry.OGC):
        cid = c.id
        qp = [_p(name, typ=p.type, desc=f"equals ({c.title})") for name, p in
              c.queryables.items()]
        paths[f"/ogc/collections/{cid}/items"] = {"get": _op(
            f"{c.title_vi} – {c.title}", [*ITEMS_PARAMS, *qp], GEOJSON, tags=OGC,
            schema=_ref("FeatureCollection"), errors={})}
    return {
        "openapi": "3.0.3",
        "info": {"title": "Bản đồ quy hoạch Hà Nội – Hanoi planning-map service",
                 "version": version,
                 "description": "Raster and vector tiles, OGC API – Features, the point "
                                "look-up, documents and search. Every error is JSON {code, "
                                "detail, detail_vi}. Tiles carry ETag/Cache-Control (304 on "
                                "If-None-Match); GET has CORS; JSON and MVT are gzip-compressed "
                                "on request. A method a path does not serve is a 405 with "
                                "Allow."},
        "servers": [{"url": server_url}],
        "paths": paths,
        "components": {"schemas": SCHEMAS},
    }


@bp.get("/openapi.json")
def openapi_json() -> Response:
    doc = build_spec(request.url_root.rstrip("/"), current_app.config["VERSION"])
    resp = current_app.json.response(doc)
    resp.mimetype = "application/vnd.oai.openapi+json"
    return resp


@bp.get("/docs")
def docs() -> Response:
    """Readable list of every path, method, parameter and response, generated from the spec."""
    spec = build_spec(request.url_root.rstrip("/"), current_app.config["VERSION"])
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
