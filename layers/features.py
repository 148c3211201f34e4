"""OGC API – Features: the one items query every collection shares.

Collections are the datasets of ``layers/registry.py`` that feed the OGC API: each names its
source, the SQL expression of every property, and the properties a client may filter on. The
items SQL is assembled from these fixed fragments (never from request
text); request values are always bind parameters. A bbox becomes ``geom && envelope`` on the
storage geometry so that PostGIS uses the GiST index.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache

from sqlalchemy import Connection, TextClause, text

from layers import registry
from layers.mvt import extent_sql, service_box
from layers.registry import OGC, Dataset
from planning_gis.crs import STORAGE_SRID, WEB_MERCATOR, WGS84
from planning_gis.errors import UnknownCRS

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
#: Features an items request may skip: far beyond any collection, far below PostgreSQL's bigint
#: (an offset of 2**63 was a 500 "bigint out of range").
MAX_OFFSET = 10_000_000


def crs_uri(code: int) -> str:
    return f"http://www.opengis.net/def/crs/EPSG/0/{code}"


#: Output and bbox CRSs we serve: URI -> (EPSG code, axis order is lat/lon first?)
SUPPORTED_CRS: dict[str, tuple[int, bool]] = {
    CRS84: (WGS84, False),
    crs_uri(WGS84): (WGS84, True),
    crs_uri(WEB_MERCATOR): (WEB_MERCATOR, False),
    crs_uri(STORAGE_SRID): (STORAGE_SRID, False),
}


def parse_ogc_crs(value: str | None) -> tuple[str, int, bool]:
    """A CRS parameter as (URI, EPSG code, lat/lon-first); CRS84 when absent.

    Accepts the OGC URIs and the short ``EPSG:5897`` spelling that people type.
    """
    if value is None or value == "":
        return CRS84, WGS84, False
    v = value.strip()
    if v.upper().startswith("EPSG:") and v[5:].isdigit():
        v = crs_uri(int(v[5:]))
    elif v.upper() in ("CRS84", "OGC:CRS84"):
        v = CRS84
    if v not in SUPPORTED_CRS:
        raise UnknownCRS(
            f"unsupported CRS {value!r}: use one of {', '.join(SUPPORTED_CRS)}",
            message_vi=f"Hệ tọa độ không được hỗ trợ {value!r}: dùng CRS84, EPSG:4326, 3857 hoặc 5897",
        )
    code, flipped = SUPPORTED_CRS[v]
    return v, code, flipped


def get_collection(cid: str) -> Dataset:
    """A collection of the OGC API (a registry dataset), or a 404 naming those there are."""
    return registry.get(cid, OGC)


@dataclass(frozen=True)
class ItemsQuery:
    """A validated items request."""

    limit: int
    offset: int = 0
    #: Keyset paging: only features whose id is above this one (the ``next`` links use it, so a
    #: deep page costs what the first does; ``offset`` is kept for clients that build URLs).
    after: int | None = None
    bbox: tuple[float, float, float, float] | None = None  # x/y order in the bbox CRS
    bbox_srid: int = WGS84
    out_srid: int = WGS84
    out_flip: bool = False  # EPSG:4326 output is lat/lon
    filters: tuple[tuple[str, object], ...] = ()
    fid: int | None = None

    @property
    def digits(self) -> int:
        return 7 if self.out_srid == WGS84 else 3


def _geometry_sql(c: Dataset, flip: bool) -> str:
    g = f"ST_Transform({c.geom_sql}, :out_srid)"
    if flip:
        g = f"ST_FlipCoordinates({g})"
    return f"ST_AsGeoJSON({g}, :digits)::json"


def items_sql(c: Dataset, filters: tuple[str, ...], has_bbox: bool, flip: bool,
              single: bool, keyset: bool = False) -> TextClause:
    """The items statement for one combination of filters; built once and cached.

    The page is read in id order from the id index (``t.id > :after`` when paging by keyset),
    one row beyond the page to know whether there is a next one. ``matched`` counts at most
    ``:count_cap`` rows: past that the count would cost more than the page, and it is left out
    (OGC API – Features makes ``numberMatched`` optional, but exact when given).
    """
    key = (filters, has_bbox, flip, single, keyset)
    cached = c.sql_cache.get(key)
    if cached is not None:
        return cached
    cond = [f"({c.where})"]
    if single:
        cond.append("t.id = :fid")
    if has_bbox:
        cond.append(
            f"{c.geom_sql} && ST_Transform(ST_MakeEnvelope(:bxmin, :bymin, :bxmax, :bymax,"
            f" :bbox_srid), {STORAGE_SRID})"
        )
    for i, name in enumerate(filters):
        cond.append(f"{c.fields[name].sql} = :f{i}")
    where = " AND ".join(cond)
    page_where = where + (" AND t.id > :after" if keyset else "")
    props = ", ".join(f"'{k}', {p.sql}" for k, p in c.fields_for(OGC).items())
    feature = (
        f"json_build_object('type', 'Feature', 'id', t.id, 'geometry', {_geometry_sql(c, flip)},"
        f" 'properties', json_build_object({props}))::text"
    )
    sql = text(
        f"WITH rows AS MATERIALIZED (SELECT t.id AS fid FROM {c.source} WHERE {page_where}"
        f" ORDER BY t.id LIMIT :limit + 1 OFFSET :offset),"
        f" page AS (SELECT t.id AS fid, {feature} AS feature FROM {c.source}"
        f" WHERE t.id IN (SELECT fid FROM rows ORDER BY fid LIMIT :limit))"
        f" SELECT (SELECT count(*) FROM (SELECT 1 FROM {c.source} WHERE {where}"
        f" LIMIT :count_cap) AS m) AS matched,"
        f" (SELECT count(*) FROM page) AS returned,"
        f" (SELECT count(*) FROM rows) > :limit AS more,"
        f" (SELECT max(fid) FROM page) AS last_id,"
        f" (SELECT coalesce(string_agg(feature, ',' ORDER BY fid), '') FROM page) AS features"
    )
    c.sql_cache[key] = sql
    return sql


@lru_cache(maxsize=8)
def _service_box(srid: int) -> tuple[float, float, float, float]:
    return service_box(srid)


def clamp_bbox(bbox: tuple[float, float, float, float], srid: int):
    """The bbox cut to Hanoi's extent, or None when it lies wholly outside."""
    hx0, hy0, hx1, hy1 = _service_box(srid)
    a, b = max(bbox[0], hx0), max(bbox[1], hy0)
    c, d = min(bbox[2], hx1), min(bbox[3], hy1)
    if a > c or b > d:
        return None
    return a, b, c, d


@dataclass
class ItemsResult:
    matched: int | None  # None: more than the count cap, not counted
    returned: int
    features_json: str  # the features, already JSON, comma-separated
    more: bool = False  # another page follows
    last_id: int | None = None  # the keyset of the next page


def fetch_items(conn: Connection, c: Dataset, q: ItemsQuery,
                count_cap: int = 10_000) -> ItemsResult:
    """Run the collection's items statement for a validated query."""
    params: dict[str, object] = {
        "limit": q.limit, "offset": q.offset, "out_srid": q.out_srid, "digits": q.digits,
        "count_cap": count_cap + 1,
    }
    if q.after is not None:
        params["after"] = q.after
    bbox = None
    if q.bbox is not None:
        bbox = clamp_bbox(q.bbox, q.bbox_srid)
        if bbox is None:
            return ItemsResult(0, 0, "")
        params.update(bxmin=bbox[0], bymin=bbox[1], bxmax=bbox[2], bymax=bbox[3],
                      bbox_srid=q.bbox_srid)
    names = tuple(name for name, _ in q.filters)
    for i, (_, value) in enumerate(q.filters):
        params[f"f{i}"] = value
    if q.fid is not None:
        params["fid"] = q.fid
    sql = items_sql(c, names, bbox is not None, q.out_flip, q.fid is not None,
                    q.after is not None)
    row = conn.execute(sql, params).one()
    matched = int(row.matched)
    return ItemsResult(None if matched > count_cap else matched, int(row.returned), row.features,
                       bool(row.more), row.last_id)


def collection_extent(conn: Connection, c: Dataset) -> list[float] | None:
    row = conn.execute(extent_sql(c)).one()
    if row[0] is None:
        return None
    return [round(float(v), 7) for v in row]


def queryables_schema(c: Dataset, base: str) -> dict:
    """JSON Schema of the filterable properties (OGC API – Features Part 3 shape)."""
    props = {}
    for name, p in c.queryables.items():
        props[name] = {"type": p.type, "title": name, "description": f"{p.title_vi} – {p.title}"}
    return {
        "$schema": "https://json-schema.org/draft/2019-09/schema",
        "$id": f"{base}/collections/{c.id}/queryables",
        "type": "object",
        "title": c.title,
        "properties": props,
    }


def dumps(doc: object) -> str:
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":"))
