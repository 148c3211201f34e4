"""OGC API – Features at ``/ogc``: landing page, conformance, collections, items, one item.

Shapes follow OGC API – Features Part 1 (core, GeoJSON, OpenAPI 3.0) and Part 2 (CRS by
reference), as pygeoapi serves them, so that GDAL's OAPIF driver and QGIS read it unaided.
"""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlencode

from flask import Blueprint, Response, current_app, request

from layers import registry
from layers.features import (
    CRS84,
    MAX_OFFSET,
    SUPPORTED_CRS,
    ItemsQuery,
    collection_extent,
    crs_uri,
    dumps,
    fetch_items,
    get_collection,
    parse_ogc_crs,
    queryables_schema,
)
from planning_gis.crs import STORAGE_SRID
from planning_gis.errors import InvalidInput, NotFound
from planning_gis.web import db, params

bp = Blueprint("ogc", __name__, url_prefix="/ogc")

CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
]
GEOJSON = "application/geo+json"
ITEMS_PARAMS = {"f", "limit", "offset", "after", "bbox", "bbox-crs", "crs", "datetime"}


def _base() -> str:
    return request.url_root.rstrip("/") + "/ogc"


def _json(doc: object, mimetype: str = "application/json") -> Response:
    resp = Response(dumps(doc), mimetype=mimetype)
    resp.headers["Cache-Control"] = current_app.config["SETTINGS"].api_cache_control
    return resp


def _check_f() -> None:
    f = request.args.get("f")
    if f not in (None, "json", "geojson", "application/json", GEOJSON):
        raise InvalidInput(f"unsupported format f={f!r}: this API speaks JSON (f=json)",
                           message_vi="Định dạng không hỗ trợ: chỉ có JSON (f=json)")


@bp.get("", strict_slashes=False)
def landing() -> Response:
    _check_f()
    root = request.url_root.rstrip("/")
    return _json({
        "title": "Bản đồ quy hoạch Hà Nội – Hanoi planning map (OGC API – Features)",
        "description": "Plans, land-use zones, red lines, administrative units and map sheets",
        "links": [
            {"rel": "self", "type": "application/json", "href": _base()},
            {"rel": "service-desc", "type": "application/vnd.oai.openapi+json;version=3.0",
             "href": f"{root}/api/openapi.json", "title": "OpenAPI document"},
            {"rel": "service-doc", "type": "text/html", "href": f"{root}/api/docs",
             "title": "API documentation"},
            {"rel": "conformance", "type": "application/json", "href": f"{_base()}/conformance"},
            {"rel": "data", "type": "application/json", "href": f"{_base()}/collections"},
        ],
    })


@bp.get("/conformance")
def conformance() -> Response:
    _check_f()
    return _json({"conformsTo": CONFORMANCE})


def _collection_doc(cid: str) -> dict:
    c = get_collection(cid)
    base = _base()
    extent = collection_extent(db.get_conn(), c)
    doc = {
        "id": c.id,
        "title": f"{c.title_vi} – {c.title}",
        "description": c.description,
        "itemType": "feature",
        "crs": [CRS84] + [u for u in SUPPORTED_CRS if u != CRS84],
        "storageCrs": crs_uri(STORAGE_SRID),
        "links": [
            {"rel": "self", "type": "application/json", "href": f"{base}/collections/{c.id}"},
            {"rel": "items", "type": GEOJSON, "href": f"{base}/collections/{c.id}/items"},
            {"rel": "http://www.opengis.net/def/rel/ogc/1.0/queryables",
             "type": "application/schema+json", "href": f"{base}/collections/{c.id}/queryables"},
        ],
    }
    if extent is not None:
        doc["extent"] = {"spatial": {"bbox": [extent], "crs": CRS84}}
    return doc


@bp.get("/collections")
def collections() -> Response:
    _check_f()
    return _json({
        "links": [{"rel": "self", "type": "application/json", "href": f"{_base()}/collections"}],
        "crs": list(SUPPORTED_CRS),
        "collections": [_collection_doc(cid) for cid in registry.ids(registry.OGC)],
    })


@bp.get("/collections/<cid>")
def collection(cid: str) -> Response:
    _check_f()
    return _json(_collection_doc(cid))


@bp.get("/collections/<cid>/queryables")
def queryables(cid: str) -> Response:
    return _json(queryables_schema(get_collection(cid), _base()), "application/schema+json")


def _items_query(cid: str, fid: int | None = None) -> tuple[ItemsQuery, str]:
    _check_f()
    c = get_collection(cid)
    settings = current_app.config["SETTINGS"]
    params.check_known(request.args, ITEMS_PARAMS | set(c.queryables),
                       f"; filterable properties of {cid}: {', '.join(c.queryables)}")
    limit = min(params.int_arg(request.args, "limit", settings.ogc_default_limit, 1),
                settings.ogc_max_limit)
    offset = params.int_arg(request.args, "offset", 0, 0, MAX_OFFSET)
    after = params.int_arg(request.args, "after", None, 0, 2**63 - 1)
    out_uri, out_srid, out_flip = parse_ogc_crs(request.args.get("crs"))
    bbox, bbox_srid = None, 4326
    if "bbox" in request.args:
        _, bbox_srid, bbox_flip = parse_ogc_crs(request.args.get("bbox-crs"))
        bbox = params.bbox(request.args["bbox"], bbox_flip)
    elif "bbox-crs" in request.args:
        raise InvalidInput("bbox-crs given without bbox", message_vi="Thiếu bbox")
    filters = tuple(
        (name, params.typed(c.queryables[name].type, name, request.args[name]))
        for name in c.queryables if name in request.args
    )
    q = ItemsQuery(limit=limit if fid is None else 1, offset=offset if fid is None else 0,
                   bbox=bbox, bbox_srid=bbox_srid, out_srid=out_srid, out_flip=out_flip,
                   filters=filters, fid=fid, after=after if fid is None else None)
    return q, out_uri


def _page_link(rel: str, limit: int, *, offset: int | None = None,
               after: int | None = None) -> dict:
    """A link to another page with the request's other parameters: ``next`` pages by keyset
    (``after`` = the last id shown), so following it costs the same however deep it goes."""
    args = request.args.to_dict()
    args.pop("offset", None)
    args.pop("after", None)
    if after is not None:
        args["after"] = str(after)
    if offset:
        args["offset"] = str(offset)
    args["limit"] = str(limit)
    return {"rel": rel, "type": GEOJSON,
            "href": f"{request.base_url}?{urlencode(args)}"}


@bp.get("/collections/<cid>/items")
def items(cid: str) -> Response:
    """A page of features: bbox, bbox-crs, crs, limit/offset, property filters."""
    q, out_uri = _items_query(cid)
    settings = current_app.config["SETTINGS"]
    result = fetch_items(db.get_conn(), get_collection(cid), q, settings.ogc_count_cap)
    links = [
        {"rel": "self", "type": GEOJSON, "href": request.url},
        {"rel": "collection", "type": "application/json",
         "href": f"{_base()}/collections/{cid}"},
    ]
    if result.more and result.last_id is not None:
        links.append(_page_link("next", q.limit, after=result.last_id))
    if q.offset > 0 and q.after is None:
        links.append(_page_link("prev", q.limit, offset=max(q.offset - q.limit, 0)))
    head: dict = {"type": "FeatureCollection"}
    if result.matched is not None:  # left out past the count cap (optional in OGC API)
        head["numberMatched"] = result.matched
    head.update({
        "numberReturned": result.returned,
        "timeStamp": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "links": links,
    })
    body = dumps(head)[:-1] + ',"features":[' + result.features_json + "]}"
    resp = Response(body, mimetype=GEOJSON)
    resp.headers["Content-Crs"] = f"<{out_uri}>"
    resp.headers["Cache-Control"] = current_app.config["SETTINGS"].api_cache_control
    return resp


@bp.get("/collections/<cid>/items/<fid>")
def item(cid: str, fid: str) -> Response:
    q, out_uri = _items_query(cid, params.id_arg(fid, f"feature in {cid}"))
    result = fetch_items(db.get_conn(), get_collection(cid), q)
    if not result.returned:
        raise NotFound(f"no feature {fid} in collection {cid}",
                       message_vi=f"Không có đối tượng {fid} trong tập {cid}")
    links = [
        {"rel": "self", "type": GEOJSON, "href": request.base_url},
        {"rel": "collection", "type": "application/json",
         "href": f"{_base()}/collections/{cid}"},
    ]
    body = result.features_json[:-1] + ',"links":' + dumps(links) + "}"
    resp = Response(body, mimetype=GEOJSON)
    resp.headers["Content-Crs"] = f"<{out_uri}>"
    resp.headers["Cache-Control"] = current_app.config["SETTINGS"].api_cache_control
    return resp
