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


HISTORY = ["History and comparison"]
#: The comparison's own parameters (GET and POST).
COMPARE_PARAMS = [
    _p("a", typ="integer", minimum=1, desc="plan id (the older side, or the plan alone)"),
    _p("b", typ="integer", minimum=1, desc="plan id of the newer side (default: a)"),
    _p("date_a", format="date", desc="YYYY-MM-DD: side a as it was that day (default: now)"),
    _p("date_b", format="date", desc="YYYY-MM-DD: side b as it was that day (default: now)"),
    _p("format", enum=["json", "csv", "html"], default="json",
       desc="csv: one line per change; html: a standalone map file that opens offline"),
    _p("geometry", enum=["0", "1"], default="0", desc="1: each change's GeoJSON (WGS 84)"),
    _p("sides", enum=["0", "1"], default="0", desc="1: both sides' zones as GeoJSON"),
]


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
    "Comparison": {
        "type": "object", "required": ["a", "b", "scope", "counts", "changes"],
        "properties": {
            "a": {"type": "object"}, "b": {"type": "object"},
            "scope": {"enum": ["plan", "point", "area"]},
            "counts": {"type": "object"}, "query": {"type": "object"},
            "links": {"type": "object"}, "sides": {"type": "object"},
            "changes": {"type": "array", "items": {
                "type": "object", "required": ["kind", "what", "zones_a", "zones_b", "decision",
                                               "summary_vi", "summary_en"],
                "properties": {
                    "kind": {"enum": ["added", "removed", "modified", "split", "merged",
                                      "reshaped"]},
                    "what": {"type": "array", "items": {
                        "enum": ["function", "indicators", "geometry", "label"]}},
                    "zones_a": {"type": "array", "items": {"type": "object"}},
                    "zones_b": {"type": "array", "items": {"type": "object"}},
                    "function": {"type": "object"},
                    "indicators": {"type": "array", "items": {"type": "object"}},
                    "geometry_change": {"type": "object", "properties": {
                        "gained_m2": {"type": "number"}, "lost_m2": {"type": "number"}}},
                    "decision": {"type": "object"}, "summary_vi": {"type": "string"},
                    "summary_en": {"type": "string"}, "geometry": {"type": "object"}}}}}},
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
EXCHANGE = ["Exchange with citizens"]
#: What an anonymous post may also answer: a closed consultation window, too many posts.
E409 = {"409": _error("The consultation's window is not open (not yet, or closed)")}
E429 = {"429": _error("Too many posts from this client (PLANNING_CITIZEN_POSTS_PER_MINUTE, "
                      "_PER_DAY); Retry-After says when to try again")}


def _created(schema: dict, content: str = JSON) -> dict:
    return {"201": {"description": "Created", "content": {content: {"schema": schema}}}}


def _json_body(description: str, properties: dict, required: list[str] | None = None) -> dict:
    return {"required": True, "content": {JSON: {"schema": {
        "type": "object", "description": description, "properties": properties,
        "required": required or [], "additionalProperties": False}}}}


_S = {"type": "string"}
_N = {"type": "number"}
_I = {"type": "integer"}
_CONTACT = {"name": {**_S, "description": "optional; never public"},
            "email": {**_S, "description": "e-mail or phone for the reply; never public"},
            "phone": _S, "website": {**_S, "description": "honeypot: leave empty"}}
_PLACE = {"lon": _N, "lat": _N, "x_north": _N, "y_east": _N, "crs": _S}


def _post(summary: str, body: dict, created: dict, params: list | None = None,
          errors: dict | None = None) -> dict:
    op = _op(summary, params, tags=EXCHANGE, errors={**E404, **E429, **(errors or {})})
    del op["responses"]["200"]
    op["responses"].update(created)
    return {**op, "requestBody": body}


def _form_post(summary: str, path_params: list | None = None) -> dict:
    """A page's form (application/x-www-form-urlencoded): the next page, or the form again
    with the Vietnamese message."""
    op = _op(summary, path_params, HTML, tags=PAGES, schema={"type": "string"},
             errors={**E404, **E409, **E429})
    op["responses"]["201"] = {"description": "Received", "content": {HTML: {"schema": _S}}}
    op["responses"]["202"] = {"description": "Report noted", "content": {HTML: {"schema": _S}}}
    op["requestBody"] = {"required": True, "content": {
        "application/x-www-form-urlencoded": {"schema": {"type": "object"}}}}
    return op


def exchange_paths() -> dict[str, dict]:
    """The exchange's API and pages (planning_gis/web/exchange.py)."""
    qid = _p("questionId", "path", "integer")
    cid = _p("consultationId", "path", "integer")
    code = _p("code", "path", desc="tracking code, e.g. HD-7K3M9Q2P")
    key = _p("k", desc="the private link's key", required=True)
    obj = {"type": "object"}
    reported = {"202": {"description": "Report noted", "content": {JSON: {"schema": obj}}}}
    return {
        "/api/questions": {
            "get": _op("Published answers (personal data removed), newest first",
                       [_p("organisation", typ="integer", minimum=1),
                        _p("plan", typ="integer", minimum=1),
                        _p("limit", typ="integer", minimum=1, maximum=200, default=20),
                        _p("offset", typ="integer", minimum=0, default=0)],
                       tags=EXCHANGE, schema=obj, errors={}),
            "post": _post(
                "Ask a question at a place (point or GeoJSON plot) or on a plan: routed to the "
                "unit of the governing plan, or of the administrative unit",
                _json_body("A question", {"body": _S, **_CONTACT, **_PLACE, "plan_id": _I,
                                          "plot": obj}, ["body"]),
                _created({"type": "object", "required": ["code", "track_url", "due_on"]})),
        },
        "/api/questions/{questionId}": {"get": _op("One published question and its answer",
                                                   [qid], tags=EXCHANGE, schema=obj)},
        "/api/questions/{questionId}/report": {"post": _post(
            "Report a published answer (enough reports hide it until moderated)",
            {"required": True, "content": {JSON: {"schema": obj}}}, reported, [qid])},
        "/api/questions/track/{code}": {"get": _op(
            "The asker's view of their question (private link)", [code, key],
            tags=EXCHANGE, schema=obj)},
        "/api/consultations": {"get": _op("Consultations on draft plans and their windows",
                                          tags=EXCHANGE, schema=obj, errors={})},
        "/api/consultations/{consultationId}": {"get": _op(
            "A consultation: window, counts by zone and topic, published comments, responses",
            [cid], tags=EXCHANGE, schema=obj)},
        "/api/consultations/{consultationId}/comments": {"post": _post(
            "Comment on a draft plan, one of its zones or a spot (public after moderation)",
            _json_body("A comment", {"body": _S, "topic": _S, "zone_id": _I, **_CONTACT,
                                     **_PLACE}, ["body", "topic"]),
            _created(obj), [cid], E409)},
        "/api/comments/{commentId}/report": {"post": _post(
            "Report a published comment (enough reports send it back to moderation)",
            {"required": True, "content": {JSON: {"schema": obj}}}, reported,
            [_p("commentId", "path", "integer")])},
        "/api/info-requests": {"post": _post(
            "The planning-information request procedure: a plot (GeoJSON, or VN-2000 corners "
            "'X Y' one a line) and contact; the legal deadline in working days (holidays "
            "counted)",
            _json_body("A request", {"plot": obj, "corners": _S, "crs": _S, "purpose": _S,
                                     **_CONTACT}, ["name"]),
            _created({"type": "object", "required": ["code", "due_on", "track_url"]}))},
        "/api/info-requests/track/{code}": {"get": _op(
            "The applicant's view of their request: status, due date, holidays in the period",
            [code, key], tags=EXCHANGE, schema=obj)},
        "/api/units/record": {"get": _op(
            "Each unit's record per month: questions received, answered, on time, overdue, "
            "median days; comments; requests; plans' last update; the city's total",
            [_p("months", typ="integer", minimum=1, maximum=120, default=12),
             _p("organisation", typ="integer", minimum=1)], tags=EXCHANGE,
            schema={"type": "object", "required": ["units", "city"]}, errors={})},
        "/hoi-dap": {"get": _page("Published questions and answers",
                                  [_p("page", typ="integer", minimum=1, maximum=10_000),
                                   _p("don-vi", typ="integer", minimum=1)])},
        "/hoi-dap/hoi": {"get": _page("The question form for a place or a plan",
                                      [*POINT_PARAMS, _p("crs"), _p("plan_id", typ="integer"),
                                       _p("plot")], E404),
                         "post": _form_post("Send a question (form)")},
        "/hoi-dap/{questionId}": {"get": _page("A published question and its answer", [qid],
                                               E404)},
        "/hoi-dap/{questionId}/bao-cao": {"post": _form_post("Report an answer (form)", [qid])},
        "/hoi-dap/theo-doi": {"get": _page("Track a question by its code and key",
                                           [_p("code"), _p("k")], E404)},
        "/hoi-dap/theo-doi/{code}": {"get": _page("The asker's private page", [code, key],
                                                  E404)},
        "/lay-y-kien": {"get": _page("Consultations on draft plans")},
        "/lay-y-kien/{consultationId}": {"get": _page(
            "A consultation: the draft on a map, the comment form, comments, counts", [cid],
            E404)},
        "/lay-y-kien/{consultationId}/gop-y": {"post": _form_post("Send a comment (form)",
                                                                  [cid])},
        "/lay-y-kien/gop-y/{commentId}/bao-cao": {"post": _form_post(
            "Report a comment (form)", [_p("commentId", "path", "integer")])},
        "/lay-y-kien/{consultationId}/bao-cao.csv": {"get": _op(
            "The summary report (comments, responses) as CSV", [cid], "text/csv",
            tags=EXCHANGE)},
        "/lay-y-kien/{consultationId}/bao-cao.pdf": {"get": _op(
            "The summary report (báo cáo tổng hợp, tiếp thu, giải trình) as PDF", [cid],
            "application/pdf", tags=EXCHANGE)},
        "/thu-tuc/cung-cap-thong-tin": {"get": _page("The planning-information request form"),
                                        "post": _form_post("Submit a request (form)")},
        "/thu-tuc/theo-doi/{code}": {"get": _page("The applicant's private page", [code, key],
                                                  E404)},
        "/thu-tuc/theo-doi/{code}/phieu.pdf": {"get": _op(
            "The answer: the plot's information sheet signed off by the officer", [code, key],
            "application/pdf", tags=EXCHANGE)},
        "/cong-khai/don-vi": {"get": _page("Each unit's public record",
                                           [_p("months", typ="integer", minimum=1, maximum=120),
                                            _p("organisation", typ="integer", minimum=1)])},
    }


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
        "/api/compare": {
            "get": _op(
                "Two plans, or two dates of one plan, compared zone by zone over a point or the "
                "whole plans: zones paired by key (the same zone across dates, a label on both "
                "sides) or by overlap; changes added, removed, modified (function from/to, "
                "indicators old/new, m² gained and lost), split, merged, reshaped, each "
                "attributed to its decision. a alone: the plan it supersedes against it",
                [*COMPARE_PARAMS, *POINT_PARAMS,
                 _p("crs", desc="CRS of x_north/y_east, EPSG:5897 by default")],
                tags=HISTORY, schema=_ref("Comparison"),
                extra={"200": {"description": "OK", "content": {
                    JSON: {"schema": _ref("Comparison")}, "text/csv": {},
                    HTML: {"schema": {"type": "string"}}}}}),
            "post": {
                **_op("The same comparison over a plot or a drawn area (GeoJSON polygon)",
                      [*COMPARE_PARAMS, _p("crs", desc="4326 (default) or 5897")],
                      tags=HISTORY, schema=_ref("Comparison"),
                      extra={"200": {"description": "OK", "content": {
                          JSON: {"schema": _ref("Comparison")}, "text/csv": {},
                          HTML: {"schema": {"type": "string"}}}}}),
                "requestBody": PLOT_BODY,
            },
        },
        "/api/zones/{zoneId}/history": {"get": _op(
            "Every recorded change of a zone (also one since deleted), oldest first: its state "
            "before and after, when it was recorded and took effect, the decision, the user",
            [_p("zoneId", "path", "integer")], tags=HISTORY,
            schema={"type": "object", "required": ["zone_id", "events"]})},
        "/api/history/zoning": {"get": _op(
            "The zoning at a point on a date: the plans in force then, with their zones as "
            "they were then (governing plan first)",
            [*POINT_PARAMS, _p("crs", desc="CRS of x_north/y_east, EPSG:5897 by default"),
             _p("date", desc="YYYY-MM-DD (default today)", format="date")],
            tags=HISTORY, schema={"type": "object", "required": ["date", "plans"]}, errors={})},
        "/api/citizen/changes": {"get": _op(
            "What changed at a point, in words (\"Năm 2021, ô C.3-2 chuyển từ đất ở sang đất "
            "trường học (QĐ ...)\"), newest first, each with the link of its comparison",
            [*POINT_PARAMS, _p("crs", desc="CRS of x_north/y_east, EPSG:5897 by default")],
            tags=CITIZEN, schema={"type": "object", "required": ["changes"]}, errors={})},
        "/so-sanh": {"get": _page("The comparison view: two plans side by side or swiped, the "
                                  "changed zones outlined, the list of changes",
                                  [*COMPARE_PARAMS[:4], *POINT_PARAMS])},
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
    paths.update(exchange_paths())
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
