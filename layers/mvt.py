"""Mapbox vector tiles from PostGIS: one parameterised ``ST_AsMVT`` query per layer.

Layers are data (:data:`LAYERS`); each SQL statement is built once at import from that data, never
from request input. The tile's envelope comes from the morecantile grid; the search box is the
same envelope widened by the MVT buffer and transformed to the storage CRS, so the ``&&`` test is
an index condition on the table's GiST index. Geometry is simplified to about one MVT grid cell
at the tile's zoom before it is reprojected, then clipped and quantised by ``ST_AsMVTGeom``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

from morecantile import Tile, TileMatrixSet
from sqlalchemy import Connection, TextClause, text

from planning_gis.crs import HANOI_BOUNDS_LONLAT, STORAGE_SRID, WGS84, transformer
from planning_gis.errors import NotFound
from planning_gis.settings import Settings
from tiles.grid import tile_bounds, tms_srid


@dataclass(frozen=True)
class MvtLayer:
    """One vector-tile layer: where its rows come from and which properties it carries."""

    name: str
    title: str
    title_vi: str
    from_sql: str  # FROM clause; the main table is aliased ``t``
    properties: dict[str, str]  # property name -> SQL expression
    fields: dict[str, str]  # property name -> TileJSON type ("String", "Number", "Boolean")
    geometry_type: str
    where: str = "TRUE"
    minzoom: int = 0
    maxzoom: int = 22
    description: str = ""
    order_by: str = "t.id"
    sql: TextClause = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "sql", text(_tile_sql(self)))


def _tile_sql(layer: MvtLayer) -> str:
    props = ", ".join(f"{expr} AS {name}" for name, expr in layer.properties.items())
    return f"""
SELECT ST_AsMVT(mvt.*, '{layer.name}', :extent, 'geom', 'id') FROM (
  SELECT t.id, {props},
    ST_AsMVTGeom(
      ST_Transform(ST_Simplify(t.geom, :tolerance, true), :srid),
      ST_MakeEnvelope(:xmin, :ymin, :xmax, :ymax, :srid), :extent, :buffer, true) AS geom
  FROM {layer.from_sql}
  WHERE t.geom && ST_Transform(ST_MakeEnvelope(:sxmin, :symin, :sxmax, :symax, :srid), {STORAGE_SRID})
    AND ({layer.where})
  ORDER BY {layer.order_by}
) AS mvt WHERE mvt.geom IS NOT NULL
"""


_ZONE_PROPS = {
    "label": "t.label",
    "function_code": "t.function_code",
    "name_vi": "l.name_vi",
    "name_en": "l.name_en",
    "color": "l.color",
    "plan_id": "t.plan_id",
    "plan_kind": "p.kind",
    "plan_status": "p.status",
    "area_m2": "round(t.area_m2::numeric, 1)::float8",
    "coverage_pct": "t.coverage_pct",
    "floors_min": "t.floors_min",
    "floors_max": "t.floors_max",
    "far": "t.far",
    "population": "t.population",
}

LAYERS: dict[str, MvtLayer] = {
    layer.name: layer
    for layer in (
        MvtLayer(
            name="zones",
            title="Land-use zones",
            title_vi="Ô quy hoạch",
            from_sql="land_use_zones t JOIN land_use_legend l ON l.code = t.function_code"
            " JOIN plans p ON p.id = t.plan_id",
            properties=_ZONE_PROPS,
            fields={
                k: ("Number" if k in {"plan_id", "area_m2", "coverage_pct", "floors_min",
                                      "floors_max", "far", "population"} else "String")
                for k in _ZONE_PROPS
            },
            geometry_type="polygon",
            minzoom=10,
            description="Zones with their function, indicators, plan and legend colour",
        ),
        MvtLayer(
            name="redlines",
            title="Red boundary lines",
            title_vi="Chỉ giới đường đỏ",
            from_sql="red_lines t JOIN plans p ON p.id = t.plan_id",
            properties={"plan_id": "t.plan_id", "road_name": "t.road_name",
                        "width_m": "t.width_m", "plan_status": "p.status"},
            fields={"plan_id": "Number", "road_name": "String", "width_m": "Number",
                    "plan_status": "String"},
            geometry_type="line",
            minzoom=10,
        ),
        MvtLayer(
            name="plans",
            title="Plan outlines",
            title_vi="Ranh giới đồ án quy hoạch",
            from_sql="plans t",
            properties={"name": "t.name", "kind": "t.kind", "status": "t.status",
                        "scale_denominator": "t.scale_denominator",
                        "decision_number": "t.decision_number",
                        "decision_date": "t.decision_date::text"},
            fields={"name": "String", "kind": "String", "status": "String",
                    "scale_denominator": "Number", "decision_number": "String",
                    "decision_date": "String"},
            geometry_type="polygon",
            where="t.geom IS NOT NULL",
            order_by="t.scale_denominator DESC NULLS FIRST, t.id",
        ),
        MvtLayer(
            name="units",
            title="Administrative units (current)",
            title_vi="Đơn vị hành chính (hiện hành)",
            from_sql="admin_units t",
            properties={"name": "t.name", "level": "t.level", "code": "t.code",
                        "valid_from": "t.valid_from::text"},
            fields={"name": "String", "level": "String", "code": "String",
                    "valid_from": "String"},
            geometry_type="polygon",
            where="t.geom IS NOT NULL AND (t.valid_to IS NULL OR t.valid_to >= CURRENT_DATE)",
        ),
    )
}


def get_layer(name: str) -> MvtLayer:
    try:
        return LAYERS[name]
    except KeyError as exc:
        raise NotFound(
            f"unknown vector layer {name!r}: use one of {', '.join(LAYERS)}",
            message_vi=f"Không có lớp dữ liệu {name!r}",
        ) from exc


@lru_cache(maxsize=8)
def service_box(srid: int) -> tuple[float, float, float, float]:
    """Hanoi's extent in the grid's CRS: tiles outside it are empty without asking PostGIS.

    It also keeps the transformed search box inside the area where the storage projection is
    valid (a world-sized envelope would not survive a transform to TM-3).
    """
    return transformer(WGS84, srid).transform_bounds(*HANOI_BOUNDS_LONLAT, densify_pts=21)


def tile_params(
    layer: MvtLayer, tms: TileMatrixSet, tile: Tile, settings: Settings
) -> dict[str, float | int] | None:
    """The bind parameters of a layer's SQL for one tile, or None when nothing can be there."""
    if not layer.minzoom <= tile.z <= layer.maxzoom:
        return None
    xmin, ymin, xmax, ymax = tile_bounds(tms, tile)
    pad = (xmax - xmin) * settings.mvt_buffer / settings.mvt_extent
    hx0, hy0, hx1, hy1 = service_box(tms_srid(tms))
    sx0, sy0 = max(xmin - pad, hx0), max(ymin - pad, hy0)
    sx1, sy1 = min(xmax + pad, hx1), min(ymax + pad, hy1)
    if sx0 >= sx1 or sy0 >= sy1:
        return None
    return {
        "xmin": xmin, "ymin": ymin, "xmax": xmax, "ymax": ymax,
        "sxmin": sx0, "symin": sy0, "sxmax": sx1, "symax": sy1,
        "srid": tms_srid(tms),
        "extent": settings.mvt_extent,
        "buffer": settings.mvt_buffer,
        # one MVT grid cell in metres (grid units are close to metres in Hanoi's projections)
        "tolerance": (xmax - xmin) / settings.mvt_extent,
    }


def render_tile(
    conn: Connection, layer: MvtLayer, tms: TileMatrixSet, tile: Tile, settings: Settings
) -> bytes:
    """The MVT bytes of one layer for one tile (b'' when the tile is empty)."""
    params = tile_params(layer, tms, tile, settings)
    if params is None:
        return b""
    data = conn.execute(layer.sql, params).scalar_one()
    return bytes(data or b"")


EXTENT_SQL = {
    name: text(
        "SELECT ST_XMin(b), ST_YMin(b), ST_XMax(b), ST_YMax(b) FROM (SELECT ST_Transform("
        f"ST_SetSRID(ST_Extent(t.geom)::geometry, {STORAGE_SRID}), 4326) AS b"
        f" FROM {layer.from_sql} WHERE {layer.where}) AS e"
    )
    for name, layer in LAYERS.items()
}


def layer_bounds(conn: Connection, layer: MvtLayer) -> list[float]:
    """The layer's extent in lon/lat (Hanoi's box when the layer is empty)."""
    row = conn.execute(EXTENT_SQL[layer.name]).one()
    if row[0] is None:
        return list(HANOI_BOUNDS_LONLAT)
    return [round(float(v), 6) for v in row]
